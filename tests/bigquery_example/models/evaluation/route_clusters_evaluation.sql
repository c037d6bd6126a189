# route_clusters' quality as recorded at training: davies_bouldin_index, mean_squared_distance.
SELECT * FROM ML.EVALUATE(MODEL `nycflights.route_clusters`)
