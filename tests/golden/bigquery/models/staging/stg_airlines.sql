/* Airline names by two-letter carrier code. */
CREATE OR REPLACE VIEW `example-project`.`main`.`stg_airlines` AS
SELECT
  carrier,
  name AS airline_name
FROM `example-project`.`raw`.`airlines`;
