-- Groups of routes that behave alike: KMEANS over each route's traffic and delay profile (standardized by
-- default). Eight clusters; no label, no split.
CREATE OR REPLACE MODEL route_clusters
OPTIONS (
    model_type = 'kmeans',
    num_clusters = 8,
    kmeans_init_method = 'kmeans++'
) AS
SELECT
    avg(distance) AS distance,
    count(*) AS flights,
    avg(dep_hour) AS mean_dep_hour,
    avg(arr_delay) AS mean_arr_delay,
    avg(is_delayed::INTEGER) AS delayed_share,
    avg(is_cancelled::INTEGER) AS cancelled_share
FROM {{ ref('flight_features') }}
GROUP BY origin, dest
