# arrival_delay on the held-out test days: mean_absolute_error, mean_squared_error, r2_score, …
SELECT "test" AS split, *
FROM ML.EVALUATE(MODEL `nycflights.arrival_delay`,
                 (SELECT * FROM `nycflights.flight_features` WHERE split = "test" AND arr_delay IS NOT NULL))
UNION ALL BY NAME
SELECT "eval" AS split, * FROM ML.EVALUATE(MODEL `nycflights.arrival_delay`)  # recorded at training
