# How many minutes late will a flight arrive? Boosted trees (BOOSTED_TREE_REGRESSOR) on the same rows and
# features as flight_delay, categories label-encoded as BigQuery ML does for trees.
CREATE OR REPLACE MODEL `nycflights.arrival_delay`
OPTIONS (
    MODEL_TYPE = "boosted_tree_regressor",
    INPUT_LABEL_COLS = ["arr_delay"],
    DATA_SPLIT_METHOD = "custom",
    DATA_SPLIT_COL = "is_eval",
    MAX_ITERATIONS = 50,
    LEARN_RATE = 0.3,
    MAX_TREE_DEPTH = 6
) AS
SELECT * EXCEPT (is_delayed, tailnum)
FROM `nycflights.flight_training`
WHERE arr_delay IS NOT NULL
