/* flight_delay's confusion matrix on the test days: expected_label, then one column per class (false, true). */
CREATE OR REPLACE TABLE `example-project`.`main`.`flight_delay_confusion` AS
SELECT
  *
FROM ML.CONFUSION_MATRIX(MODEL `example-project`.`main`.`flight_delay`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT is_delayed IS NULL
));
