SELECT
  "__input"."__toolkit_mean0" AS "predicted_amount",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    (
      "__input"."__toolkit_t0" + "__input"."__toolkit_t1"
    ) / 2.0e0 AS "__toolkit_mean0"
  FROM (
    SELECT
      "__input".*,
      CASE
        WHEN "__input"."__toolkit_c1" <= 0.5e0
        THEN CASE
          WHEN "__input"."__toolkit_f0" <= 3.4295454025268555e0
          THEN 4.35e0
          ELSE 8.276315789473685e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" <= 1.5e0
          THEN 4.407407407407407e0
          ELSE 3.6214285714285714e0
        END
      END AS "__toolkit_t0",
      CASE
        WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
        THEN CASE
          WHEN "__input"."__toolkit_f0" <= 3.25e0
          THEN 3.759259259259259e0
          ELSE 7.35e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_f0" <= 4.25e0
          THEN 1.923913043478261e0
          ELSE 5.2727272727272725e0
        END
      END AS "__toolkit_t1"
    FROM (
      SELECT
        "__input".*,
        CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 0.0e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 1.0e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 2.0e0
        END AS "__toolkit_c1"
      FROM (
        SELECT
          "__input".*,
          CAST(CAST(COALESCE(CAST("__input"."x" AS DOUBLE), 3.859090909090909e0) AS REAL) AS DOUBLE) AS "__toolkit_f0",
          "__input"."colour" AS "__toolkit_f1"
        FROM input_rows AS "__input"
      ) AS "__input"
    ) AS "__input"
  ) AS "__input"
) AS "__input"
