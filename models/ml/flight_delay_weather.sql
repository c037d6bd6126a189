-- Will a flight arrive more than 15 minutes late, from the weather at the origin? A logistic regression trained
-- on the 'train' days of January to November only; its predictions for December (december_delay_predictions)
-- are gated on how far December's weather is from the weather it was trained on (no_data_skew).
CREATE OR REPLACE MODEL flight_delay_weather
OPTIONS (
    model_type = 'logistic_reg',
    input_label_cols = ['is_delayed'],
    data_split_method = 'no_split',
    max_iterations = 20
) AS
SELECT is_delayed, dep_hour, carrier, origin, temp, humidity, wind_speed, precip, visibility
FROM {{ ref('flight_features') }}
WHERE month <= 11 AND split = 'train' AND is_delayed IS NOT NULL
