-- Groups of routes that behave alike: KMEANS over each route's traffic and delay profile (standardized by
-- default). Eight clusters; no label, no split.
CREATE OR REPLACE MODEL route_clusters
OPTIONS (
    model_type = 'kmeans',
    num_clusters = 8,
    kmeans_init_method = 'kmeans++'
) AS
SELECT * EXCLUDE (origin, dest)
FROM {{ ref('route_profiles') }}
