/* Will a flight arrive more than 15 minutes late? A binary logistic regression on what is known before */
/* departure: schedule, route, weather at the origin and the plane. Trained on the 'train' days, evaluated on the */
/* 'eval' days (CUSTOM split: is_eval TRUE → eval); the 'test' days are left for the evaluation tables. */
/* TRANSFORM makes the preprocessing part of the model (the Transform pattern): its statistics are computed on the */
/* training rows only, saved with the model, and re-applied by ML.PREDICT and ML.EVALUATE to raw flight rows, so */
/* serving cannot drift from training. */
CREATE OR REPLACE MODEL `example-project`.`main`.`flight_delay`
TRANSFORM(
  ML.BUCKETIZE(dep_hour, [6, 9, 12, 15, 18, 21]) AS dep_period /* bucketized departure hour */,
  ML.FEATURE_CROSS(STRUCT(origin, dest)) AS route /* origin × destination */,
  CAST(ML.HASH_BUCKETIZE(tailnum, 100) AS STRING) AS plane_bucket /* hashed tail number (a category) */,
  ML.STANDARD_SCALER(distance) OVER () AS distance_z /* standardized on the training rows */,
  day_of_week,
  month,
  carrier,
  temp,
  humidity,
  wind_speed,
  precip,
  visibility,
  plane_age,
  seats,
  is_delayed
)
OPTIONS (
  model_type='logistic_reg',
  input_label_cols=['is_delayed'],
  data_split_method='custom',
  data_split_col='is_eval',
  l2_reg=1.0,
  max_iterations=50
) AS
SELECT
  *
  EXCEPT (arr_delay)
FROM `example-project`.`main`.`flight_training`
WHERE
  NOT is_delayed IS NULL;
