SELECT
  CASE
    WHEN "__input"."__toolkit_p0" >= "__input"."__toolkit_p1"
    AND "__input"."__toolkit_p0" >= "__input"."__toolkit_p2"
    THEN 'low'
    WHEN "__input"."__toolkit_p1" >= "__input"."__toolkit_p2"
    THEN 'mid'
    ELSE 'top'
  END AS "predicted_tier",
  [
    {'label': 'low', 'prob': "__input"."__toolkit_p0"},
    {'label': 'mid', 'prob': "__input"."__toolkit_p1"},
    {'label': 'top', 'prob': "__input"."__toolkit_p2"}
  ] AS "predicted_tier_probs",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    "__input"."__toolkit_e0" / (
      "__input"."__toolkit_e0" + "__input"."__toolkit_e1" + "__input"."__toolkit_e2"
    ) AS "__toolkit_p0",
    "__input"."__toolkit_e1" / (
      "__input"."__toolkit_e0" + "__input"."__toolkit_e1" + "__input"."__toolkit_e2"
    ) AS "__toolkit_p1",
    "__input"."__toolkit_e2" / (
      "__input"."__toolkit_e0" + "__input"."__toolkit_e1" + "__input"."__toolkit_e2"
    ) AS "__toolkit_p2"
  FROM (
    SELECT
      "__input".*,
      EXP(
        "__input"."__toolkit_z0" - GREATEST("__input"."__toolkit_z0", "__input"."__toolkit_z1", "__input"."__toolkit_z2")
      ) AS "__toolkit_e0",
      EXP(
        "__input"."__toolkit_z1" - GREATEST("__input"."__toolkit_z0", "__input"."__toolkit_z1", "__input"."__toolkit_z2")
      ) AS "__toolkit_e1",
      EXP(
        "__input"."__toolkit_z2" - GREATEST("__input"."__toolkit_z0", "__input"."__toolkit_z1", "__input"."__toolkit_z2")
      ) AS "__toolkit_e2"
    FROM (
      SELECT
        "__input".*,
        "__input"."__toolkit_f0" * 0.04911722371710975e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN -5.2986755417453e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN -5.33161590681798e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 10.64052122177798e0
          ELSE 0.0e0
        END + 0.010229773214707645e0 AS "__toolkit_z0",
        "__input"."__toolkit_f0" * -0.016066707390472577e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN -5.2854760170926625e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 10.668913938486934e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN -5.311926625456588e0
          ELSE 0.0e0
        END + 0.07151129593768114e0 AS "__toolkit_z1",
        "__input"."__toolkit_f0" * -0.033050516343979854e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 10.584151558593632e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN -5.3372980313225185e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN -5.328594596354358e0
          ELSE 0.0e0
        END + -0.08174106908324674e0 AS "__toolkit_z2"
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
