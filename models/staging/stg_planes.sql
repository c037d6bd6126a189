{{ config(materialized='view', tags=['staging'], assertions=[
    unique('tailnum'),
    not_null('tailnum'),
    in_range('manufactured_year', min=1950, max=2013),
]) }}
-- Aircraft from the FAA registry, one row per tail number.
select
    tailnum,
    year                                                    as manufactured_year,
    manufacturer,
    -- the registry spells some makers several ways ('AIRBUS' / 'AIRBUS INDUSTRIE', ...)
    case
        when manufacturer like 'AIRBUS%' then 'AIRBUS'
        when manufacturer like 'MCDONNELL DOUGLAS%' then 'MCDONNELL DOUGLAS'
        when manufacturer like 'CANADAIR%' then 'CANADAIR'
        else manufacturer
    end                                                     as manufacturer_family,
    model,
    type                                                    as aircraft_type,
    engines                                                 as engine_count,
    engine                                                  as engine_type,
    seats,
    speed                                                   as cruise_speed_mph
from {{ source('raw', 'planes') }}
