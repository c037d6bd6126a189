# arrival_delay's predicted minutes late for the test days, beside what actually happened.
SELECT flight_id, flight_date, carrier, origin, dest, arr_delay, predicted_arr_delay
FROM ML.PREDICT(MODEL `nycflights.arrival_delay`,
                (SELECT * FROM `nycflights.flight_features` WHERE split = "test" AND arr_delay IS NOT NULL))
