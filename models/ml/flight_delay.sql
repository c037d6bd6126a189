-- Will a flight arrive more than 15 minutes late? A binary logistic regression on what is known before
-- departure: schedule, route, weather at the origin and the plane. Trained on the 'train' days, evaluated on the
-- 'eval' days (CUSTOM split: is_eval TRUE → eval); the 'test' days are left for the evaluation tables.
CREATE OR REPLACE MODEL flight_delay
OPTIONS (
    model_type = 'logistic_reg',
    input_label_cols = ['is_delayed'],
    data_split_method = 'custom',
    data_split_col = 'is_eval',
    l2_reg = 1.0,
    max_iterations = 50
) AS
SELECT * EXCLUDE (arr_delay)
FROM {{ ref('flight_training') }}
WHERE is_delayed IS NOT NULL
