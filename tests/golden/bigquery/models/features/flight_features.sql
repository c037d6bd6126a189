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
