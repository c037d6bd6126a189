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
