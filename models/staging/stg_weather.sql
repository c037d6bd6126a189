{{ config(materialized='view', tags=['staging'], assertions=[
    unique_combination(['origin', 'time_hour']),
    in_range('humidity', min=0, max=100),
    in_range('wind_speed', min=0, max=150),
    freshness('time_hour', max_age='2 days', relative_to='(SELECT max(time_hour) FROM ' ~ ref('stg_flights') ~ ')'),
]) }}
-- Hourly weather per NYC origin airport, one row per (origin, time_hour) (time_hour in UTC).
-- The local year/month/day/hour are NOT unique: 01:00 occurs twice when DST ends (Nov 3).
-- Should an (origin, time_hour) repeat, keep the most complete reading; the other columns
-- break ties, so the choice is deterministic.
select
    origin,
    time_hour,
    make_date(year, month, day)                             as obs_date,
    hour                                                    as obs_local_hour,
    temp,
    dewp                                                    as dew_point,
    humid                                                   as humidity,
    wind_dir,
    -- one reading of 1048 mph is a sensor error: treat implausible speeds as missing
    case when wind_speed <= 150 then wind_speed end         as wind_speed,
    wind_gust,
    precip,
    pressure,
    visib                                                   as visibility
from {{ source('raw', 'weather') }}
qualify row_number() over (
    partition by origin, time_hour
    order by
        (temp is null)::int + (wind_speed is null)::int + (pressure is null)::int,
        year, month, day, hour,
        temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib
) = 1
