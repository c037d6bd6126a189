/* One row per route (origin → dest): its traffic and delay profile, what route_clusters groups. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_profiles` AS
SELECT
  origin,
  dest,
  AVG(distance) AS distance,
  COUNT(*) AS flights,
  AVG(dep_hour) AS mean_dep_hour,
  AVG(arr_delay) AS mean_arr_delay,
  AVG(CAST(is_delayed AS INT64)) AS delayed_share,
  AVG(CAST(is_cancelled AS INT64)) AS cancelled_share
FROM `example-project`.`main`.`flight_features`
GROUP BY
  origin,
  dest;
