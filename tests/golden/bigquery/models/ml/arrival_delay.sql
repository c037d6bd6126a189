/* How many minutes late will a flight arrive? Boosted trees (BOOSTED_TREE_REGRESSOR) on the same rows and */
/* features as flight_delay, categories label-encoded as BigQuery ML does for trees. */
CREATE OR REPLACE MODEL `example-project`.`main`.`arrival_delay`
OPTIONS (
  model_type='boosted_tree_regressor',
  input_label_cols=['arr_delay'],
  data_split_method='custom',
  data_split_col='is_eval',
  max_iterations=50,
  learn_rate=0.3,
  max_tree_depth=6
) AS
SELECT
  *
  EXCEPT (is_delayed, tailnum)
FROM `example-project`.`main`.`flight_training`
WHERE
  NOT arr_delay IS NULL;
