# Will a flight arrive more than 15 minutes late? A binary logistic regression on what is known before
# departure: schedule, route, weather at the origin and the plane. Trained on the "train" days, evaluated on the
# "eval" days (CUSTOM split: is_eval TRUE → eval); the "test" days are left for the evaluation tables.
#
# TRANSFORM makes the preprocessing part of the model (the Transform pattern): its statistics are computed on the
# training rows only, saved with the model, and re-applied by ML.PREDICT and ML.EVALUATE to raw flight rows, so
# serving cannot drift from training.
CREATE OR REPLACE MODEL `nycflights.flight_delay`
TRANSFORM (
    ML.BUCKETIZE(dep_hour, [6, 9, 12, 15, 18, 21]) AS dep_period,      # bucketized departure hour
    ML.FEATURE_CROSS(STRUCT(origin, dest)) AS route,                 # origin × destination
    CAST(ML.HASH_BUCKETIZE(tailnum, 100) AS STRING) AS plane_bucket, # hashed tail number (a category)
    ML.STANDARD_SCALER(distance) OVER () AS distance_z,              # standardized on the training rows
    day_of_week, month, carrier, temp, humidity, wind_speed, precip, visibility, plane_age, seats,
    is_delayed
)
OPTIONS (
    MODEL_TYPE = "logistic_reg",
    INPUT_LABEL_COLS = ["is_delayed"],
    DATA_SPLIT_METHOD = "custom",
    DATA_SPLIT_COL = "is_eval",
    L2_REG = 1.0,
    MAX_ITERATIONS = 50
) AS
SELECT * EXCEPT (arr_delay)
FROM {{ ref('flight_training') }}
WHERE is_delayed IS NOT NULL
