# The cluster of every route, beside the profile route_clusters was trained on.
SELECT origin, dest, centroid_id, nearest_centroids_distance, flights, mean_arr_delay, delayed_share
FROM ML.PREDICT(MODEL {{ ref('route_clusters') }}, TABLE `nycflights.route_profiles`)
