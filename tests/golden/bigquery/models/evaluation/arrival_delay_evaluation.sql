CREATE OR REPLACE TABLE `example-project`.`main`.`arrival_delay_evaluation` AS
/* arrival_delay on the held-out test days: mean_absolute_error, mean_squared_error, r2_score, … */
SELECT
  'test' AS split,
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`arrival_delay`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT arr_delay IS NULL
))
FULL UNION ALL BY NAME
SELECT
  'eval' AS split,
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`arrival_delay`);
