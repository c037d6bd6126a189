SELECT
  "__input"."__toolkit_ranked"[1].centroid_id AS "centroid_id",
  [
    {'centroid_id': "__input"."__toolkit_ranked"[1].centroid_id, 'distance': "__input"."__toolkit_ranked"[1].distance},
    {'centroid_id': "__input"."__toolkit_ranked"[2].centroid_id, 'distance': "__input"."__toolkit_ranked"[2].distance}
  ] AS "nearest_centroids_distance",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    LIST_SORT(
      [
        {'distance': "__input"."__toolkit_d0", 'centroid_id': CAST(1 AS BIGINT)},
        {'distance': "__input"."__toolkit_d1", 'centroid_id': CAST(2 AS BIGINT)}
      ]
    ) AS "__toolkit_ranked"
  FROM (
    SELECT
      "__input".*,
      SQRT(
        GREATEST(
          (
            -2.0e0 * "__input"."__toolkit_dot0" + "__input"."__toolkit_dot2"
          ) + 0.8034900142678523e0,
          0.0e0
        )
      ) AS "__toolkit_d0",
      SQRT(
        GREATEST(
          (
            -2.0e0 * "__input"."__toolkit_dot1" + "__input"."__toolkit_dot2"
          ) + 1.1939315486079387e0,
          0.0e0
        )
      ) AS "__toolkit_d1"
    FROM (
      SELECT
        "__input".*,
        "__input"."__toolkit_f0" * 0.685373329740335e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 0.31884057971014496e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 0.3333333333333333e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 0.34782608695652173e0
          ELSE 0.0e0
        END AS "__toolkit_dot0",
        "__input"."__toolkit_f0" * -0.9272697990604541e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 0.3529411764705882e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 0.3333333333333333e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 0.3137254901960784e0
          ELSE 0.0e0
        END AS "__toolkit_dot1",
        "__input"."__toolkit_f0" * "__input"."__toolkit_f0" + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 1.0e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 1.0e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 1.0e0
          ELSE 0.0e0
        END AS "__toolkit_dot2"
      FROM (
        SELECT
          "__input".*,
          (
            COALESCE(CAST("__input"."x" AS DOUBLE), 3.859090909090909e0) - 3.859090909090909e0
          ) / 4.267506748075593e0 AS "__toolkit_f0",
          "__input"."colour" AS "__toolkit_f1"
        FROM input_rows AS "__input"
      ) AS "__input"
    ) AS "__input"
  ) AS "__input"
) AS "__input"
