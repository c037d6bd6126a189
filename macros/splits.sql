{#- Repeatable splitting (Machine Learning Design Patterns): a row's split is a pure function of a key,
    ABS(MOD(FARM_FINGERPRINT(CAST(key AS VARCHAR)), N)), identical on every run, machine and version, and on
    BigQuery for the same SQL. Hash a column that groups correlated rows (e.g. the flight date), never a
    feature, with many distinct values (at least 10, better 3-5x the number of buckets). -#}

{#- The SQL text hashed for `key`: one column, or several joined with '|' (NULL if any is NULL). -#}
{% macro hash_key_text(key) -%}
{%- if key is not string and (key is not iterable or key is mapping) -%}
    {{ raise_error("the hash key must be a column, an expression, or a list of them, as text, e.g. 'flight_date'; not " ~ key) }}
{%- elif key is string -%}CAST({{ key }} AS VARCHAR)
{%- elif key | length > 0 -%}
    {%- for column in key -%}CAST({{ column }} AS VARCHAR){{ " || '|' || " if not loop.last }}{%- endfor -%}
{%- else -%}{{ raise_error("the hash key must be a column, an expression, or a non-empty list of them") }}
{%- endif -%}
{%- endmacro %}

{#- FARM_FINGERPRINT of the key, as BIGINT. -#}
{% macro hash_of(key) -%}
FARM_FINGERPRINT({{ hash_key_text(key) }})
{%- endmacro %}

{#- Whole percentages of the fractions, checked: each non-negative with at most two decimals, summing to 1. -#}
{% macro _split_percentages(fractions) -%}
{%- set percentages = [] -%}
{%- for name, fraction in fractions -%}
    {%- if fraction is not number or fraction < 0 -%}
        {{ raise_error(name ~ "=" ~ fraction ~ ": split fractions must be numbers from 0 to 1") }}
    {%- endif -%}
    {%- set percent = (fraction * 100) | round | int -%}
    {%- if (fraction * 100 - percent) | abs > 0.000001 -%}
        {{ raise_error(name ~ "=" ~ fraction ~ ": split fractions have at most two decimals (whole percentages)") }}
    {%- endif -%}
    {%- do percentages.append(percent) -%}
{%- endfor -%}
{%- if percentages | sum != 100 -%}
    {{ raise_error("split fractions must sum to 1, but " ~ fractions | map('join', '=') | join(' + ') ~ " = " ~ (percentages | sum / 100)) }}
{%- endif -%}
{{- percentages | join(',') -}}
{%- endmacro %}

{#- The fewest buckets (a divisor of 100) in which every percentage is a whole number of buckets. -#}
{% macro _bucket_count(percentages) -%}
{%- set ns = namespace(found=none, fits=true) -%}
{%- for buckets in [1, 2, 4, 5, 10, 20, 25, 50, 100] if ns.found is none -%}
    {%- set ns.fits = true -%}
    {%- for percent in percentages if (percent * buckets) % 100 != 0 -%}{%- set ns.fits = false -%}{%- endfor -%}
    {%- if ns.fits -%}{%- set ns.found = buckets -%}{%- endif -%}
{%- endfor -%}
{{- ns.found -}}
{%- endmacro %}

{#- 'train' / 'eval' / 'test' for each row, by hashing `key` (a column, an expression or a list of them) into
    N buckets, N the fewest that express the fractions (0.8/0.1/0.1 → 10 buckets: 0-7 train, 8 eval, 9 test,
    exactly the book's query). Rows whose key is NULL go to `null_split` ('train' by default: they never leak
    into evaluation; give any other name, e.g. 'unassigned', to keep them apart). -#}
{% macro hash_split(key, train=0.8, eval=0.1, test=0.1, null_split='train') -%}
{%- set percentages = _split_percentages([('train', train), ('eval', eval), ('test', test)]).split(',') | map('int') | list -%}
{%- set buckets = _bucket_count(percentages) | int -%}
{%- set train_end = percentages[0] * buckets // 100 -%}
{%- set eval_end = train_end + percentages[1] * buckets // 100 -%}
{%- do _record_split(key, buckets, null_split) -%}
CASE
    WHEN {{ hash_of(key) }} IS NULL THEN {{ null_split | literal }}
    WHEN ABS(MOD({{ hash_of(key) }}, {{ buckets }})) < {{ train_end }} THEN 'train'
    WHEN ABS(MOD({{ hash_of(key) }}, {{ buckets }})) < {{ eval_end }} THEN 'eval'
    ELSE 'test'
END
{%- endmacro %}

{#- TRUE for a repeatable `fraction` of the keys (two decimals at most), FALSE for the others and for NULL keys:
    WHERE {{ hash_sample('flight_date', 0.25) }}. -#}
{% macro hash_sample(key, fraction) -%}
{%- set percent = _split_percentages([('fraction', fraction), ('rest', 1 - fraction)]).split(',')[0] | int -%}
{%- set buckets = _bucket_count([percent]) | int -%}
COALESCE(ABS(MOD({{ hash_of(key) }}, {{ buckets }})) < {{ percent * buckets // 100 }}, FALSE)
{%- endmacro %}

{#- The book's two-level sampling: keep one key in `sample_one_in` (MOD(h, S) = 0), then split those rows by
    ABS(MOD(h, S * N)) — never a second MOD on the first's result. 'train' / 'eval' / 'test' for sampled rows,
    NULL for the others (filter with IS NOT NULL). 70 and 0.8/0.1/0.1 give the book's
    MOD(h, 70) = 0 AND ABS(MOD(h, 700)) < 560 for training. -#}
{% macro hash_sample_split(key, sample_one_in, train=0.8, eval=0.1, test=0.1) -%}
{%- if sample_one_in is not number or sample_one_in < 1 or sample_one_in != sample_one_in | int -%}
    {{ raise_error("sample_one_in=" ~ sample_one_in ~ ": give a whole number of at least 1, e.g. 70") }}
{%- endif -%}
{%- set percentages = _split_percentages([('train', train), ('eval', eval), ('test', test)]).split(',') | map('int') | list -%}
{%- set buckets = _bucket_count(percentages) | int -%}
{%- set modulus = sample_one_in * buckets -%}
{%- set train_end = percentages[0] * buckets // 100 * sample_one_in -%}
{%- set eval_end = train_end + percentages[1] * buckets // 100 * sample_one_in -%}
CASE
    WHEN MOD({{ hash_of(key) }}, {{ sample_one_in }}) <> 0 OR {{ hash_of(key) }} IS NULL THEN NULL
    WHEN ABS(MOD({{ hash_of(key) }}, {{ modulus }})) < {{ train_end }} THEN 'train'
    WHEN ABS(MOD({{ hash_of(key) }}, {{ modulus }})) < {{ eval_end }} THEN 'eval'
    ELSE 'test'
END
{%- endmacro %}
