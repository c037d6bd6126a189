{{ config(materialized='view', tags=['staging'], assertions=[
    unique('flight_id'),
    not_null('flight_date'),
    accepted_values('origin', ['EWR', 'JFK', 'LGA']),
    matches_regex('carrier', '[A-Z0-9]{2}'),
    relationships('carrier', to=ref('stg_airlines'), field='carrier'),
    in_range('distance', min=1, max=5000),
    expression_is_true('is_cancelled OR arr_delay IS NOT NULL', severity='warn', label='arrival_delay_recorded'),
]) }}
# One row per scheduled flight out of NYC in 2013. year/month/day and the hhmm clock times
# are local (America/New_York) time; time_hour is the scheduled hour in UTC (joins weather).
# (flight_date, origin, carrier, flight) is unique, so it makes the flight_id.
CREATE TEMP FUNCTION clock_hour(hhmm INT64) AS (DIV(hhmm, 100));
CREATE TEMP FUNCTION clock_minute(hhmm INT64) AS (MOD(hhmm, 100));
SELECT
    FORMAT_DATE("%Y-%m-%d", DATE(year, month, day)) || "/" || origin || "/" || carrier
        || CAST(flight AS STRING) AS flight_id,
    DATE(year, month, day) AS flight_date,
    year,
    month,
    day,
    # scheduled departure, local wall-clock time
    DATETIME(year, month, day, clock_hour(sched_dep_time), clock_minute(sched_dep_time), 0) AS dep_ts,
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
FROM {{ source('raw', 'flights') }}
