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
          "__input"."__toolkit_raw0"
        ))
      ) AS "__toolkit_p1"
    FROM (
      SELECT
        "__input".*,
        -0.1335313926245226e0 + "__input"."__toolkit_t0_0" + "__input"."__toolkit_t1_0" AS "__toolkit_raw0"
      FROM (
        SELECT
          "__input".*,
          CASE
            WHEN "__input"."__toolkit_f0" <= 4.75e0
            THEN CASE
              WHEN "__input"."__toolkit_f0" <= 3.25e0
              THEN -0.5214216068744074e0
              ELSE -0.03854388552022008e0
            END
            ELSE 0.5700309134940744e0
          END AS "__toolkit_t0_0",
          CASE
            WHEN "__input"."__toolkit_f0" <= 3.9295454545454547e0
            THEN CASE
              WHEN "__input"."__toolkit_f0" <= 3.25e0
              THEN -0.41929911540084724e0
              ELSE -0.0668801145961275e0
            END
            ELSE CASE
              WHEN "__input"."__toolkit_f0" <= 5.25e0
              THEN 0.06957961850981922e0
              ELSE 0.4509126292805903e0
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
  ) AS "__input"
) AS "__input"
