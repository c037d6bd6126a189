/* Aircraft from the FAA registry, one row per tail number. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_planes` AS
SELECT
  tailnum,
  year AS manufactured_year,
  manufacturer,
  CASE
    WHEN manufacturer LIKE 'AIRBUS%'
    THEN 'AIRBUS'
    WHEN manufacturer LIKE 'MCDONNELL DOUGLAS%'
    THEN 'MCDONNELL DOUGLAS'
    WHEN manufacturer LIKE 'CANADAIR%'
    THEN 'CANADAIR'
    ELSE manufacturer
  END AS manufacturer_family, /* the registry spells some makers several ways ('AIRBUS' / 'AIRBUS INDUSTRIE', ...) */
  model,
  type AS aircraft_type,
  engines AS engine_count,
  engine AS engine_type,
  seats,
  speed AS cruise_speed_mph
FROM `example-project`.`raw`.`planes`;
ASSERT (
  SELECT
    COUNT(`tailnum`) - COUNT(DISTINCT `tailnum`)
  FROM `example-project`.`main`.`stg_planes`
) <= 0 AS 'stg_planes · unique(tailnum)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_planes`
  WHERE
    `tailnum` IS NULL
) = 0 AS 'stg_planes · not_null(tailnum)';
ASSERT (
  SELECT
    COUNT(*)
  FROM `example-project`.`main`.`stg_planes`
  WHERE
    `manufactured_year` < 1950 OR `manufactured_year` > 2013
) = 0 AS 'stg_planes · in_range(manufactured_year)';
