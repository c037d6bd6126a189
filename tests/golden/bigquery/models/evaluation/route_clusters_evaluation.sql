/* route_clusters' quality as recorded at training: davies_bouldin_index, mean_squared_distance. */
CREATE OR REPLACE TABLE `example-project`.`main`.`route_clusters_evaluation` AS
SELECT
  *
FROM ML.EVALUATE(MODEL `example-project`.`main`.`route_clusters`);
