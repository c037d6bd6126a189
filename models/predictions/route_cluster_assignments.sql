-- The cluster of every route, with the profile route_clusters was trained on.
SELECT origin, dest, centroid_id, nearest_centroids_distance, flights, mean_arr_delay, delayed_share
FROM ML.PREDICT(MODEL {{ ref('route_clusters') }}, (
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
))
