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
