{{ config(materialized='view', tags=['staging'], assertions=[
    unique('tailnum'),
    not_null('tailnum'),
    in_range('manufactured_year', min=1950, max=2013),
]) }}
# Aircraft from the FAA registry, one row per tail number.
SELECT
    tailnum,
    year AS manufactured_year,
    manufacturer,
    # the registry spells some makers several ways ("AIRBUS" / "AIRBUS INDUSTRIE", ...)
    CASE
        WHEN STARTS_WITH(manufacturer, "AIRBUS") THEN "AIRBUS"
        WHEN manufacturer LIKE "MCDONNELL DOUGLAS%" THEN "MCDONNELL DOUGLAS"
        WHEN manufacturer LIKE "CANADAIR%" THEN "CANADAIR"
        ELSE manufacturer
    END AS manufacturer_family,
    model,
    type AS aircraft_type,
    engines AS engine_count,
    engine AS engine_type,
    seats,
    speed AS cruise_speed_mph
FROM {{ source('raw', 'planes') }}
