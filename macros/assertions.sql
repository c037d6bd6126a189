{#- Data-quality assertions, declared on a model with
        {{ config(assertions=[not_null('carrier'), unique('flight_id', severity='warn')]) }}
    Each one finds failing rows; every assertion also takes severity='error'|'warn' (default error),
    error_if='>0' and warn_if='>0' (conditions on the failing-row count). Row-by-row ones take where='…'.
    `under_test` stands for the relation being checked. Write your own with assertion(); see the README. -#}

{#- ---------------------------------------------------------------- accuracy -#}

{#- Values of the column appear once (NULLs are not compared); failing rows = the extra copies. -#}
{% macro unique(column) -%}
{{ assertion('unique', default_dimension='accuracy', columns=[column],
    failing_count='count(' ~ column | identifier ~ ') - count(DISTINCT ' ~ column | identifier ~ ')',
    samples='SELECT ' ~ column | identifier ~ ', count(*) AS copies FROM ' ~ under_test ~ ' WHERE ' ~ column | identifier
        ~ ' IS NOT NULL GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC',
    **kwargs) }}
{%- endmacro %}

{#- The combination of the columns appears once; failing rows = the extra copies. -#}
{% macro unique_combination(columns) -%}
{%- set listed = columns | map('identifier') | join(', ') -%}
{{ assertion('unique_combination', default_dimension='accuracy', columns=columns,
    failing_count='count(*) - count(DISTINCT row(' ~ listed ~ '))',
    samples='SELECT ' ~ listed ~ ', count(*) AS copies FROM ' ~ under_test ~ ' GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC',
    default_label='unique_combination(' ~ columns | join(', ') ~ ')', **kwargs) }}
{%- endmacro %}

{#- No two rows are identical in every column; failing rows = the distinct rows that have copies. -#}
{% macro no_duplicate_rows() -%}
{{ assertion('no_duplicate_rows', default_dimension='accuracy',
    failing_rows='SELECT *, count(*) AS copies FROM ' ~ under_test ~ ' GROUP BY ALL HAVING count(*) > 1', **kwargs) }}
{%- endmacro %}

{#- min <= column <= max (or strict with inclusive=false); either bound may be omitted; NULLs pass. -#}
{% macro in_range(column, min=none, max=none, inclusive=true) -%}
{%- if min is none and max is none -%}{{ raise_error('in_range(' ~ column ~ '): give min, max or both') }}{%- endif -%}
{%- set low, high = ('<', '>') if inclusive else ('<=', '>=') -%}
{%- set tests = [] -%}
{%- if min is not none %}{% do tests.append(column | identifier ~ ' ' ~ low ~ ' ' ~ min | literal) %}{% endif -%}
{%- if max is not none %}{% do tests.append(column | identifier ~ ' ' ~ high ~ ' ' ~ max | literal) %}{% endif -%}
{{ assertion('in_range', default_dimension='accuracy', columns=[column], failing_when=tests | join(' OR '), **kwargs) }}
{%- endmacro %}

{#- A boolean SQL expression every row satisfies (rows where it is FALSE fail; NULL passes). -#}
{% macro expression_is_true(expression) -%}
{{ assertion('expression_is_true', default_dimension='accuracy', failing_when='NOT (' ~ expression ~ ')',
    default_label='expression_is_true(' ~ expression ~ ')', **kwargs) }}
{%- endmacro %}

{#- ------------------------------------------------------------ completeness -#}

{% macro not_null(column) -%}
{{ assertion('not_null', default_dimension='completeness', columns=[column],
    failing_when=column | identifier ~ ' IS NULL', **kwargs) }}
{%- endmacro %}

{#- The share of NULLs in the column is at most `fraction`; failing rows = the NULL rows when it is not. -#}
{% macro null_fraction_at_most(column, fraction) -%}
{%- set nulls = 'count(*) FILTER (WHERE ' ~ column | identifier ~ ' IS NULL)' -%}
{{ assertion('null_fraction_at_most', default_dimension='completeness', columns=[column],
    failing_count='CASE WHEN ' ~ nulls ~ ' > ' ~ fraction | literal ~ ' * count(*) THEN ' ~ nulls ~ ' ELSE 0 END',
    samples='SELECT count(*) AS row_count, ' ~ nulls ~ ' AS null_count, round(' ~ nulls ~ ' / count(*), 4) AS null_fraction FROM ' ~ under_test,
    default_label='null_fraction_at_most(' ~ column ~ ', ' ~ fraction ~ ')', **kwargs) }}
{%- endmacro %}

{#- The relation has between min and max rows; one failing "row" when it does not. -#}
{% macro row_count_between(min=0, max=none) -%}
{%- set bounds = ['count(*) < ' ~ min | literal] + (['count(*) > ' ~ max | literal] if max is not none else []) -%}
{{ assertion('row_count_between', default_dimension='completeness',
    failing_count='CASE WHEN ' ~ bounds | join(' OR ') ~ ' THEN 1 ELSE 0 END',
    samples='SELECT count(*) AS row_count FROM ' ~ under_test,
    default_label='row_count_between(' ~ min ~ (', ' ~ max if max is not none else '') ~ ')', **kwargs) }}
{%- endmacro %}

{#- Every expected category appears at least once; failing rows = the categories that never do. -#}
{% macro values_present(column, values) -%}
{%- set checks = [] -%}
{%- for value in values %}{% do checks.append('(count(*) FILTER (WHERE ' ~ column | identifier ~ ' = ' ~ value | literal ~ ') = 0)::INTEGER') %}{% endfor -%}
{{ assertion('values_present', default_dimension='completeness', columns=[column], failing_count=checks | join(' + '),
    samples='SELECT expected AS missing_value FROM (SELECT unnest([' ~ values | map('literal') | join(', ') ~ ']) AS expected) WHERE expected NOT IN (SELECT '
        ~ column | identifier ~ ' FROM ' ~ under_test ~ ' WHERE ' ~ column | identifier ~ ' IS NOT NULL)',
    **kwargs) }}
{%- endmacro %}

{#- Every label value appears in every split; failing rows = the (split, label) pairs that are missing. -#}
{% macro label_present_in_every_split(label, split_column='split') -%}
{%- set l, s = label | identifier, split_column | identifier -%}
{{ assertion('label_present_in_every_split', default_dimension='completeness', columns=[label, split_column],
    failing_rows='SELECT s.' ~ s ~ ', l.' ~ l ~ ' FROM (SELECT DISTINCT ' ~ s ~ ' FROM ' ~ under_test ~ ') AS s CROSS JOIN (SELECT DISTINCT '
        ~ l ~ ' FROM ' ~ under_test ~ ' WHERE ' ~ l ~ ' IS NOT NULL) AS l EXCEPT SELECT DISTINCT ' ~ s ~ ', ' ~ l ~ ' FROM ' ~ under_test,
    **kwargs) }}
{%- endmacro %}

{#- ------------------------------------------------------------- consistency -#}

{#- The column holds only the listed values (NULLs pass: combine with not_null). -#}
{% macro accepted_values(column, values) -%}
{{ assertion('accepted_values', default_dimension='consistency', columns=[column],
    failing_when=column | identifier ~ ' NOT IN (' ~ values | map('literal') | join(', ') ~ ')', **kwargs) }}
{%- endmacro %}

{#- Every non-NULL value matches the regular expression in full (one format per column). -#}
{% macro matches_regex(column, pattern) -%}
{{ assertion('matches_regex', default_dimension='consistency', columns=[column],
    failing_when='NOT regexp_full_match(CAST(' ~ column | identifier ~ ' AS VARCHAR), ' ~ pattern | literal ~ ')',
    **kwargs) }}
{%- endmacro %}

{#- Foreign key: every non-NULL value of the column exists in `field` of `to` (e.g. to=ref('stg_planes')). -#}
{% macro relationships(column, to, field) -%}
{{ assertion('relationships', default_dimension='consistency', columns=[column],
    failing_rows='SELECT child.* FROM ' ~ under_test ~ ' AS child WHERE child.' ~ column | identifier ~ ' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM '
        ~ to ~ ' AS parent WHERE parent.' ~ field | identifier ~ ' = child.' ~ column | identifier ~ ')',
    default_label='relationships(' ~ column ~ ' -> ' ~ field ~ ')', **kwargs) }}
{%- endmacro %}

{#- The schema: each listed column exists with the given DuckDB type, e.g. column_types({'flight_id': 'VARCHAR'}). -#}
{% macro column_types(types) -%}
{%- set expected = [] -%}
{%- for column, type in types.items() %}{% do expected.append('(' ~ column | literal ~ ', ' ~ type | upper | literal ~ ')') %}{% endfor -%}
{{ assertion('column_types', default_dimension='consistency',
    failing_rows='SELECT e.column_name, e.expected_type, d.column_type AS actual_type FROM (VALUES ' ~ expected | join(', ')
        ~ ') AS e(column_name, expected_type) LEFT JOIN (DESCRIBE ' ~ under_test ~ ') AS d ON lower(d.column_name) = lower(e.column_name)'
        ~ ' WHERE d.column_type IS DISTINCT FROM e.expected_type',
    default_label='column_types(' ~ types.keys() | join(', ') ~ ')', **kwargs) }}
{%- endmacro %}

{#- -------------------------------------------------------------- timeliness -#}

{#- The newest event is at most `max_age` old, relative to now() or to the SQL expression `relative_to`;
    one failing "row" when it is older. -#}
{% macro freshness(column, max_age='1 day', relative_to='now()') -%}
{%- set newest = 'max(' ~ column | identifier ~ ')' -%}
{{ assertion('freshness', default_dimension='timeliness', columns=[column],
    failing_count='CASE WHEN ' ~ newest ~ ' IS NULL OR ' ~ newest ~ ' < (' ~ relative_to ~ ') - INTERVAL ' ~ max_age | literal ~ ' THEN 1 ELSE 0 END',
    samples='SELECT max(' ~ column | identifier ~ ') AS newest, ' ~ relative_to ~ ' AS relative_to FROM ' ~ under_test,
    default_label='freshness(' ~ column ~ ', ' ~ max_age ~ ')', **kwargs) }}
{%- endmacro %}

{#- The `percentile` of ingested_at - event_at is at most `max_lag`; failing rows = the rows later than
    max_lag when it is not. -#}
{% macro ingestion_lag_at_most(event_at, ingested_at, max_lag='1 hour', percentile=0.95) -%}
{%- set lag = '(epoch(' ~ ingested_at | identifier ~ ') - epoch(' ~ event_at | identifier ~ '))' -%}
{%- set bound = 'epoch(INTERVAL ' ~ max_lag | literal ~ ')' -%}
{{ assertion('ingestion_lag_at_most', default_dimension='timeliness', columns=[event_at, ingested_at],
    failing_count='CASE WHEN quantile_cont(' ~ lag ~ ', ' ~ percentile | literal ~ ') > ' ~ bound
        ~ ' THEN count(*) FILTER (WHERE ' ~ lag ~ ' > ' ~ bound ~ ') ELSE 0 END',
    samples='SELECT * FROM ' ~ under_test ~ ' WHERE ' ~ lag ~ ' > ' ~ bound ~ ' ORDER BY ' ~ lag ~ ' DESC',
    default_label='ingestion_lag_at_most(' ~ event_at ~ ', ' ~ ingested_at ~ ', ' ~ max_lag ~ ')', **kwargs) }}
{%- endmacro %}

{#- ------------------------------------------------------------ distribution -#}

{#- The splits look alike: for each feature (and the label column, if given), the distance between its
    distribution in a split and in the reference split ('train', or the largest split when there is no
    'train') is at most max_distance. Numbers, dates and timestamps: the two-sample Kolmogorov-Smirnov
    statistic (the largest gap between the two empirical CDFs over the sorted distinct values; NULLs left
    out). VARCHAR, BOOLEAN and ENUM columns: the largest difference between the shares of a category (NULL a
    category of its own). Rows whose split is NULL are left out. Failing rows = the (feature, split) pairs
    further apart than max_distance, with the distance. `toolkit split-report` runs this same query
    (max_distance=none: every pair). Note: `label` names the label column here, not the assertion. -#}
{% macro splits_are_balanced(split_column='split', features=none, max_distance=0.1, label_column=none) -%}
{%- set features = [features] if features is string else (features or []) | list -%}
{%- set compared = features + ([label_column] if label_column is not none and label_column not in features else []) -%}
{%- if not compared -%}
    {{ raise_error("give the columns to compare, e.g. features=['distance', 'carrier']") }}
{%- endif -%}
{%- if split_column in compared -%}
    {{ raise_error("the split column " ~ split_column ~ " cannot be one of the features") }}
{%- endif -%}
{%- if max_distance is not none and (max_distance is not number or max_distance < 0 or max_distance > 1) -%}
    {{ raise_error("max_distance=" ~ max_distance ~ ": give a distance from 0 to 1, e.g. 0.1") }}
{%- endif -%}
{%- set s = split_column | identifier -%}
{%- set categorical = "(typeof(value) IN ('VARCHAR', 'BOOLEAN') OR typeof(value) LIKE 'ENUM(%')" -%}
{%- set ctes = [
    "__splits AS (SELECT CAST(" ~ s ~ " AS VARCHAR) AS split, count(*) AS n FROM " ~ under_test ~ " WHERE " ~ s ~ " IS NOT NULL GROUP BY ALL)",
    "__reference AS (SELECT split FROM __splits ORDER BY split <> 'train', n DESC, split LIMIT 1)",
] -%}
{%- set pairs = [] -%}
{%- for column in compared -%}
    {%- set i = loop.index -%}
    {#- rows per (split, value), then per (split, value) the counts in that split and in the reference -#}
    {%- do ctes.append("__values_" ~ i ~ " AS (SELECT CAST(" ~ s ~ " AS VARCHAR) AS split, " ~ column | identifier
        ~ " AS value, count(*) AS n FROM " ~ under_test ~ " WHERE " ~ s ~ " IS NOT NULL GROUP BY ALL)") -%}
    {%- do ctes.append("__pairs_" ~ i ~ " AS (SELECT o.split, v.value,"
        ~ " coalesce(sum(v.n) FILTER (WHERE v.split = r.split), 0) AS n_reference,"
        ~ " coalesce(sum(v.n) FILTER (WHERE v.split = o.split), 0) AS n_split"
        ~ " FROM __splits AS o CROSS JOIN __reference AS r JOIN __values_" ~ i ~ " AS v ON v.split IN (o.split, r.split)"
        ~ " WHERE o.split <> r.split GROUP BY ALL)") -%}
    {#- KS: cumulative counts over the sorted values, of the non-NULL rows; L-inf: category counts, of all rows.
        |a/A - b/B| is computed as |a*B - b*A| / (A*B) in integers, so the one division rounds the exact value. -#}
    {%- do ctes.append("__distance_" ~ i ~ " AS (SELECT split, any_value(statistic) AS statistic,"
        ~ " max(abs(c_reference * total_split - c_split * total_reference) / NULLIF(total_reference * total_split, 0)) AS distance"
        ~ " FROM (SELECT split, CASE WHEN " ~ categorical ~ " THEN 'linf' ELSE 'ks' END AS statistic,"
        ~ " CASE WHEN " ~ categorical ~ " THEN n_reference ELSE sum(n_reference) OVER upto END AS c_reference,"
        ~ " CASE WHEN " ~ categorical ~ " THEN n_split ELSE sum(n_split) OVER upto END AS c_split,"
        ~ " sum(n_reference) OVER whole AS total_reference, sum(n_split) OVER whole AS total_split"
        ~ " FROM __pairs_" ~ i ~ " WHERE value IS NOT NULL OR " ~ categorical
        ~ " WINDOW whole AS (PARTITION BY split), upto AS (PARTITION BY split ORDER BY value ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        ~ ") GROUP BY split)") -%}
    {%- do pairs.append("SELECT " ~ column | literal ~ " AS feature, o.split, r.split AS reference, d.statistic, d.distance, " ~ i
        ~ " AS position FROM __splits AS o CROSS JOIN __reference AS r LEFT JOIN __distance_" ~ i ~ " AS d ON d.split = o.split"
        ~ " WHERE o.split <> r.split") -%}
{%- endfor -%}
{{ assertion('splits_are_balanced', default_dimension='distribution', columns=[split_column] + compared,
    failing_rows='WITH ' ~ ctes | join(', ') ~ ' SELECT feature, split, reference, statistic, distance FROM ('
        ~ pairs | join(' UNION ALL ') ~ ')' ~ (' WHERE distance > ' ~ max_distance | literal if max_distance is not none else '')
        ~ ' ORDER BY position, split',
    default_label='splits_are_balanced(' ~ split_column ~ ': ' ~ compared | join(', ') ~ ')', **kwargs) }}
{%- endmacro %}

{#- ------------------------------------------------------ data skew and drift -#}

{#- The STRUCT of ML.VALIDATE_DATA_SKEW / ML.VALIDATE_DATA_DRIFT: the settings given, thresholds as a dict. -#}
{% macro _monitoring_settings(settings, thresholds) -%}
{%- set items = [] -%}
{%- for name, value in settings.items() if value is not none %}{% do items.append(value | literal ~ ' AS ' ~ name) %}{% endfor -%}
{%- if thresholds %}{% set pairs = [] %}{% for column, value in thresholds.items() %}{% do pairs.append('(' ~ column | literal ~ ', ' ~ value | literal ~ ')') %}{% endfor %}{% do items.append('[' ~ pairs | join(', ') ~ '] AS thresholds') %}{% endif -%}
{{ ', STRUCT(' ~ items | join(', ') ~ ')' if items else '' }}
{%- endmacro %}

{#- The rows about to be published (or `input`, a relation or a query) look like model `model`'s training rows:
    ML.VALIDATE_DATA_SKEW of its input features (columns that are no input of the model, like predicted_*, are left
    out). Failing rows = the features whose distance exceeds its threshold (input, metric, threshold, value). Each
    run's distances are appended to _toolkit.monitoring_history. -#}
{% macro no_data_skew(model, categorical_default_threshold=none, numerical_default_threshold=none, thresholds=none,
                      categorical_metric_type=none, input=none) -%}
{%- set settings = _monitoring_settings({'categorical_default_threshold': categorical_default_threshold,
    'numerical_default_threshold': numerical_default_threshold, 'categorical_metric_type': categorical_metric_type},
    thresholds) -%}
{{ assertion('no_data_skew', default_dimension='distribution',
    failing_rows='SELECT input, metric, threshold, value FROM ML.VALIDATE_DATA_SKEW(MODEL ' ~ model | identifier
        ~ ', (SELECT * FROM ' ~ (input or under_test) ~ ')' ~ settings ~ ') WHERE is_anomaly',
    default_label='no_data_skew(' ~ model ~ ')', **kwargs) }}
{%- endmacro %}

{#- The rows about to be published (their `columns`, default all) are distributed like `baseline`'s (a relation,
    e.g. ref('flights_training'), or a query): ML.VALIDATE_DATA_DRIFT(baseline, these rows). Failing rows = the
    columns whose distance exceeds its threshold. Each run's distances are appended to _toolkit.monitoring_history. -#}
{% macro no_data_drift(baseline, columns=none, categorical_default_threshold=none, numerical_default_threshold=none,
                       thresholds=none, categorical_metric_type=none, num_histogram_buckets=none) -%}
{%- set listed = (columns | map('identifier') | join(', ')) if columns else '*' -%}
{%- set settings = _monitoring_settings({'categorical_default_threshold': categorical_default_threshold,
    'numerical_default_threshold': numerical_default_threshold, 'categorical_metric_type': categorical_metric_type,
    'num_histogram_buckets': num_histogram_buckets}, thresholds) -%}
{{ assertion('no_data_drift', default_dimension='distribution', columns=columns or [],
    failing_rows='SELECT input, metric, threshold, value FROM ML.VALIDATE_DATA_DRIFT((SELECT ' ~ listed ~ ' FROM '
        ~ baseline ~ '), (SELECT ' ~ listed ~ ' FROM ' ~ under_test ~ ')' ~ settings ~ ') WHERE is_anomaly',
    default_label='no_data_drift(' ~ (columns | join(', ') if columns else 'all columns') ~ ')', **kwargs) }}
{%- endmacro %}
