/* flight_delay's predictions for the test days: every feature row plus predicted_is_delayed and */
/* predicted_is_delayed_probs, BigQuery ML's output columns. */
CREATE OR REPLACE TABLE `example-project`.`main`.`flight_delay_predictions` AS
SELECT
  *
FROM ML.PREDICT(MODEL `example-project`.`main`.`flight_delay`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT is_delayed IS NULL
));
