# Will a flight arrive more than 15 minutes late, from the weather at the origin? A logistic regression trained
# on the 'train' days of January to November only; its predictions for December (december_delay_predictions)
# are gated on how far December's weather is from the weather it was trained on (no_data_skew).
CREATE OR REPLACE MODEL `nycflights.flight_delay_weather`
OPTIONS (
    MODEL_TYPE = "logistic_reg",
    INPUT_LABEL_COLS = ["is_delayed"],
    DATA_SPLIT_METHOD = "no_split",
    MAX_ITERATIONS = 20
) AS
SELECT is_delayed, dep_hour, carrier, origin, temp, humidity, wind_speed, precip, visibility
FROM `nycflights.flight_features`
WHERE month <= 11 AND split = "train" AND is_delayed IS NOT NULL
