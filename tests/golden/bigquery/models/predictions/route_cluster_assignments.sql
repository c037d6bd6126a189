/* The cluster of every route, beside the profile route_clusters was trained on. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_cluster_assignments` AS
SELECT
  origin,
  dest,
  centroid_id,
  nearest_centroids_distance,
  flights,
  mean_arr_delay,
  delayed_share
FROM ML.PREDICT(MODEL `example-project`.`main`.`route_clusters`, TABLE `example-project`.`main`.`route_profiles`);
