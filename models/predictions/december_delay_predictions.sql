-- flight_delay_weather's predictions for December, a month it never saw. The gate compares December's rows with
-- the training statistics kept with the model (ML.VALIDATE_DATA_SKEW): December is colder than the year's first
-- eleven months together, so `temp` moves past 0.2 and the build warns (severity 'warn': the predictions are
-- still published; 'error' would keep the previous ones and skip what reads them). `toolkit monitor` shows it.
{{ config(materialized='table', assertions=[
    no_data_skew(model='flight_delay_weather', numerical_default_threshold=0.2, severity='warn'),
]) }}
SELECT *
FROM ML.PREDICT(MODEL {{ ref('flight_delay_weather') }},
                (SELECT flight_id, flight_date, is_delayed, dep_hour, carrier, origin, temp, humidity, wind_speed,
                        precip, visibility
                 FROM {{ ref('flight_features') }} WHERE month = 12 AND is_delayed IS NOT NULL))
