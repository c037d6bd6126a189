SELECT
  CASE WHEN "__input"."__toolkit_p1" > 0.5e0 THEN TRUE ELSE FALSE END AS "predicted_is_high",
  [
    {'label': FALSE, 'prob': "__input"."__toolkit_p0"},
    {'label': TRUE, 'prob': "__input"."__toolkit_p1"}
  ] AS "predicted_is_high_probs",
  "__input"."x",
  "__input"."colour"
FROM (
  SELECT
    "__input".*,
    1.0e0 - "__input"."__toolkit_p1" AS "__toolkit_p0"
  FROM (
    SELECT
      "__input".*,
      1.0e0 / (
        1.0e0 + EXP(-(
          "__input"."__toolkit_z0"
        ))
      ) AS "__toolkit_p1"
    FROM (
      SELECT
        "__input".*,
        "__input"."__toolkit_f0" * 13.710346198900902e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 2.128968245597821e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN -0.2004417819987938e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN -2.66659829744283e0
          ELSE 0.0e0
        END + -0.7380718338438057e0 AS "__toolkit_z0"
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
