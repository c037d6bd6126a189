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
