SELECT
  "__input"."__toolkit_y0" AS "predicted_amount",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    "__input"."__toolkit_f0" * 2.13789751872407e0 + CASE
      WHEN "__input"."__toolkit_f1" = 'blue'
      THEN 1.5892702147570112e0
      WHEN "__input"."__toolkit_f1" = 'green'
      THEN 0.02643033230905958e0
      WHEN "__input"."__toolkit_f1" = 'red'
      THEN -1.6157005470660746e0
      ELSE 0.0e0
    END + 4.895833333333336e0 AS "__toolkit_y0"
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
