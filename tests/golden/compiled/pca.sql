SELECT
  "__input"."__toolkit_pc0" - -3.399643409441403e-16 AS "principal_component_1",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    "__input"."__toolkit_f0" * 0.9988070396246725e0 + CASE
      WHEN "__input"."__toolkit_f1" = 'blue'
      THEN -0.038192055621821715e0
      WHEN "__input"."__toolkit_f1" = 'green'
      THEN 0.009182705278384254e0
      WHEN "__input"."__toolkit_f1" = 'red'
      THEN 0.02900935034343807e0
      ELSE 0.0e0
    END AS "__toolkit_pc0"
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
