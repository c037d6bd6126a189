{{ config(materialized='view', tags=['features']) }}
# The rows and columns the flight models learn from: the "train" and "eval" days of the repeatable split
# (is_eval marks the eval days, for DATA_SPLIT_METHOD = "CUSTOM"; "test" days stay unseen), both labels, and
# the features known before departure.
SELECT
    arr_delay, is_delayed,
    split = "eval" AS is_eval,
    dep_hour, day_of_week, month, carrier, origin, dest, distance, tailnum,
    temp, humidity, wind_speed, precip, visibility, plane_age, seats
FROM `nycflights.flight_features`
WHERE split IN ("train", "eval")
