# flight_delay_weather's predictions for December, a month it never saw, gated on how far December's rows are
# from the training statistics kept with the model (ML.VALIDATE_DATA_SKEW): the build warns on temp.
{{ config(materialized='table', assertions=[
    no_data_skew(model='flight_delay_weather', numerical_default_threshold=0.2, severity='warn'),
]) }}
SELECT *
FROM ML.PREDICT(MODEL `nycflights.flight_delay_weather`,
                (SELECT flight_id, flight_date, is_delayed, dep_hour, carrier, origin, temp, humidity, wind_speed,
                        precip, visibility
                 FROM `nycflights.flight_features` WHERE month = 12 AND is_delayed IS NOT NULL))
