{{ config(materialized='view', tags=['staging']) }}
# US airports by FAA code. Not every flight destination is listed (SJU, BQN, STT, PSE are not).
SELECT
    faa AS airport_code,
    name AS airport_name,
    lat AS latitude,
    lon AS longitude,
    alt AS altitude_ft,
    tz AS utc_offset_hours,
    dst AS dst_rule,
    tzone AS time_zone
FROM `raw.airports`
