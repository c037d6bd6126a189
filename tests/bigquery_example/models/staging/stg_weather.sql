{{ config(materialized='view', tags=['staging'], assertions=[
    unique_combination(['origin', 'time_hour']),
    in_range('humidity', min=0, max=100),
    in_range('wind_speed', min=0, max=150),
    freshness('time_hour', max_age='2 days', relative_to='(SELECT max(time_hour) FROM ' ~ ref('stg_flights') ~ ')'),
]) }}
# Hourly weather per NYC origin airport, one row per (origin, time_hour) (time_hour in UTC).
# The local year/month/day/hour are NOT unique: 01:00 occurs twice when DST ends (Nov 3).
# Should an (origin, time_hour) repeat, keep the most complete reading; the other columns
# break ties, so the choice is deterministic.
SELECT
    origin,
    time_hour,
    DATE(year, month, day) AS obs_date,
    hour AS obs_local_hour,
    temp,
    dewp AS dew_point,
    humid AS humidity,
    wind_dir,
    # one reading of 1048 mph is a sensor error: treat implausible speeds as missing
    IF(wind_speed <= 150, wind_speed, NULL) AS wind_speed,
    wind_gust,
    precip,
    pressure,
    visib AS visibility
FROM {{ source('raw', 'weather') }}
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
    PARTITION BY origin, time_hour
    ORDER BY
        CAST(temp IS NULL AS INT64) + CAST(wind_speed IS NULL AS INT64) + CAST(pressure IS NULL AS INT64),
        year, month, day, hour,
        temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib
) = 1
