{{ config(materialized='view', tags=['staging']) }}
# Airline names by two-letter carrier code.
SELECT
    carrier,
    name AS airline_name
FROM {{ source('raw', 'airlines') }}
