SELECT
  "__input"."__toolkit_raw0" AS "predicted_amount",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    4.895833333333333e0 + "__input"."__toolkit_t0_0" + "__input"."__toolkit_t1_0" AS "__toolkit_raw0"
  FROM (
    SELECT
      "__input".*,
      CASE
        WHEN "__input"."__toolkit_f0" <= 4.75e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN 0.04924999451637268e0
          ELSE -0.6644946803120856e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN 1.0762499999999997e0
          ELSE 0.41988636783578176e0
        END
      END AS "__toolkit_t0_0",
      CASE
        WHEN "__input"."__toolkit_f0" <= 1.75e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
          THEN -0.3887618864576022e0
          ELSE -0.9059400723530694e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
          THEN 0.48731440806866816e0
          ELSE -0.1316248948375384e0
        END
      END AS "__toolkit_t1_0"
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
          COALESCE(CAST("__input"."x" AS DOUBLE), 3.859090909090909e0) AS "__toolkit_f0",
          "__input"."colour" AS "__toolkit_f1"
        FROM input_rows AS "__input"
      ) AS "__input"
    ) AS "__input"
  ) AS "__input"
) AS "__input"
