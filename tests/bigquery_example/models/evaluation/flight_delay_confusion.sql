# flight_delay's confusion matrix on the test days: expected_label, then one column per class (false, true).
SELECT *
FROM ML.CONFUSION_MATRIX(MODEL `nycflights.flight_delay`,
                         (SELECT * FROM {{ ref('flight_features') }} WHERE split = "test" AND is_delayed IS NOT NULL))
