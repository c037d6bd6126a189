{{ config(materialized='table', tags=['features']) }}
-- One row per route (origin → dest): its traffic and delay profile, what route_clusters groups.
SELECT
    origin, dest,
    avg(distance) AS distance,
    count(*) AS flights,
    avg(dep_hour) AS mean_dep_hour,
    avg(arr_delay) AS mean_arr_delay,
    avg(is_delayed::INTEGER) AS delayed_share,
    avg(is_cancelled::INTEGER) AS cancelled_share
FROM {{ ref('flight_features') }}
GROUP BY origin, dest
