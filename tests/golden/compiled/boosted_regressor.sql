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
        WHEN "__input"."__toolkit_f0" <= 3.9295454545454547e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN -0.0125000044055607e0
          ELSE -0.7037790682599988e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
          THEN 0.7488486877201419e0
          ELSE 0.10468749649822712e0
        END
      END AS "__toolkit_t0_0",
      CASE
        WHEN "__input"."__toolkit_f0" <= 6.25e0
        THEN CASE
          WHEN "__input"."__toolkit_f0" <= 0.75e0
          THEN -0.5977255116809498e0
          ELSE -0.03599790290284615e0
        END
        ELSE CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN 0.8714726961576019e0
          ELSE 0.39649481727526736e0
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
