SELECT
  CASE
    WHEN "__input"."__toolkit_mean0" >= "__input"."__toolkit_mean1"
    AND "__input"."__toolkit_mean0" >= "__input"."__toolkit_mean2"
    THEN 'low'
    WHEN "__input"."__toolkit_mean1" >= "__input"."__toolkit_mean2"
    THEN 'mid'
    ELSE 'top'
  END AS "predicted_tier",
  [
    {'label': 'low', 'prob': "__input"."__toolkit_mean0"},
    {'label': 'mid', 'prob': "__input"."__toolkit_mean1"},
    {'label': 'top', 'prob': "__input"."__toolkit_mean2"}
  ] AS "predicted_tier_probs",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    (
      "__input"."__toolkit_t0"[1] + "__input"."__toolkit_t1"[1]
    ) / 2.0e0 AS "__toolkit_mean0",
    (
      "__input"."__toolkit_t0"[2] + "__input"."__toolkit_t1"[2]
    ) / 2.0e0 AS "__toolkit_mean1",
    (
      "__input"."__toolkit_t0"[3] + "__input"."__toolkit_t1"[3]
    ) / 2.0e0 AS "__toolkit_mean2"
  FROM (
    SELECT
      "__input".*,
      CASE
        WHEN "__input"."__toolkit_f0" <= 3.9295454025268555e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
          THEN [0.0e0, 0.6176470588235294e0, 0.38235294117647056e0]
          ELSE [1.0e0, 0.0e0, 0.0e0]
        END
        ELSE CASE
          WHEN "__input"."__toolkit_f0" <= 4.75e0
          THEN [0.25e0, 0.0e0, 0.75e0]
          ELSE [0.4e0, 0.275e0, 0.325e0]
        END
      END AS "__toolkit_t0",
      CASE
        WHEN "__input"."__toolkit_f0" <= 2.75e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN [0.0e0, 0.0e0, 1.0e0]
          ELSE [0.44e0, 0.56e0, 0.0e0]
        END
        ELSE CASE
          WHEN "__input"."__toolkit_f0" <= 5.75e0
          THEN [0.32142857142857145e0, 0.6071428571428571e0, 0.07142857142857142e0]
          ELSE [0.36666666666666664e0, 0.36666666666666664e0, 0.26666666666666666e0]
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
