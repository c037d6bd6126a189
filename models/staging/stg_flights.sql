{{ config(materialized='view', tags=['staging'], assertions=[
    unique('flight_id'),
    not_null('flight_date'),
    accepted_values('origin', ['EWR', 'JFK', 'LGA']),
    matches_regex('carrier', '[A-Z0-9]{2}'),
    relationships('carrier', to=ref('stg_airlines'), field='carrier'),
    in_range('distance', min=1, max=5000),
    expression_is_true('is_cancelled OR arr_delay IS NOT NULL', severity='warn', label='arrival_delay_recorded'),
]) }}
-- One row per scheduled flight out of NYC in 2013. year/month/day and the hhmm clock times
-- are local (America/New_York) time; time_hour is the scheduled hour in UTC (joins weather).
-- (flight_date, origin, carrier, flight) is unique, so it makes the flight_id.
select
    strftime(make_date(year, month, day), '%Y-%m-%d') || '/' || origin || '/' || carrier
        || flight::varchar                                  as flight_id,
    make_date(year, month, day)                             as flight_date,
    year,
    month,
    day,
    -- scheduled departure, local wall-clock time
    make_timestamp(year, month, day, sched_dep_time // 100, sched_dep_time % 100, 0)
                                                            as dep_ts,
    time_hour,
    hour                                                    as sched_dep_hour,
    minute                                                  as sched_dep_minute,
    sched_dep_time                                          as sched_dep_hhmm,
    dep_time                                                as dep_hhmm,
    sched_arr_time                                          as sched_arr_hhmm,
    arr_time                                                as arr_hhmm,
    dep_delay,
    arr_delay,
    carrier,
    flight,
    tailnum,
    origin,
    dest,
    air_time,
    distance,
    dep_time is null                                        as is_cancelled
from {{ source('raw', 'flights') }}
