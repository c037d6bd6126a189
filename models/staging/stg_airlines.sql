{{ config(materialized='view', tags=['staging']) }}
-- Airline names by two-letter carrier code.
select
    carrier,
    name                                                    as airline_name
from {{ source('raw', 'airlines') }}
