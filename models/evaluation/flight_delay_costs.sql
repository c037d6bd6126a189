-- What the cost-optimal threshold buys on the eval days: precision, recall and expected cost per flight at it and
-- at the default 0.5, when a missed delay costs 5 and a false alarm 1.
{{ cost_report(ref('flight_delay_tuned'), false_negative_cost=5, false_positive_cost=1) }}
