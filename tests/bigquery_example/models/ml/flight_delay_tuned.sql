# flight_delay's question tuned: the same rows, with BigQuery ML's hyperparameter tuning choosing the depth of
# boosted trees. Three grid trials (HPARAM_CANDIDATES), two at a time; the objective, ROC AUC, is computed on the
# eval days (CUSTOM split).
CREATE OR REPLACE MODEL `nycflights.flight_delay_tuned`
OPTIONS (
    MODEL_TYPE = "boosted_tree_classifier",
    INPUT_LABEL_COLS = ["is_delayed"],
    DATA_SPLIT_METHOD = "custom",
    DATA_SPLIT_COL = "is_eval",
    MAX_ITERATIONS = 20,
    NUM_TRIALS = 3,
    MAX_PARALLEL_TRIALS = 2,
    HPARAM_TUNING_ALGORITHM = "grid_search",
    MAX_TREE_DEPTH = HPARAM_CANDIDATES([4, 6, 8]),
    HPARAM_TUNING_OBJECTIVES = ["roc_auc"]
) AS
SELECT * EXCEPT (arr_delay, tailnum)
FROM `nycflights.flight_training`
WHERE is_delayed IS NOT NULL
