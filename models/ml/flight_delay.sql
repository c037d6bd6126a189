-- Will a flight arrive more than 15 minutes late? A binary logistic regression on what is known before
-- departure: schedule, route, weather at the origin and the plane. Trained on the 'train' days and evaluated
-- on the 'eval' days of the repeatable split (CUSTOM: is_eval TRUE → eval); 'test' days are left out.
CREATE OR REPLACE MODEL flight_delay
OPTIONS (
    model_type = 'logistic_reg',
    input_label_cols = ['is_delayed'],
    data_split_method = 'custom',
    data_split_col = 'is_eval',
    l2_reg = 1.0,
    max_iterations = 50
) AS
SELECT
    is_delayed,
    split = 'eval' AS is_eval,
    dep_hour, day_of_week, month, carrier, origin, dest, distance,
    temp, humidity, wind_speed, precip, visibility, plane_age, seats
FROM {{ ref('flight_features') }}
WHERE split IN ('train', 'eval') AND is_delayed IS NOT NULL
