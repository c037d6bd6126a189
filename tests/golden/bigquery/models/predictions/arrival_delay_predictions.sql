/* arrival_delay's predicted minutes late for the test days, beside what actually happened. */
CREATE OR REPLACE TABLE `example-project`.`main`.`arrival_delay_predictions` AS
SELECT
  flight_id,
  flight_date,
  carrier,
  origin,
  dest,
  arr_delay,
  predicted_arr_delay
FROM ML.PREDICT(MODEL `example-project`.`main`.`arrival_delay`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT arr_delay IS NULL
));
