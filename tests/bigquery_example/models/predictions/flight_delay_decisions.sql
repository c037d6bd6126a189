# flight_delay_tuned's decisions for the test days when a missed delay costs five times a false alarm.
SELECT *
FROM ML.PREDICT(MODEL `nycflights.flight_delay_tuned`,
                (SELECT * FROM `nycflights.flight_features` WHERE split = "test" AND is_delayed IS NOT NULL),
                STRUCT({{ cost_optimal_threshold('`nycflights.flight_delay_tuned`', false_negative_cost=5,
                                                 false_positive_cost=1) }} AS threshold))
