"""Online prediction: `toolkit serve`, an HTTP endpoint for every model of the warehouse's model store, answering
with exactly what ML.PREDICT / ML.EXPLAIN_PREDICT return for the same rows.

snapshot.py reads the store into memory without holding the warehouse file; request.py checks a request and turns
its instances into ML.PREDICT's input rows; predictor.py runs the ML.* functions over them, and evaluate.py (with the
node registry evaluate_nodes.py over evaluate_types/numeric/logic/nested.py) a compiled prediction's SQL in Python
with DuckDB's bits; app.py is the Starlette application
(endpoints, errors, reload); metrics.py and openapi.py describe the server; server.py runs it on uvicorn; oneoff.py
answers `toolkit predict`."""
