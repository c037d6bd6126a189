{{ config(materialized='view', tags=['staging']) }}
-- US airports by FAA code. Not every flight destination is listed (SJU, BQN, STT, PSE are not).
select
    faa                                                     as airport_code,
    name                                                    as airport_name,
    lat                                                     as latitude,
    lon                                                     as longitude,
    alt                                                     as altitude_ft,
    tz                                                      as utc_offset_hours,
    dst                                                     as dst_rule,
    tzone                                                   as time_zone
from {{ source('raw', 'airports') }}
