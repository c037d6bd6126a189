# flight_delay's predictions for the test days: every feature row plus predicted_is_delayed and
# predicted_is_delayed_probs, BigQuery ML's output columns.
SELECT *
FROM ML.PREDICT(MODEL `nycflights.flight_delay`,
                (SELECT * FROM `nycflights.flight_features` WHERE split = "test" AND is_delayed IS NOT NULL))
