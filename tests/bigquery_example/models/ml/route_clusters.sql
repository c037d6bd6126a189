# Groups of routes that behave alike: KMEANS over each route's traffic and delay profile (standardized by
# default). Eight clusters; no label, no split.
CREATE OR REPLACE MODEL `nycflights.route_clusters`
OPTIONS (
    MODEL_TYPE = "kmeans",
    NUM_CLUSTERS = 8,
    KMEANS_INIT_METHOD = "kmeans++"
) AS
SELECT * EXCEPT (origin, dest)
FROM `nycflights.route_profiles`
