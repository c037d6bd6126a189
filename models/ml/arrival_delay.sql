-- How many minutes late will a flight arrive? Boosted trees (BOOSTED_TREE_REGRESSOR) on the same features,
-- categories label-encoded as BigQuery ML does for trees; same custom split as flight_delay.
CREATE OR REPLACE MODEL arrival_delay
OPTIONS (
    model_type = 'boosted_tree_regressor',
    input_label_cols = ['arr_delay'],
    data_split_method = 'custom',
    data_split_col = 'is_eval',
    max_iterations = 50,
    learn_rate = 0.3,
    max_tree_depth = 6
) AS
SELECT
    arr_delay,
    split = 'eval' AS is_eval,
    dep_hour, day_of_week, month, carrier, origin, dest, distance,
    temp, humidity, wind_speed, precip, visibility, plane_age, seats
FROM {{ ref('flight_features') }}
WHERE split IN ('train', 'eval') AND arr_delay IS NOT NULL
