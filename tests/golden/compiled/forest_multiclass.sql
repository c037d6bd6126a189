SELECT
  "__input"."x",
  "__input"."colour",
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
  ] AS "predicted_tier_probs"
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
        WHEN "__input"."__toolkit_f0" <= 10.25e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" <= 0.5e0
          THEN [0.0e0, 0.0e0, 1.0e0]
          ELSE [0.4262295081967213e0, 0.5737704918032787e0, 0.0e0]
        END
        ELSE [1.0e0, 0.0e0, 0.0e0]
      END AS "__toolkit_t0",
      CASE
        WHEN "__input"."__toolkit_f0" <= 3.6795454025268555e0
        THEN CASE
          WHEN "__input"."__toolkit_c1" IS NULL OR "__input"."__toolkit_c1" <= 1.5e0
          THEN [0.0e0, 0.5833333333333334e0, 0.4166666666666667e0]
          ELSE [1.0e0, 0.0e0, 0.0e0]
        END
        ELSE CASE
          WHEN "__input"."__toolkit_f0" <= 4.25e0
          THEN [0.0e0, 0.2e0, 0.8e0]
          ELSE [0.21739130434782608e0, 0.34782608695652173e0, 0.43478260869565216e0]
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
