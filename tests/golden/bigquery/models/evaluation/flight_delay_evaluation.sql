CREATE OR REPLACE TABLE `example-project`.`main`.`flight_delay_evaluation` AS
/* flight_delay on the held-out test days: precision, recall, accuracy, f1_score, log_loss, roc_auc. */
SELECT
  'test' AS split,
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`flight_delay`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT is_delayed IS NULL
))
FULL UNION ALL BY NAME
SELECT
  'eval' AS split,
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`flight_delay`);
