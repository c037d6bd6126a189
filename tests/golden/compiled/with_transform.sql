SELECT
  "__input"."__toolkit_y0" AS "predicted_amount",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    "__input"."__toolkit_f0" * 2.1364906107584014e0 + CASE
      WHEN "__input"."__toolkit_f1" = 'bin_3'
      THEN 0.09830459556312883e0
      WHEN "__input"."__toolkit_f1" = 'bin_2'
      THEN 0.10363628215896457e0
      WHEN "__input"."__toolkit_f1" = 'bin_1'
      THEN 0.09200478164278669e0
      WHEN "__input"."__toolkit_f1" IS NULL
      THEN -0.29394565936488004e0
      ELSE 0.0e0
    END + CASE
      WHEN "__input"."__toolkit_f2" = 'blue'
      THEN 1.586215363633765e0
      WHEN "__input"."__toolkit_f2" = 'green'
      THEN 0.02317587818969645e0
      WHEN "__input"."__toolkit_f2" = 'red'
      THEN -1.6093912418234626e0
      ELSE 0.0e0
    END + 4.829884783547229e0 AS "__toolkit_y0"
  FROM (
    SELECT
      "__input".*,
      COALESCE(
        CASE
          WHEN ISNAN(CAST("__input"."__transform__x_scaled" AS DOUBLE))
          THEN NULL
          ELSE CAST("__input"."__transform__x_scaled" AS DOUBLE)
        END,
        2.0185873175002847e-17
      ) - 2.0185873175002847e-17 AS "__toolkit_f0",
      "__input"."__transform__x_bucket" AS "__toolkit_f1",
      "__input"."__transform__colour" AS "__toolkit_f2"
    FROM (
      SELECT
        "__input".*,
        (
          CAST("__input".x AS DOUBLE) - CAST(3.859090909090909 AS DOUBLE)
        ) / CAST(4.267506748075593 AS DOUBLE) AS "__transform__x_scaled",
        CASE
          WHEN "__input".x IS NULL
          THEN NULL
          WHEN "__input".x < CAST(0.0 AS DOUBLE)
          THEN 'bin_1'
          WHEN "__input".x < CAST(5.0 AS DOUBLE)
          THEN 'bin_2'
          ELSE 'bin_3'
        END AS "__transform__x_bucket",
        "__input".colour AS "__transform__colour"
      FROM input_rows AS "__input"
    ) AS "__input"
  ) AS "__input"
) AS "__input"
