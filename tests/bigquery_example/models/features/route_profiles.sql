{{ config(materialized='table', tags=['features']) }}
# One row per route (origin → dest): its traffic and delay profile, what route_clusters groups.
SELECT
    origin, dest,
    AVG(distance) AS distance,
    COUNT(*) AS flights,
    AVG(dep_hour) AS mean_dep_hour,
    AVG(arr_delay) AS mean_arr_delay,
    AVG(CAST(is_delayed AS INT64)) AS delayed_share,
    AVG(IF(is_cancelled, 1, 0)) AS cancelled_share
FROM `nycflights.flight_features`
GROUP BY origin, dest
