/* Groups of routes that behave alike: KMEANS over each route's traffic and delay profile (standardized by */
/* default). Eight clusters; no label, no split. */
CREATE OR REPLACE MODEL `example-project`.`main`.`route_clusters`
OPTIONS (
  model_type='kmeans',
  num_clusters=8,
  kmeans_init_method='kmeans++'
) AS
SELECT
  *
  EXCEPT (origin, dest)
FROM `example-project`.`main`.`route_profiles`;
