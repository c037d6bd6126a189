# Precision, recall and expected cost per flight at the cost-optimal threshold and at 0.5.
{{ cost_report('`nycflights.flight_delay_tuned`', false_negative_cost=5, false_positive_cost=1) }}
