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
          WHEN "__input"."__toolkit_f0" <= 4.5e0
          THEN 4.90625e0
          ELSE 8.569444444444445e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" <= 1.5e0
          THEN 4.455357142857143e0
          ELSE 3.1838235294117645e0
        END
      END AS "__toolkit_t0",
      CASE
        WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
        THEN CASE
          WHEN "__input"."__toolkit_f0" <= 5.25e0
          THEN 4.315476190476191e0
          ELSE 8.076086956521738e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_f0" <= 4.5e0
          THEN 1.9625e0
          ELSE 5.545454545454546e0
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
