-- flight_delay's question tuned: the same rows, with BigQuery ML's hyperparameter tuning choosing the depth and
-- learning rate of boosted trees. Three grid trials (HPARAM_CANDIDATES), two at a time; the objective, ROC AUC,
-- is computed on the eval days (CUSTOM split). ML.TRIAL_INFO(MODEL flight_delay_tuned) lists the trials; every
-- ML.* function uses the optimal one unless STRUCT(n AS trial_id) names another.
CREATE OR REPLACE MODEL flight_delay_tuned
OPTIONS (
    model_type = 'boosted_tree_classifier',
    input_label_cols = ['is_delayed'],
    data_split_method = 'custom',
    data_split_col = 'is_eval',
    max_iterations = 20,
    num_trials = 3,
    max_parallel_trials = 2,
    hparam_tuning_algorithm = 'grid_search',
    max_tree_depth = HPARAM_CANDIDATES([4, 6, 8]),
    hparam_tuning_objectives = ['roc_auc']
) AS
SELECT * EXCLUDE (arr_delay, tailnum)
FROM {{ ref('flight_training') }}
WHERE is_delayed IS NOT NULL
