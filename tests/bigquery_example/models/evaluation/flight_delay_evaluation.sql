# flight_delay on the held-out test days: precision, recall, accuracy, f1_score, log_loss, roc_auc.
SELECT "test" AS split, *
FROM ML.EVALUATE(MODEL `nycflights.flight_delay`,
                 (SELECT * FROM `nycflights.flight_features` WHERE split = "test" AND is_delayed IS NOT NULL))
UNION ALL BY NAME
SELECT "eval" AS split, * FROM ML.EVALUATE(MODEL `nycflights.flight_delay`)  # recorded at training
