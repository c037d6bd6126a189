"""The anchor of bench_serve.py: a hand-written FastAPI + scikit-learn server of the same fitted pipeline, as a
user would write it — the model loaded once from the store, each request's instances validated by pydantic, turned
into an Arrow table and passed to the fitted preprocessing and estimator (toolkit.ml.inference.predict, which
applies the model's TRANSFORM too), the prediction columns returned as JSON. No checks beyond pydantic's, no
metrics, no reload.

    python benchmarks/serve_baseline.py WAREHOUSE MODEL PORT"""

from __future__ import annotations

import sys
from typing import Any

import duckdb
import pyarrow as pa
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from toolkit.ml.inference.predict import predict
from toolkit.ml.store.versions import load_model


class PredictRequest(BaseModel):
    instances: list[dict[str, Any]]
    parameters: dict[str, Any] | None = None


def create(warehouse: str, name: str) -> FastAPI:
    con = duckdb.connect(warehouse, read_only=True)
    trained = load_model(con, name)
    con.close()
    app = FastAPI()

    @app.post(f"/v1/models/{name}:predict")
    def predict_endpoint(request: PredictRequest) -> dict[str, Any]:
        table = pa.Table.from_pylist(request.instances)
        predicted = predict(trained, table, threshold=(request.parameters or {}).get("threshold"))
        return {"predictions": predicted.to_pylist()}

    return app


if __name__ == "__main__":
    warehouse, model, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(create(warehouse, model), host="127.0.0.1", port=port, log_level="warning", access_log=False)
