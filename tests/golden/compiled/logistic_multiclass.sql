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
        "__input"."__toolkit_f0" * -0.029577369941162893e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN -3.141663353855953e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN -3.140203561176426e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN 6.135330465714641e0
          ELSE 0.0e0
        END + -0.14653644931774268e0 AS "__toolkit_z0",
        "__input"."__toolkit_f0" * -0.0017015810081076029e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN -3.122005620333206e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN 6.251145796385644e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN -3.07114127631093e0
          ELSE 0.0e0
        END + 0.05799889974149214e0 AS "__toolkit_z1",
        "__input"."__toolkit_f0" * 0.031278950949501665e0 + CASE
          WHEN "__input"."__toolkit_f1" = 'blue'
          THEN 6.263668974189107e0
          WHEN "__input"."__toolkit_f1" = 'green'
          THEN -3.1109422352092384e0
          WHEN "__input"."__toolkit_f1" = 'red'
          THEN -3.0641891894036695e0
          ELSE 0.0e0
        END + 0.0885375495761942e0 AS "__toolkit_z2"
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
