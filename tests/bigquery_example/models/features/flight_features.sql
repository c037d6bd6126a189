{{ config(materialized='table', tags=['features'], assertions=[
    unique('flight_id'),
    row_count_between(300000, 400000),
    values_present('origin', ['EWR', 'JFK', 'LGA']),
    column_types({'flight_id': 'VARCHAR', 'flight_date': 'DATE', 'arr_delay': 'DOUBLE', 'dep_ts': 'TIMESTAMP'}),
    null_fraction_at_most('temp', 0.01),
    not_null('arr_delay', severity='warn'),
    accepted_values('split', ['train', 'eval', 'test']),
    label_present_in_every_split('is_delayed', 'split'),
]) }}
# One row per flight: label arr_delay (minutes late at arrival) and the features known
# before departure. Cancelled flights stay in with a NULL label, as do the few flown
# flights without a recorded arrival delay; weather and plane features are NULL where
# the weather hour or the plane is missing. Caveat: AA and MQ mostly report fleet numbers,
# not tail numbers, so few of their flights find a plane, and ~2.9k match a small private
# aircraft in the registry (2-seat Cessnas, helicopters).
SELECT
    f.flight_id,
    f.flight_date,
    # Repeatable split by day (the book's Repeatable Splitting): flights of one day share weather and
    # delays, so keeping a day's flights together keeps eval and test free of leaked information.
    {{ hash_split('f.flight_date', train=0.8, eval=0.1, test=0.1) }} AS split,
    f.dep_ts,
    # label
    f.arr_delay,
    f.arr_delay > 15 AS is_delayed,
    f.is_cancelled,
    # schedule
    f.sched_dep_hour AS dep_hour,
    {{ day_of_week('f.flight_date') }} AS day_of_week,  # 1 = Monday
    f.month,
    f.carrier,
    f.origin,
    f.dest,
    f.tailnum,
    f.distance,
    # weather at the origin in the scheduled hour
    w.temp,
    w.humidity,
    w.wind_speed,
    w.precip,
    w.visibility,
    w.pressure,
    # plane (f.year is EXTRACT(YEAR FROM f.flight_date))
    f.year - p.manufactured_year AS plane_age,
    p.seats,
    p.engine_count,
    p.engine_type,
    p.manufacturer_family
FROM {{ ref('stg_flights') }} AS f
LEFT JOIN `nycflights.stg_weather` AS w
    ON w.origin = f.origin AND w.time_hour = f.time_hour
LEFT JOIN `nycflights.stg_planes` AS p
    ON p.tailnum = f.tailnum
