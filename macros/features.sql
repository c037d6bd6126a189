{#- Feature engineering (Machine Learning Design Patterns, Lakshmanan, Robinson & Munn): each macro renders a
    DuckDB SQL expression for an ordinary SELECT model, or a select list of several columns (one_hot, cyclical).
    Column arguments are columns or SQL expressions, inserted as written ('f.dep_ts', 'hour(dep_ts)'); every
    other argument is checked before anything renders, and a bad one stops the build with a message that names
    the macro and the model file. Reference and examples: docs/macros.md. -#}

{#- ------------------------------------------------------------------------------------ argument checks -#}

{#- Jinja's own "parameter 'x' was not provided" error (reported as a missing argument of the calling macro). -#}
{% macro _given(value) -%}
{%- if value is undefined -%}{{ value }}{%- endif -%}
{%- endmacro %}

{#- A value as it appears in messages: strings quoted. -#}
{% macro _shown(value) -%}
{%- if value is string -%}'{{ value }}'{%- else -%}{{ value }}{%- endif -%}
{%- endmacro %}

{#- `value` is a column or SQL expression: a non-blank string. -#}
{% macro _check_expression(argument, value) -%}
{%- do _given(value) -%}
{%- if value is not string or value | trim == '' -%}
    {{ raise_error(argument ~ "=" ~ _shown(value) ~ ": give a column or a SQL expression as a string, e.g. "
                   ~ argument ~ "='dep_ts'") }}
{%- endif -%}
{%- endmacro %}

{#- `value` is a column, or a list of at least `at_least` columns (`allow_none`: none or [] too). -#}
{% macro _check_columns(argument, value, at_least=1, allow_none=false) -%}
{%- do _given(value) -%}
{%- if allow_none and (value is none or (value is sequence and value is not string and value | length == 0)) -%}
{%- elif value is string and at_least <= 1 -%}
    {%- do _check_expression(argument, value) -%}
{%- elif value is string or value is mapping or value is not sequence or value | length < at_least -%}
    {{ raise_error(argument ~ "=" ~ _shown(value) ~ ": give "
                   ~ ("a column or a list of columns, e.g. " ~ argument ~ "=['carrier', 'origin']" if at_least <= 1
                      else "a list of at least " ~ at_least ~ " columns, e.g. " ~ argument ~ "=['carrier', 'origin']")
                   ~ (" (or none)" if allow_none else "")) }}
{%- else -%}
    {%- for column in value -%}{%- do _check_expression(argument, column) -%}{%- endfor -%}
{%- endif -%}
{%- endmacro %}

{#- `value` is a whole number (not a boolean) of at least `minimum`. -#}
{% macro _check_integer(argument, value, minimum, example) -%}
{%- do _given(value) -%}
{%- if value is not integer or value is boolean or value < minimum -%}
    {{ raise_error(argument ~ "=" ~ _shown(value) ~ ": give a whole number of at least " ~ minimum ~ ", e.g. "
                   ~ argument ~ "=" ~ example) }}
{%- endif -%}
{%- endmacro %}

{#- `value` is a finite number (not a boolean). -#}
{% macro _check_number(argument, value, what='a number') -%}
{%- do _given(value) -%}
{%- if value is not number or value is boolean or (value | string | lower) in ['inf', '-inf', 'nan'] -%}
    {{ raise_error(argument ~ "=" ~ _shown(value) ~ ": give " ~ what) }}
{%- endif -%}
{%- endmacro %}

{#- `value` is true or false. -#}
{% macro _check_boolean(argument, value) -%}
{%- do _given(value) -%}
{%- if value is not boolean -%}
    {{ raise_error(argument ~ "=" ~ _shown(value) ~ ": give true or false") }}
{%- endif -%}
{%- endmacro %}

{#- The columns as a comma-separated list: one column, or a list of them. -#}
{% macro _listed(columns) -%}
{%- if columns is string -%}{{ columns }}{%- else -%}{{ columns | join(', ') }}{%- endif -%}
{%- endmacro %}

{#- `text` with every character that is not an ASCII letter, digit or underscore replaced by '_'. -#}
{% macro _safe_name(text) -%}
{%- for character in text | string -%}
    {{- character if character in 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_' else '_' -}}
{%- endfor -%}
{%- endmacro %}

{#- The name output columns start with: `given` when given (checked), else the column's own name when it is a plain
    (possibly qualified) column name ('f.hour' → 'hour'); an expression needs an explicit name. -#}
{% macro _output_name(argument, given, column) -%}
{%- if given is not none -%}
    {%- if given is not string or given | trim == '' -%}
        {{ raise_error(argument ~ "=" ~ _shown(given) ~ ": give the output columns' name as a string") }}
    {%- endif -%}
    {{- given -}}
{%- else -%}
    {%- set name = column.split('.') | last -%}
    {%- if _safe_name(column | replace('.', '_')) != column | replace('.', '_') or name == '' or name[0] in '0123456789' -%}
        {{ raise_error("the column " ~ _shown(column) ~ " is an expression, not a column name: give " ~ argument
                       ~ "='…' to name the output columns") }}
    {%- endif -%}
    {{- name -}}
{%- endif -%}
{%- endmacro %}

{#- An ORDER BY of a past-only window ascends in time: a DESC key would make the "past" the future. -#}
{% macro _check_ascending(order_by) -%}
{%- for item in ([order_by] if order_by is string else order_by) -%}
    {%- if ' DESC ' in ' ' ~ (item | upper | replace('\n', ' ') | replace('\t', ' ')) ~ ' ' -%}
        {{ raise_error("order_by=" ~ _shown(item) ~ ": order by time ascending (no DESC), so that the window looks at the past") }}
    {%- endif -%}
{%- endfor -%}
{%- endmacro %}

{#- PARTITION BY … ORDER BY … of the per-key windows (no PARTITION BY for partition_by=none or []). -#}
{% macro _window(partition_by, order_by) -%}
{%- do _check_columns('partition_by', partition_by, allow_none=true) -%}
{%- do _check_columns('order_by', order_by) -%}
{%- do _check_ascending(order_by) -%}
{%- if partition_by is not none and _listed(partition_by) != '' -%}PARTITION BY {{ _listed(partition_by) }} {% endif -%}
ORDER BY {{ _listed(order_by) }}
{%- endmacro %}

{#- ------------------------------------------------------------------------------------- date and time -#}

{#- The ISO day of the week of a DATE or TIMESTAMP: 1 = Monday … 7 = Sunday (BigQuery's EXTRACT(DAYOFWEEK …)
    counts 1 = Sunday instead). BIGINT (BigQuery's INT64, in both dialects); NULL stays NULL. -#}
{% macro day_of_week(ts) -%}
{%- do _check_expression('ts', ts) -%}
CAST(isodow({{ ts }}) AS BIGINT)
{%- endmacro %}

{#- The hour of a TIMESTAMP, 0 … 23 (0 for a DATE). BIGINT (BigQuery's INT64); NULL stays NULL. -#}
{% macro hour_of_day(ts) -%}
{%- do _check_expression('ts', ts) -%}
CAST(hour({{ ts }}) AS BIGINT)
{%- endmacro %}

{#- TRUE on Saturdays and Sundays, FALSE on other days; NULL stays NULL. -#}
{% macro is_weekend(ts) -%}
{%- do _check_expression('ts', ts) -%}
(isodow({{ ts }}) >= 6)
{%- endmacro %}

{#- ------------------------------------------------------------------------------------------ buckets -#}

{#- The bucket of x among strictly increasing numeric boundaries [b1, …, bn]: 0 below b1, i for
    b(i) <= x < b(i+1), n from bn up; NULL stays NULL. INTEGER. -#}
{% macro bucketize(x, boundaries) -%}
{%- do _check_expression('x', x) -%}
{%- do _given(boundaries) -%}
{%- if boundaries is string or boundaries is mapping or boundaries is not sequence or boundaries | length == 0 -%}
    {{ raise_error("boundaries=" ~ _shown(boundaries) ~ ": give a non-empty list of increasing numbers, e.g. boundaries=[0, 10, 100]") }}
{%- endif -%}
{%- set ns = namespace(previous=none) -%}
{%- for boundary in boundaries -%}
    {%- do _check_number('boundaries', boundary, 'numbers only, e.g. boundaries=[0, 10, 100]') -%}
    {%- if ns.previous is not none and boundary <= ns.previous -%}
        {{ raise_error("boundaries=" ~ _shown(boundaries) ~ ": boundaries must be sorted and distinct, but "
                       ~ boundary ~ (" repeats" if boundary == ns.previous else " comes after " ~ ns.previous)) }}
    {%- endif -%}
    {%- set ns.previous = boundary -%}
{%- endfor -%}
CASE
{%- for boundary in boundaries %}
    WHEN ({{ x }}) < {{ boundary | literal }} THEN {{ loop.index0 }}
{%- endfor %}
    WHEN ({{ x }}) IS NOT NULL THEN {{ boundaries | length }}
END
{%- endmacro %}

{#- Quantile buckets 1 … n of x over all the rows the model's SELECT returns (window functions: after WHERE and
    GROUP BY): exactly ntile(n) OVER (ORDER BY x) over the non-NULL rows when the values are distinct, except that
    equal values always share one bucket (the bucket of the first of them), so the result never depends on the
    order in which DuckDB meets ties. NULL stays NULL and takes no part in the counts. BIGINT. -#}
{% macro quantile_bucketize(x, n) -%}
{%- do _check_expression('x', x) -%}
{%- do _check_integer('n', n, 1, 4) -%}
{%- set position = '(rank() OVER (ORDER BY (' ~ x ~ ') ASC NULLS LAST) - 1)' -%}
{%- set rows = 'count(' ~ x ~ ') OVER ()' -%}
{%- set per_bucket = '(' ~ rows ~ ' // ' ~ n ~ ')' -%}
{%- set larger = '(' ~ rows ~ ' % ' ~ n ~ ')' -%}
CASE
    WHEN ({{ x }}) IS NULL THEN NULL
    WHEN {{ position }} < {{ larger }} * ({{ per_bucket }} + 1) THEN {{ position }} // ({{ per_bucket }} + 1) + 1
    ELSE ({{ position }} - {{ larger }}) // NULLIF({{ per_bucket }}, 0) + 1
END
{%- endmacro %}

{#- ------------------------------------------------------------------------- hashing and feature crosses -#}

{#- The Hashed Feature pattern: ABS(MOD(FARM_FINGERPRINT(CAST(x AS VARCHAR)), buckets)), 0 … buckets - 1,
    the same on BigQuery; NULL stays NULL. BIGINT. -#}
{% macro hashed_feature(x, buckets) -%}
{%- do _check_expression('x', x) -%}
{%- do _check_integer('buckets', buckets, 1, 1000) -%}
ABS(MOD({{ hash_of(x) }}, {{ buckets }}))
{%- endmacro %}

{#- The text of a cross: the columns' values joined with '_'. -#}
{% macro _cross(columns) -%}
{%- do _check_columns('columns', columns, at_least=2) -%}
({% for column in columns %}CAST({{ column }} AS VARCHAR){{ " || '_' || " if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The Feature Cross pattern: one VARCHAR 'a_b' of the columns' values (as BigQuery ML's ML.FEATURE_CROSS names
    them); NULL when any of them is NULL. -#}
{% macro feature_cross(columns) -%}
{{ _cross(columns) }}
{%- endmacro %}

{#- A feature cross hashed into `buckets` buckets: hashed_feature(feature_cross(columns), buckets). BIGINT. -#}
{% macro feature_cross_hashed(columns, buckets) -%}
{%- set cross = _cross(columns) -%}
{%- do _check_integer('buckets', buckets, 1, 1000) -%}
ABS(MOD({{ hash_of(cross) }}, {{ buckets }}))
{%- endmacro %}

{#- ---------------------------------------------------------------------------------------- encodings -#}

{#- One 0/1 INTEGER column per value of a small explicit vocabulary (at most 100 values), named
    <prefix>_<value> (prefix: the column's name by default; characters other than ASCII letters, digits and '_'
    become '_'): a select list `CASE WHEN (column) = 'AA' THEN 1 ELSE 0 END AS "carrier_AA", …`.
    NULL and values outside the vocabulary give all zeros. -#}
{% macro one_hot(column, values, prefix=none) -%}
{%- do _check_expression('column', column) -%}
{%- set prefix = _output_name('prefix', prefix, column) -%}
{%- do _given(values) -%}
{%- if values is string or values is mapping or values is not sequence or values | length == 0 -%}
    {{ raise_error("values=" ~ _shown(values) ~ ": give the vocabulary as a non-empty list, e.g. values=['AA', 'UA']") }}
{%- endif -%}
{%- if values | length > 100 -%}
    {{ raise_error(values | length ~ " values: one_hot is for a small vocabulary of at most 100 values; "
                   ~ "use hashed_feature() for a large one") }}
{%- endif -%}
{%- set seen = {} -%}
{%- for value in values -%}
    {%- if value is none or not (value is string or value is number) -%}
        {{ raise_error("values: " ~ _shown(value) ~ " is not a value: give strings or numbers (NULL rows get all zeros)") }}
    {%- endif -%}
    {%- set name = prefix ~ '_' ~ _safe_name(value) -%}
    {%- if (name | lower) in seen -%}
        {{ raise_error("values: " ~ (_shown(value) ~ " is listed twice" if seen[name | lower][0] == value
                       else _shown(seen[name | lower][0]) ~ " and " ~ _shown(value) ~ " both make the column \""
                            ~ name ~ "\" (column names ignore case)")) }}
    {%- endif -%}
    {%- do seen.update({name | lower: [value]}) -%}
{%- endfor -%}
{%- for value in values -%}
CASE WHEN ({{ column }}) = {{ value | literal }} THEN 1 ELSE 0 END AS {{ (prefix ~ '_' ~ _safe_name(value)) | identifier }}
{{- ",\n" if not loop.last }}
{%- endfor -%}
{%- endmacro %}

{#- A cyclical feature (hour, day of week, month, angle) as a point on the circle: a select list of two DOUBLE
    columns, sin(2π·x/period) AS "<name>_sin" and cos(2π·x/period) AS "<name>_cos" (name: the column's name by
    default). NULL stays NULL. -#}
{% macro cyclical(x, period, name=none) -%}
{%- do _check_expression('x', x) -%}
{%- do _check_number('period', period, 'a positive number, e.g. period=24 for hours') -%}
{%- if period <= 0 -%}
    {{ raise_error("period=" ~ period ~ ": give a positive number, e.g. period=24 for hours") }}
{%- endif -%}
{%- set name = _output_name('name', name, x) -%}
sin(2 * pi() * ({{ x }}) / {{ period | literal }}) AS {{ (name ~ '_sin') | identifier }},
cos(2 * pi() * ({{ x }}) / {{ period | literal }}) AS {{ (name ~ '_cos') | identifier }}
{%- endmacro %}

{#- -------------------------------------------------------------------------- per-key windows (past only) -#}

{#- x of the row `offset` rows earlier in the same partition (ordered by order_by); NULL for the first rows. -#}
{% macro lag_feature(x, partition_by, order_by, offset=1) -%}
{%- do _check_expression('x', x) -%}
{%- do _check_integer('offset', offset, 1, 1) -%}
{%- set window = _window(partition_by, order_by) -%}
lag({{ x }}, {{ offset }}) OVER ({{ window }})
{%- endmacro %}

{#- An aggregate over the `preceding` rows before the current one in its partition (and the current row too
    when include_current). -#}
{% macro _rolling(function, x, partition_by, order_by, preceding, include_current) -%}
{%- do _check_integer('preceding', preceding, 1, 7) -%}
{%- do _check_boolean('include_current', include_current) -%}
{%- set window = _window(partition_by, order_by) -%}
{{ function }}({{ x }}) OVER ({{ window }} ROWS BETWEEN {{ preceding }} PRECEDING AND {{ 'CURRENT ROW' if include_current else '1 PRECEDING' }})
{%- endmacro %}

{#- The mean of x over the `preceding` rows before the current one (NULL when there are none), past only unless
    include_current=true. DOUBLE. -#}
{% macro rolling_mean(x, partition_by, order_by, preceding=7, include_current=false) -%}
{%- do _check_expression('x', x) -%}
{{ _rolling('avg', x, partition_by, order_by, preceding, include_current) }}
{%- endmacro %}

{#- How many of the `preceding` rows before the current one have a non-NULL x (x='*': how many rows there are);
    0 when there are none. BIGINT. -#}
{% macro rolling_count(x, partition_by, order_by, preceding=7, include_current=false) -%}
{%- do _check_expression('x', x) -%}
{{ _rolling('count', x, partition_by, order_by, preceding, include_current) }}
{%- endmacro %}

{#- ------------------------------------------------------------------------------------------ numbers -#}

{#- An operand: a column or expression (parenthesized), or a number. -#}
{% macro _operand(argument, value) -%}
{%- do _given(value) -%}
{%- if value is number and value is not boolean -%}
    {%- do _check_number(argument, value) -%}{{ value | literal }}
{%- else -%}
    {%- do _check_expression(argument, value) -%}({{ value }})
{%- endif -%}
{%- endmacro %}

{#- BigQuery's SAFE_DIVIDE: a / b as DOUBLE, NULL when b is 0 or NULL (DuckDB would give ±inf, NaN or an error). -#}
{% macro safe_divide(a, b) -%}
{%- set numerator = _operand('a', a) -%}
{%- set denominator = _operand('b', b) -%}
({{ numerator }} / NULLIF({{ denominator }}, 0))
{%- endmacro %}

{#- x clipped to its own `lower` and `upper` quantiles (quantile_cont over all the rows the model's SELECT
    returns); NULL stays NULL. -#}
{% macro winsorize(x, lower=0.01, upper=0.99) -%}
{%- do _check_expression('x', x) -%}
{%- do _check_number('lower', lower, 'a quantile from 0 to 1, e.g. lower=0.01') -%}
{%- do _check_number('upper', upper, 'a quantile from 0 to 1, e.g. upper=0.99') -%}
{%- if lower < 0 or lower > 1 -%}
    {{ raise_error("lower=" ~ lower ~ ": give a quantile from 0 to 1, e.g. lower=0.01") }}
{%- endif -%}
{%- if upper < 0 or upper > 1 -%}
    {{ raise_error("upper=" ~ upper ~ ": give a quantile from 0 to 1, e.g. upper=0.99") }}
{%- endif -%}
{%- if lower >= upper -%}
    {{ raise_error("lower=" ~ lower ~ ", upper=" ~ upper ~ ": lower must be below upper") }}
{%- endif -%}
CASE WHEN ({{ x }}) IS NULL THEN NULL
     ELSE greatest(least({{ x }}, quantile_cont({{ x }}, {{ upper | literal }}) OVER ()), quantile_cont({{ x }}, {{ lower | literal }}) OVER ())
END
{%- endmacro %}
