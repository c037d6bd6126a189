-- flight_delay_tuned's decisions for the test days when a missed delay costs five times a false alarm: the
-- threshold is the one of least expected cost on the eval days (macros/costs.sql), computed by the toolkit
-- before ML.PREDICT runs.
SELECT *
FROM ML.PREDICT(MODEL {{ ref('flight_delay_tuned') }},
                (SELECT * FROM {{ ref('flight_features') }} WHERE split = 'test' AND is_delayed IS NOT NULL),
                STRUCT({{ cost_optimal_threshold(ref('flight_delay_tuned'), false_negative_cost=5,
                                                 false_positive_cost=1) }} AS threshold))
