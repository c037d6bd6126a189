{#- Decisions by cost for a binary classifier, over BigQuery ML's own ML.ROC_CURVE (so the SQL stays BigQuery's):
    a false negative costs `false_negative_cost`, a false positive `false_positive_cost` (any unit, only their ratio
    matters), a correct decision nothing. The expected cost per unit at a threshold is
    (false_negative_cost * false_negatives + false_positive_cost * false_positives) / rows, over the rows
    ML.ROC_CURVE reads without input: the model's eval split. The cost-optimal threshold is the ROC curve's threshold
    of least expected cost (the lowest such threshold on ties); a row is positive when its probability is above
    the threshold, as in ML.ROC_CURVE and ML.PREDICT. -#}

{#- The costs, checked: numbers of 0 or more, not both 0. -#}
{% macro _checked_costs(false_negative_cost, false_positive_cost) -%}
{%- for name, cost in [('false_negative_cost', false_negative_cost), ('false_positive_cost', false_positive_cost)] -%}
    {%- if cost is not number or cost is sameas true or cost is sameas false or cost < 0 -%}
        {{ raise_error(name ~ "=" ~ cost ~ ": a cost is a number of 0 or more, e.g. false_negative_cost=5") }}
    {%- endif -%}
{%- endfor -%}
{%- if false_negative_cost == 0 and false_positive_cost == 0 -%}
    {{ raise_error("false_negative_cost and false_positive_cost are both 0: every threshold costs nothing; give the cost of each kind of error, e.g. false_negative_cost=5, false_positive_cost=1") }}
{%- endif -%}
{%- endmacro %}

{#- The expected cost per unit of a row of ML.ROC_CURVE. -#}
{% macro _expected_cost(false_negative_cost, false_positive_cost) -%}
({{ false_negative_cost }} * false_negatives + {{ false_positive_cost }} * false_positives) / (true_positives + false_positives + true_negatives + false_negatives)
{%- endmacro %}

{#- A scalar subquery: the cost-optimal threshold of `model` (ref('m') or its name). Use it as ML.PREDICT's threshold,
    STRUCT({{ cost_optimal_threshold(ref('m'), false_negative_cost=5, false_positive_cost=1) }} AS threshold),
    which the toolkit computes before the call, or compare it with the positive class's probability. -#}
{% macro cost_optimal_threshold(model, false_negative_cost=1, false_positive_cost=1) -%}
{{- _checked_costs(false_negative_cost, false_positive_cost) -}}
(SELECT threshold FROM ML.ROC_CURVE(MODEL {{ model }}) ORDER BY {{ _expected_cost(false_negative_cost, false_positive_cost) }}, threshold LIMIT 1)
{%- endmacro %}

{#- A query reporting the decision at the cost-optimal threshold and at BigQuery's default 0.5: decision,
    threshold, precision, recall, expected_cost (per unit), on the eval split. -#}
{% macro cost_report(model, false_negative_cost=1, false_positive_cost=1) -%}
{{- _checked_costs(false_negative_cost, false_positive_cost) -}}
SELECT decision, threshold,
       true_positives / NULLIF(true_positives + false_positives, 0) AS precision,
       recall,
       {{ _expected_cost(false_negative_cost, false_positive_cost) }} AS expected_cost
FROM (
    SELECT 'cost_optimal' AS decision, *
    FROM (SELECT * FROM ML.ROC_CURVE(MODEL {{ model }}) ORDER BY {{ _expected_cost(false_negative_cost, false_positive_cost) }}, threshold LIMIT 1)
    UNION ALL
    SELECT 'default_0.5' AS decision, * FROM ML.ROC_CURVE(MODEL {{ model }}, [0.5])
) AS decisions
ORDER BY decision
{%- endmacro %}

{#- Decisions by a cost matrix, for any classifier (multiclass too), over ML.PREDICT's predicted_<label>_probs:
    costs[i][j] is the cost of deciding classes[j] for a row whose class is classes[i] (rows: the true class,
    columns: the decision; any unit). The Bayes decision of a row is the class j of least expected cost
    sum_i probability(classes[i]) * costs[i][j] (the first such class of `classes` on ties). The matrix is checked
    as it renders; that its classes are the model's is checked by the query, an error naming the class and the
    model's classes. The SQL is the file's dialect: a struct is DuckDB's {'name': value} or BigQuery's
    STRUCT(value AS name), the rest both engines'. -#}

{#- The matrix, checked: at least two distinct classes, a square matrix of numbers of 0 or more, not all 0. -#}
{% macro _checked_matrix(classes, costs) -%}
{%- if classes is string or classes is mapping or classes is not sequence or classes | length < 2 -%}
    {{ raise_error("classes=" ~ classes ~ ": give the model's classes as a list of at least two labels, e.g. classes=['Adelie', 'Chinstrap', 'Gentoo']") }}
{%- endif -%}
{%- if classes | unique | list | length != classes | length -%}
    {{ raise_error("classes=" ~ classes ~ ": a class is listed twice; list each class once") }}
{%- endif -%}
{%- set n = classes | length -%}
{%- if costs is string or costs is mapping or costs is not sequence or costs | length != n -%}
    {{ raise_error("costs=" ~ costs ~ ": a cost matrix is square, " ~ n ~ " rows (one per true class of classes=" ~ classes ~ ") of " ~ n ~ " costs (one per decided class)") }}
{%- endif -%}
{%- for row in costs -%}
    {%- if row is string or row is mapping or row is not sequence or row | length != n -%}
        {{ raise_error("costs=" ~ costs ~ ": row " ~ loop.index ~ " (true class " ~ classes[loop.index0] ~ ") has " ~ (row | length if row is sequence and row is not string else row) ~ " costs where a square matrix of " ~ n ~ " classes has " ~ n) }}
    {%- endif -%}
    {%- set i = loop.index0 -%}
    {%- for cost in row -%}
        {%- if cost is not number or cost is sameas true or cost is sameas false or cost < 0 -%}
            {{ raise_error("costs[" ~ i ~ "][" ~ loop.index0 ~ "]=" ~ cost ~ " (true " ~ classes[i] ~ ", decided " ~ classes[loop.index0] ~ "): a cost is a number of 0 or more") }}
        {%- endif -%}
    {%- endfor -%}
{%- endfor -%}
{%- if costs | map('sum') | sum == 0 -%}
    {{ raise_error("costs=" ~ costs ~ ": every cost is 0, so every decision costs nothing; give the cost of each kind of error, e.g. costs=[[0, 1], [5, 0]]") }}
{%- endif -%}
{%- endmacro %}

{#- A one-row array of one struct, UNNESTed as `alias` beside the rows before it: its fields become columns. -#}
{% macro _one_row(fields, alias) -%}
{%- if dialect() == 'bigquery' -%}
UNNEST([STRUCT({% for name, value in fields %}{{ value }} AS {{ name }}{{ ", " if not loop.last }}{% endfor %})]) AS {{ alias }}
{%- else -%}
UNNEST([{{ '{' }}{% for name, value in fields %}'{{ name }}': {{ value }}{{ ", " if not loop.last }}{% endfor %}{{ '}' }}]) AS {{ alias }}
{%- endif -%}
{%- endmacro %}

{#- The query of the rows of `predictions` with two columns more: cost_optimal_<label>, the Bayes decision, and
    expected_cost, its expected cost under the row's probabilities. -#}
{% macro cost_matrix_decisions(predictions, label, classes, costs) -%}
{{- _check_label(label) -}}
{{- _checked_matrix(classes, costs) -}}
{%- set probs = 'predictions.' ~ ('predicted_' ~ label ~ '_probs') | identifier -%}
{%- set shown = classes | map('literal') | join(', ') -%}
{%- set where = "cost_matrix_decisions(label='" ~ label ~ "'): " -%}
{%- set probabilities = [] -%}
{%- for class in classes -%}
    {%- do probabilities.append(('_cost_matrix_p' ~ loop.index0, '(SELECT p.prob FROM UNNEST(' ~ probs ~ ') AS p WHERE p.label = ' ~ (class | literal) ~ ')')) -%}
{%- endfor -%}
{%- do probabilities.append(('_cost_matrix_classes', '(SELECT STRING_AGG(CAST(p.label AS STRING), \', \') FROM UNNEST(' ~ probs ~ ') AS p)')) -%}
{%- do probabilities.append(('_cost_matrix_unlisted', '(SELECT STRING_AGG(CAST(p.label AS STRING), \', \') FROM UNNEST(' ~ probs ~ ') AS p WHERE p.label NOT IN (' ~ shown ~ '))')) -%}
{%- set expected = [] -%}
{%- for decided in classes -%}
    {%- set j = loop.index0 -%}
    {%- set terms = [] -%}
    {%- for row in costs -%}
        {%- if row[j] != 0 -%}{%- do terms.append(row[j] ~ ' * _probabilities._cost_matrix_p' ~ loop.index0) -%}{%- endif -%}
    {%- endfor -%}
    {%- do expected.append(('_cost_matrix_cost' ~ j, terms | join(' + ') if terms else '0.0')) -%}
{%- endfor -%}
{%- set checks = [] -%}
{%- for class in classes -%}
    {%- do checks.append('WHEN _probabilities._cost_matrix_p' ~ loop.index0 ~ ' IS NULL THEN ERROR(' ~ ((where ~ "the cost matrix's class " ~ class ~ " is not a class of the model, whose classes are ") | literal) ~ ' || _probabilities._cost_matrix_classes)') -%}
{%- endfor -%}
{%- do checks.append('WHEN _probabilities._cost_matrix_unlisted IS NOT NULL THEN ERROR(' ~ ((where ~ "the model's class(es) ") | literal) ~ ' || _probabilities._cost_matrix_unlisted || ' ~ ((" have no row and column in the cost matrix, whose classes are " ~ classes | join(', ') ~ "; the model's classes are ") | literal) ~ ' || _probabilities._cost_matrix_classes)') -%}
{%- for decided in classes -%}
    {%- set j = loop.index0 -%}
    {%- if not loop.last -%}
        {%- set others = [] -%}
        {%- for k in range(j + 1, classes | length) -%}{%- do others.append('_costs._cost_matrix_cost' ~ j ~ ' <= _costs._cost_matrix_cost' ~ k) -%}{%- endfor -%}
        {%- do checks.append('WHEN ' ~ others | join(' AND ') ~ ' THEN ' ~ j) -%}
    {%- endif -%}
{%- endfor -%}
SELECT predictions.*,
       CASE _decision._cost_matrix_choice {% for class in classes %}WHEN {{ loop.index0 }} THEN {{ class | literal }} {% endfor %}END AS {{ ('cost_optimal_' ~ label) | identifier }},
       CASE _decision._cost_matrix_choice {% for class in classes %}WHEN {{ loop.index0 }} THEN _costs._cost_matrix_cost{{ loop.index0 }} {% endfor %}END AS expected_cost
FROM {{ predictions }} AS predictions,
     {{ _one_row(probabilities, '_probabilities') }},
     {{ _one_row(expected, '_costs') }},
     {{ _one_row([('_cost_matrix_choice', 'CASE ' ~ checks | join(' ') ~ ' ELSE ' ~ (classes | length - 1) ~ ' END')], '_decision') }}
{%- endmacro %}

{#- label names the model's label: predicted_<label>_probs, predicted_<label>. -#}
{% macro _check_label(label) -%}
{%- if label is not string or label | trim == '' -%}
    {{ raise_error("label=" ~ label ~ ": give the model's label column as a string, e.g. label='species' (ML.PREDICT's predicted_species_probs)") }}
{%- endif -%}
{%- endmacro %}

{#- A query reporting the decisions of the cost matrix and ML.PREDICT's own (the most probable class) over the
    rows of `predictions` whose <label> is known: decision ('argmax', 'cost_optimal'), labelled_rows, accuracy and
    expected_cost, the mean cost per row under the matrix. -#}
{% macro cost_matrix_report(predictions, label, classes, costs) -%}
{{- _check_label(label) -}}
{{- _checked_matrix(classes, costs) -}}
{%- set truth = 'decisions.' ~ label | identifier -%}
{%- set where = "cost_matrix_report(label='" ~ label ~ "'): " -%}
{%- set branches = [] -%}
{%- for row in costs -%}
    {%- set true_class = classes[loop.index0] -%}
    {%- for cost in row -%}
        {%- do branches.append('WHEN truth = ' ~ (true_class | literal) ~ ' AND decided = ' ~ (classes[loop.index0] | literal) ~ ' THEN ' ~ cost) -%}
    {%- endfor -%}
{%- endfor -%}
SELECT decision, COUNT(*) AS labelled_rows, AVG(CASE WHEN decided = truth THEN 1.0 ELSE 0.0 END) AS accuracy,
       AVG(CASE {{ branches | join(' ') }} ELSE ERROR({{ (where ~ "the label ") | literal }} || CAST(truth AS STRING) || {{ (" is not a class of the cost matrix, whose classes are " ~ classes | join(', ')) | literal }}) END) AS expected_cost
FROM (
    SELECT 'argmax' AS decision, {{ truth }} AS truth, decisions.{{ ('predicted_' ~ label) | identifier }} AS decided
    FROM ({{ cost_matrix_decisions(predictions, label, classes, costs) }}) AS decisions WHERE {{ truth }} IS NOT NULL
    UNION ALL
    SELECT 'cost_optimal' AS decision, {{ truth }} AS truth, decisions.{{ ('cost_optimal_' ~ label) | identifier }} AS decided
    FROM ({{ cost_matrix_decisions(predictions, label, classes, costs) }}) AS decisions WHERE {{ truth }} IS NOT NULL
) AS report
GROUP BY decision
ORDER BY decision
{%- endmacro %}
