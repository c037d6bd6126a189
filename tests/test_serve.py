"""`toolkit serve`: every model type answers over HTTP exactly what ML.PREDICT / ML.EXPLAIN_PREDICT return for
the same rows (compared value by value, floats bit for bit), TRANSFORM models from their raw columns; bad requests
are 4xx JSON errors naming the field; the store is read without holding the warehouse, and reloaded."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from ml_data import DIABETES, IRIS, PENGUIN_MASS, connect
from starlette.testclient import TestClient

from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store.lifecycle import drop_model
from toolkit.ml.store.versions import save_model
from toolkit.ml.training.train import train_model
from toolkit.serve.app import ServeOptions, create_app
from toolkit.serve.predictor import INLINE_INSTANCES, Engine
from toolkit.serve.request import jsonable
from toolkit.sql.dialect import DIALECT

IRIS_BINARY = "SELECT species = 'virginica' AS label, * EXCLUDE (species) FROM iris"
IRIS_FEATURES = "SELECT * EXCLUDE (species) FROM iris"
DIABETES_TRANSFORM = ["ML.STANDARD_SCALER(bmi) OVER () AS bmi_s", "age * 2 AS age2", "sex", "label"]
PENGUIN_TRANSFORM = ["ML.MIN_MAX_SCALER(flipper_length_mm) OVER () AS flipper", "lower(island) AS island", "label"]
# model: (MODEL_TYPE, training query, TRANSFORM, options, the rows predicted)
MODELS = {
    "linear": ("LINEAR_REG", PENGUIN_MASS, (), {"data_split_method": "NO_SPLIT"},
               "SELECT * EXCLUDE (body_mass_g) FROM penguins ORDER BY rowid LIMIT 9"),  # NULLs in row 4
    "binary": ("LOGISTIC_REG", IRIS_BINARY, (), {"max_iterations": 50}, f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "multiclass": ("LOGISTIC_REG", IRIS, (), {"max_iterations": 50}, f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "boosted": ("BOOSTED_TREE_CLASSIFIER", IRIS, (), {"max_iterations": 3}, f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "forest": ("RANDOM_FOREST_REGRESSOR", DIABETES, (), {"num_parallel_tree": 30, "max_tree_depth": 6},
               "SELECT * EXCLUDE (target) FROM diabetes WHERE rowid % 40 = 0"),
    "dnn": ("DNN_CLASSIFIER", IRIS, (), {"max_iterations": 5, "hidden_units": [4]},
            f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "kmeans": ("KMEANS", IRIS_FEATURES, (), {"num_clusters": 3}, f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "pca": ("PCA", IRIS_FEATURES, (), {"num_principal_components": 2}, f"{IRIS_FEATURES} WHERE rowid % 15 = 0"),
    "diabetes_t": ("LINEAR_REG", DIABETES, DIABETES_TRANSFORM, {"data_split_method": "NO_SPLIT"},
                   "SELECT * EXCLUDE (target) FROM diabetes WHERE rowid % 40 = 0"),
    "dnn_t": ("DNN_REGRESSOR", PENGUIN_MASS, PENGUIN_TRANSFORM, {"max_iterations": 3, "hidden_units": [4]},
              "SELECT * EXCLUDE (body_mass_g) FROM penguins ORDER BY rowid LIMIT 9"),
    "only_t": ("TRANSFORM_ONLY", DIABETES, DIABETES_TRANSFORM, {}, None),
}


def _train(con: duckdb.DuckDBPyConnection, name: str, **changed) -> int:
    model_type, query, transform, options, _ = MODELS[name]
    training = train_model(con, name=name, options={"model_type": model_type, **options, **changed}, query=query,
                           transform=transform)
    return save_model(con, training)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "warehouse.duckdb"
    con = connect(path)
    for name in MODELS:
        _train(con, name)
    con.close()
    return path


@pytest.fixture(scope="module")
def client(warehouse):
    with TestClient(create_app(ServeOptions(warehouse, max_instances=50, max_body_bytes=20_000))) as client:
        yield client


def ml_rows(warehouse: Path, statement: str) -> tuple[list[str], list[dict]]:
    """The columns and rows of a statement with ML.* calls, run as `toolkit query` runs it, as JSON values."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        with applied_ml_calls(con, sqlglot.parse_one(statement, dialect=DIALECT)) as applied:
            table = con.sql(applied.sql).to_arrow_table()
    finally:
        con.close()
    return table.column_names, [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]


def instances(warehouse: Path, sql: str) -> list[dict]:
    """The rows of `sql` as a client would send them: JSON values."""
    con = connect()  # the same data, without opening the warehouse
    rows = con.sql(sql).to_arrow_table().to_pylist()
    return json.loads(json.dumps([{k: jsonable(v) for k, v in row.items()} for row in rows]))


def _same(served: list[dict], expected: list[dict], columns: list[str]) -> None:
    assert len(served) == len(expected)
    for index, (got, want) in enumerate(zip(served, expected)):
        assert list(got) == columns, f"row {index}: columns"
        for column in columns:
            assert got[column] == want[column], f"row {index}, {column}: {got[column]!r} != {want[column]!r}"


@pytest.mark.parametrize("name", [n for n, spec in MODELS.items() if spec[4] is not None])
def test_predict_answers_what_ml_predict_returns(warehouse, client, name):
    rows_sql = MODELS[name][4]
    sent = instances(warehouse, rows_sql)
    response = client.post(f"/v1/models/{name}:predict", json={"instances": sent})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["modelVersionId"], response.headers["x-model-version"]) == (name, "1", "1")
    columns, expected = ml_rows(warehouse, f"SELECT * FROM ML.PREDICT(MODEL {name}, ({rows_sql}))")
    _same(body["predictions"], expected, columns)
    # The first request ran the compiled query in DuckDB; the next ones are evaluated in Python: the same answer.
    again = client.post(f"/v1/models/{name}:predict", json={"instances": sent})
    _same(again.json()["predictions"], expected, columns)
    engine = client.app.state.server.engine
    programs = [key for key, program in engine._programs.items() if key[0][0] == name and program is not None]
    assert bool(programs) == (MODELS[name][0] not in ("DNN_CLASSIFIER", "DNN_REGRESSOR", "RANDOM_FOREST_REGRESSOR"))
    if programs:  # a compiled prediction is row by row: one row alone gets its bits from the batch
        one = client.post(f"/v1/models/{name}:predict", json={"instances": sent[:1]})
        _same(one.json()["predictions"], expected[:1], columns)
        # Column-wise (an engine evaluating column-wise from 2 instances): the same bits again.
        assert all(engine._programs[key].columns is not None for key in programs)
        columnwise, served = type(engine)(columns_from=2), client.app.state.server.snapshot.find(name)
        for _ in range(2):  # in DuckDB, then column-wise
            _same(columnwise.run("PREDICT", served, sent, {}), expected, columns)
        assert [p.columns is not None for p in columnwise._programs.values()] == [True]


@pytest.mark.parametrize("name", ["binary", "kmeans", "linear"])
def test_the_event_loop_answers_what_the_worker_threads_answer(warehouse, client, name):
    """Once a model, input schema and settings have been seen, Engine.begin answers at once (row-wise from the
    instances' Python values below `columns_from`, column-wise from their Arrow table above), as DuckDB would."""
    sent = instances(warehouse, MODELS[name][4])
    assert client.post(f"/v1/models/{name}:predict", json={"instances": sent}).status_code == 200
    served = client.app.state.server.snapshot.find(name)
    engine, duckdb_engine = type(client.app.state.server.engine)(columns_from=len(sent)), Engine(evaluate=False)
    assert engine.begin("PREDICT", served, sent, {})[0] is None  # nothing seen yet: DuckDB, in a worker thread
    engine.answer("PREDICT", served, sent, {})
    for batch in (sent[:1], sent[:-1], sent, sent * 3):
        answered, passed_on = engine.begin("PREDICT", served, batch, {})
        assert answered is not None and answered == duckdb_engine.run("PREDICT", served, batch, {})
        assert not isinstance(passed_on, pa.Table) if len(batch) < len(sent) else isinstance(passed_on, pa.Table)
    # another version, :explain, or more than INLINE_INSTANCES instances: the worker threads answer
    assert engine.begin("PREDICT", served, sent, {"version": 2}) == (None, sent)
    assert engine.begin("EXPLAIN_PREDICT", served, sent, {}) == (None, sent)
    assert engine.begin("PREDICT", served, sent * (INLINE_INSTANCES // len(sent) + 1), {})[0] is None
    forest = client.app.state.server.snapshot.find("forest")  # scikit-learn in-process: nothing read on the loop
    rows = instances(warehouse, MODELS["forest"][4])
    assert client.post("/v1/models/forest:predict", json={"instances": rows}).status_code == 200
    assert engine.begin("PREDICT", forest, rows, {}) == (None, rows)


def test_the_models_cover_every_prediction_path(client):
    paths = {m["name"]: m["prediction_path"] for m in client.get("/v1/models").json()["models"]}
    assert set(paths.values()) == {"compiled SQL (evaluated in Python, else DuckDB)", "Python (in-process)",
                                   "Python, TRANSFORM in DuckDB", "none (TRANSFORM_ONLY)"}
    assert paths["forest"] == "Python (in-process)" and paths["dnn_t"] == "Python, TRANSFORM in DuckDB"


@pytest.mark.parametrize("threshold", [0.05, 0.9])
def test_threshold_parameter_is_ml_predict_threshold(warehouse, client, threshold):
    rows_sql = MODELS["binary"][4]
    response = client.post("/v1/models/binary:predict", json={"instances": instances(warehouse, rows_sql),
                                                                "parameters": {"threshold": threshold}})
    columns, expected = ml_rows(warehouse, f"SELECT * FROM ML.PREDICT(MODEL binary, ({rows_sql}), "
                                           f"STRUCT({threshold} AS threshold))")
    _same(response.json()["predictions"], expected, columns)
    assert len({row["predicted_label"] for row in expected}) == 2 or threshold == 0.9


@pytest.mark.parametrize("name", ["linear", "boosted", "diabetes_t"])
def test_explain_answers_what_ml_explain_predict_returns(warehouse, client, name):
    rows_sql = MODELS[name][4]
    response = client.post(f"/v1/models/{name}:explain", json={"instances": instances(warehouse, rows_sql),
                                                                 "parameters": {"top_k_features": 2}})
    assert response.status_code == 200, response.text
    columns, expected = ml_rows(warehouse, f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL {name}, ({rows_sql}), "
                                           "STRUCT(2 AS top_k_features))")
    _same(response.json()["predictions"], expected, columns)


def test_extra_fields_pass_through_and_names_ignore_case(warehouse, client):
    sent = instances(warehouse, MODELS["multiclass"][4])[:2]
    renamed = [{"request_id": i, **{k.upper(): v for k, v in row.items()}} for i, row in enumerate(sent)]
    plain = client.post("/v1/models/multiclass:predict", json={"instances": sent}).json()["predictions"]
    cased = client.post("/v1/models/MultiClass:predict", json={"instances": renamed}).json()["predictions"]
    assert [row["predicted_label"] for row in cased] == [row["predicted_label"] for row in plain]
    assert [row["request_id"] for row in cased] == [0, 1] and "SEPAL_LENGTH" in cased[0]
    # floats pass through to the last bit (the answer's JSON gives each its shortest round-trip form)
    exact = [{**row, "score": value} for row, value in zip(sent, (0.1 + 0.2, 5e-324))]
    answered = client.post("/v1/models/multiclass:predict", json={"instances": exact}).json()["predictions"]
    assert [row["score"] for row in answered] == [0.30000000000000004, 5e-324]


def test_model_description_lists_versions_schema_transform_and_metrics(warehouse, client):
    body = client.get("/v1/models/diabetes_t").json()
    assert [v["version"] for v in body["versions"]] == [1]
    assert [(c["name"], c["type"]) for c in body["input_schema"]] == [("bmi", "DOUBLE"), ("age", "DOUBLE"),
                                                                      ("sex", "DOUBLE")]
    assert [o["name"] for o in body["transform"]["outputs"]] == ["bmi_s", "age2", "sex", "label"]
    _, evaluated = ml_rows(warehouse, "SELECT * FROM ML.EVALUATE(MODEL diabetes_t)")
    assert body["metrics"]["r2_score"] == evaluated[0]["r2_score"]
    penguins = client.get("/v1/models/linear").json()["input_schema"]
    assert {c["name"]: c["json_schema"]["type"] for c in penguins}["island"] == ["string", "null"]


def test_openapi_describes_each_model_from_its_schemas(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/models/multiclass:predict"]["post"]
    instance = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["instances"]["items"]
    assert instance["required"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    row = answer["properties"]["predictions"]["items"]["properties"]
    assert row["predicted_label_probs"]["type"] == ["array", "null"] and "sepal_length" in row
    assert "/v1/models/only_t:predict" not in document["paths"]  # a TRANSFORM_ONLY model does not predict


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"{not json", 400, "body"),
    (b"[1, 2]", 400, "body"),
    (b'{"instances": []}', 400, "instances"),
    (b'{"instances": [1]}', 400, "instances[0]"),
    (b'{"instances": [{"sepal_length": 1}], "extra": 1}', 400, "extra"),
    (b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]}', 400,
     "instances[0].petal_width"),
    (b'{"instances": [{"sepal_length": "long", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}',
     400, "instances[0].sepal_length"),
    (b'{"instances": [{"sepal_length": true, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}',
     400, "instances[0].sepal_length"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}], '
     b'"parameters": {"threshold": 2}}', 400, "parameters.threshold"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}], '
     b'"parameters": {"trial_id": 2}}', 400, "parameters.trial_id"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}], '
     b'"parameters": {"version": 7}}', 400, "parameters.version"),
    (b"[" * 50_000 + b"]" * 50_000, 413, "body"),
    (b"[" * 9_000 + b"]" * 9_000, 400, "body"),  # nested too deeply for the parser
    (b'{"instances": [{"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}', 400,
     "body"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "": 1}]}',
     400, "instances[0]"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, '
     b'"note": "\\ud800"}]}', 400, "instances"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}], '
     b'"parameters": []}', 400, "parameters"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, '
     b'"id": 1}, {"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "id": "a"}]}',
     400, "instances[*].id"),
    # an integer beyond a double's range for a DOUBLE column; beyond 64 bits in a field passed through (as JSON
    # reads it: whole, not the float orjson would make of it)
    (b'{"instances": [{"sepal_length": 1' + b"0" * 400 + b', "sepal_width": 3.5, "petal_length": 1.4, '
     b'"petal_width": 0.2}]}', 400, "instances[0].sepal_length"),
    (b'{"instances": [{"sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, '
     b'"id": 123456789012345678901234567890}]}', 400, "instances[*].id"),
    (json.dumps({"instances": [{"sepal_length": 1}] * 51}).encode(), 413, "instances"),
    (json.dumps({"instances": [{"sepal_length": 1, "pad": "x" * 30_000}]}).encode(), 413, "body"),
])
def test_bad_requests_are_4xx_naming_the_field(client, body, status, field):
    response = client.post("/v1/models/binary:predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(("path", "status", "field"), [
    ("/v1/models/binari:predict", 404, "model"),
    ("/v1/models/binary:predicts", 404, "path"),
    ("/v1/models/only_t:predict", 400, "model"),
])
def test_unknown_models_and_models_that_cannot_predict(client, path, status, field):
    response = client.post(path, json={"instances": [{"bmi": 1.0, "age": 2.0, "sex": 1.0}]})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    if status == 404 and field == "model":
        assert 'did you mean "binary"' in error["message"]


@pytest.mark.parametrize("name", ["dnn_t", "diabetes_t", "forest", "linear"])
def test_a_request_failing_inside_the_model_leaves_the_server_answering(warehouse, client, name):
    sent = instances(warehouse, MODELS[name][4])[:2]
    clashing = [{**row, "predicted_label": 1} for row in sent]  # ML.PREDICT refuses an input with its output's name
    for _ in range(2):
        refused = client.post(f"/v1/models/{name}:predict", json={"instances": clashing})
        assert refused.status_code == 400 and "predicted_label" in refused.json()["error"]["message"]
        assert client.post(f"/v1/models/{name}:predict", json={"instances": sent}).status_code == 200


def test_a_slow_prediction_does_not_hold_up_other_requests(warehouse):
    """Predictions run in worker threads: while one is stuck inside the model, others are answered."""
    app = create_app(ServeOptions(warehouse))
    engine = app.state.server.engine
    entered, release = threading.Event(), threading.Event()
    run = engine.run

    def slow_for_linear(function, served, rows, parameters):
        if served.name == "linear":
            entered.set()
            assert release.wait(30), "never released"
        return run(function, served, rows, parameters)

    engine.run = slow_for_linear
    with TestClient(app) as client:
        statuses = []
        stuck = threading.Thread(target=lambda: statuses.append(client.post(
            "/v1/models/linear:predict", json={"instances": instances(warehouse, MODELS["linear"][4])}).status_code))
        stuck.start()
        assert entered.wait(30)
        other = client.post("/v1/models/pca:predict", json={"instances": instances(warehouse, MODELS["pca"][4])})
        assert other.status_code == 200 and not release.is_set() and stuck.is_alive()
        assert client.get("/healthz").status_code == 200
        release.set()
        stuck.join(30)
    assert statuses == [200]


def _metric(client, line_start: str) -> float:
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(line_start + " ")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_the_server_keeps_answering_and_counts_errors(warehouse, client):
    labels = '{model="pca",endpoint="predict"'
    names = [f"toolkit_requests_total{labels},code=\"400\"}}", f"toolkit_requests_total{labels},code=\"200\"}}",
             f"toolkit_request_errors_total{labels}}}", f"toolkit_request_duration_seconds_count{labels}}}",
             f"toolkit_request_duration_seconds_bucket{labels},le=\"+Inf\"}}"]
    before = [_metric(client, name) for name in names]
    for _ in range(3):
        assert client.post("/v1/models/pca:predict", content=b"{").status_code == 400
    good = client.post("/v1/models/pca:predict", json={"instances": instances(warehouse, MODELS["pca"][4])})
    assert good.status_code == 200
    after = [_metric(client, name) for name in names]
    assert [a - b for a, b in zip(after, before)] == [3, 1, 3, 4, 4]
    assert 'toolkit_model_version{model="pca"} 1' in client.get("/metrics").text
    assert client.get("/healthz").json()["status"] == "ok"


# --- the prediction endpoints as ASGI messages --------------------------------------------------------------------
def _exchange(app, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None,
              method: str = "POST", root_path: str = "", disconnect: bool = False) -> tuple[int, list, bytes]:
    """The status, headers and body the application sends for a request whose body comes in `chunks` (then the
    client leaves, with `disconnect`), driven as uvicorn drives it."""
    import asyncio

    if headers is None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(b"".join(chunks))).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": root_path + path, "raw_path": (root_path + path).encode(), "query_string": b"",
             "root_path": root_path, "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    messages = [{"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1 or disconnect}
                for index, chunk in enumerate(chunks)]
    messages.append({"type": "http.disconnect"})
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], sent[0]["headers"], sent[1]["body"]


GOOD = json.dumps({"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
                                 {"sepal_length": 6.7, "sepal_width": 3, "petal_length": 5.2, "petal_width": 2.3}]})


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/models/binary:predict", GOOD), ("/v1/models/BINARY:explain", GOOD), ("/v1/models/binary:predict", "{"),
    ("/v1/models/binari:predict", GOOD), ("/v1/models/binary:guess", GOOD), ("/v1/models/binary:", GOOD),
    ("/v1/models/only_t:predict", GOOD), ("/v1/models/binary:predict", '{"instances": [{"sepal_length": 1}]}'),
])
def test_predictions_are_answered_as_starlettes_responses_would_be(client, path, body):
    """Before routing (POST), or through Starlette's routing (below a root path): the same messages, the headers
    and bodies Starlette's Response and JSONResponse make."""
    from starlette.responses import JSONResponse, Response

    app = client.app
    for _ in range(2):  # the second time from the evaluator's and the instance readings' caches
        status, headers, content = _exchange(app, path, [body.encode()])
        assert _exchange(app, path, [body.encode()], root_path="/serving") == (status, headers, content)
        answer = json.loads(content)
        if status == 200:
            version = str(answer["modelVersionId"])
            assert headers == Response(content, media_type="application/json",
                                       headers={"x-model-version": version}).raw_headers
        else:
            expected = JSONResponse(answer, status_code=status)
            assert (headers, content) == (expected.raw_headers, expected.body) and answer["error"]["code"] == status
    assert client.post(path, content=body).content == content


def test_the_body_is_read_chunk_by_chunk_within_its_limit(client):
    """A body in pieces answers as in one; its size is checked as it comes when no length is declared; a client
    leaving before the whole body is a 400. Every outcome is counted."""
    app = client.app
    whole = _exchange(app, "/v1/models/binary:predict", [GOOD.encode()])
    assert whole[0] == 200
    pieces = [GOOD[i:i + 7].encode() for i in range(0, len(GOOD), 7)] + [b""]
    assert _exchange(app, "/v1/models/binary:predict", pieces, headers=[]) == whole
    before = _metric(client, 'toolkit_requests_total{model="binary",endpoint="predict",code="413"}')
    big = [b'{"instances": [{"pad": "' + b"x" * 15_000, b"x" * 15_000 + b'"}]}']  # the limit is 20,000 bytes
    status, _, content = _exchange(app, "/v1/models/binary:predict", big, headers=[])
    assert status == 413 and json.loads(content)["error"]["message"] == "the body is over 20000 bytes"
    declared = _exchange(app, "/v1/models/binary:predict", [b"{}"], headers=[(b"content-length", b"30000")])
    assert declared[0] == 413 and "the body has 30000 bytes" in json.loads(declared[2])["error"]["message"]
    after = _metric(client, 'toolkit_requests_total{model="binary",endpoint="predict",code="413"}')
    assert after - before == 2
    status, _, content = _exchange(app, "/v1/models/binary:predict", [GOOD[:20].encode()], disconnect=True)
    assert status == 400 and json.loads(content)["error"] == {
        "code": 400, "message": "the client closed the connection before sending the whole body", "field": "body"}


def test_get_describes_a_model_and_other_methods_are_refused(client):
    assert client.get("/v1/models/binary").json()["name"] == "binary"
    assert client.post("/v1/models/binary").status_code == 405
    assert client.put("/v1/models/binary:predict", json={}).status_code == 405
    refused = client.get("/v1/models/binary:predict")  # a GET of a method: its empty body is no request
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "body"
    assert client.post("/v1/models/binary:predict/more", content=GOOD).status_code == 404


def test_a_bug_answering_a_prediction_is_a_500_and_is_raised(small_warehouse):
    app = create_app(ServeOptions(small_warehouse))

    def broken(*arguments):
        raise ZeroDivisionError("a bug")

    app.state.server.engine.begin = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/models/linear_d:predict", json={"instances": [{"age": 1}]})
        assert response.status_code == 500
        assert response.json() == {"error": {"code": 500, "message": "internal error: ZeroDivisionError"}}
        assert client.get("/healthz").status_code == 200
    with TestClient(app) as client, pytest.raises(ZeroDivisionError):
        client.post("/v1/models/linear_d:predict", json={"instances": [{"age": 1}]})


# --- reading the store without holding the warehouse, and reloading it ------------------------------------------
ROWS = "SELECT * EXCLUDE (target) FROM diabetes WHERE rowid % 50 = 0"


def _expected(con: duckdb.DuckDBPyConnection, version: int) -> list[dict]:
    statement = f"SELECT * FROM ML.PREDICT(MODEL linear_d, ({ROWS}), STRUCT({version} AS version))"
    with applied_ml_calls(con, sqlglot.parse_one(statement, dialect=DIALECT)) as applied:
        table = con.sql(applied.sql).to_arrow_table()
    return [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]


def _save_version(con: duckdb.DuckDBPyConnection, l2_reg: float) -> int:
    training = train_model(con, name="linear_d", options={"model_type": "LINEAR_REG", "l2_reg": l2_reg,
                                                         "data_split_method": "NO_SPLIT"}, query=DIABETES)
    return save_model(con, training)


@pytest.fixture
def small_warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    _save_version(con, 0.0)
    con.close()
    return path


def test_parameters_version_answers_with_that_stored_version(small_warehouse):
    con = connect(small_warehouse)
    assert _save_version(con, 500.0) == 2
    expected = {version: _expected(con, version) for version in (1, 2)}
    con.close()
    assert expected[1] != expected[2]
    sent = instances(small_warehouse, ROWS)
    with TestClient(create_app(ServeOptions(small_warehouse))) as client:
        for version, parameters in ((2, {}), (1, {"version": 1}), (2, {"version": 2}), (1, {"VERSION": 1})):
            for _ in range(2):  # the second time from the bounded cache, evaluated in Python
                response = client.post("/v1/models/linear_d:predict", json={"instances": sent,
                                                                             "parameters": parameters})
                assert response.status_code == 200, response.text
                assert (response.json()["modelVersionId"], response.headers["x-model-version"]) == (str(version),) * 2
                _same(response.json()["predictions"], expected[version], list(expected[version][0]))
        for wrong in (3, "1", True, 1.5):
            refused = client.post("/v1/models/linear_d:predict", json={"instances": sent[:1],
                                                                        "parameters": {"version": wrong}})
            assert refused.status_code == 400 and refused.json()["error"]["field"] == "parameters.version"
            assert "its versions are 1, 2" in refused.json()["error"]["message"]


def test_a_model_dropped_and_trained_again_is_answered_by_the_new_one(small_warehouse):
    """DROP MODEL then CREATE MODEL numbers the new model version 1 again: nothing the server built for the old
    version 1 (checks, compiled query, generated program) may answer for it."""
    sent = instances(small_warehouse, ROWS)
    with TestClient(create_app(ServeOptions(small_warehouse))) as client:
        for _ in range(2):  # the second answer from the program built by the first
            old = client.post("/v1/models/linear_d:predict", json={"instances": sent[:1]}).json()
        con = connect(small_warehouse)
        drop_model(con, "linear_d")
        assert _save_version(con, 500.0) == 1
        expected = _expected(con, 1)[:1]
        con.close()
        assert client.post("/v1/admin:reload").status_code == 200
        for _ in range(2):
            new = client.post("/v1/models/linear_d:predict", json={"instances": sent[:1]}).json()
            assert new["modelVersionId"] == "1" and new["predictions"] == expected
        assert new["predictions"] != old["predictions"]


def test_a_build_holding_the_warehouse_and_the_server_coexist(small_warehouse):
    writer = duckdb.connect(str(small_warehouse))  # as a build does: the file's lock held throughout
    try:
        with TestClient(create_app(ServeOptions(small_warehouse))) as client:
            assert client.get("/healthz").json()["source"] == "copy"
            sent = instances(small_warehouse, ROWS)
            first = client.post("/v1/models/linear_d:predict", json={"instances": sent}).json()
            assert first["modelVersionId"] == "1" and first["predictions"] == _expected(writer, 1)
            assert _save_version(writer, 50.0) == 2  # the build trains a new version while the server runs
            reloaded = client.post("/v1/admin:reload").json()
            assert reloaded == {"reloaded": True, "source": "copy", "models": {"linear_d": 2}}
            second = client.post("/v1/models/linear_d:predict", json={"instances": sent}).json()
            assert second["modelVersionId"] == "2" and second["predictions"] == _expected(writer, 2)
            assert second["predictions"] != first["predictions"]
            versions = client.get("/v1/models/linear_d").json()["versions"]
            assert [v["version"] for v in versions] == [1, 2]
    finally:
        writer.close()
    writer = duckdb.connect(str(small_warehouse))  # and the server never kept the file: a writer opens it at once
    writer.close()


def test_a_writer_in_another_process_does_not_keep_the_server_from_starting(small_warehouse):
    import subprocess
    import sys

    code = (f"import duckdb, sys; con = duckdb.connect({str(small_warehouse)!r}); print('held', flush=True); "
            "sys.stdin.readline()")
    holder = subprocess.Popen([sys.executable, "-c", code],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with TestClient(create_app(ServeOptions(small_warehouse))) as client:
            assert client.get("/healthz").json()["source"] == "copy"
            answer = client.post("/v1/models/linear_d:predict", json={"instances": instances(small_warehouse, ROWS)})
            assert answer.status_code == 200
            holder.communicate("\n", timeout=30)  # the writer is done
            assert client.post("/v1/admin:reload").json()["source"] == "warehouse"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_reload_under_load_fails_no_request(small_warehouse):
    import http.client

    import uvicorn

    app = create_app(ServeOptions(small_warehouse))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):  # bounded wait for the socket
            if server.started:
                break
            threading.Event().wait(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        body = json.dumps({"instances": instances(small_warehouse, ROWS)})
        answers: list[tuple[int, dict]] = []
        done = threading.Event()

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            after_reload = 0  # requests sent once the reload has answered: these must see version 2
            deadline = time.monotonic() + 60  # bounded: at most a minute of load
            while after_reload < 20 and time.monotonic() < deadline:
                after_reload += done.is_set()
                connection.request("POST", "/v1/models/linear_d:predict", body,
                                   {"content-type": "application/json"})
                response = connection.getresponse()
                answers.append((response.status, json.loads(response.read())))
            connection.close()

        clients = [threading.Thread(target=client) for _ in range(3)]
        for c in clients:
            c.start()
        con = duckdb.connect(str(small_warehouse))
        _save_version(con, 50.0)
        expected = {"1": _expected(con, 1), "2": _expected(con, 2)}
        con.close()
        reload = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        reload.request("POST", "/v1/admin:reload")
        assert reload.getresponse().status == 200
        done.set()
        for c in clients:
            c.join(timeout=60)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert answers and all(status == 200 for status, _ in answers)
    assert {answer["modelVersionId"] for _, answer in answers} == {"1", "2"}
    for _, answer in answers:
        assert answer["predictions"] == expected[answer["modelVersionId"]]


def test_the_server_watches_the_warehouse_for_new_versions(small_warehouse):
    with TestClient(create_app(ServeOptions(small_warehouse, watch_seconds=0.05))) as client:
        con = duckdb.connect(str(small_warehouse))
        _save_version(con, 50.0)
        con.close()
        for _ in range(200):  # bounded: the watcher looks every 0.05 s
            if client.get("/healthz").json()["models"] == {"linear_d": 2}:
                break
            threading.Event().wait(0.05)
        assert client.get("/healthz").json()["models"] == {"linear_d": 2}


# --- the command ---------------------------------------------------------------------------------------------
def test_serve_command_refuses_a_model_the_store_lacks(project, toolkit, small_warehouse):
    folder = project({})
    result = toolkit(folder, "serve", "--warehouse", str(small_warehouse), "--models", "linear_dd")
    assert result.exit_code == 2
    assert 'no model named linear_dd' in result.output and 'did you mean "linear_d"' in result.output


def test_predict_command_answers_as_the_endpoint(project, toolkit, small_warehouse, tmp_path):
    folder = project({})
    con = duckdb.connect(str(small_warehouse), read_only=True)
    expected = _expected(con, 1)
    con.close()
    sent = instances(small_warehouse, ROWS)
    lines = tmp_path / "instances.jsonl"
    lines.write_text("\n".join(json.dumps(row) for row in sent[:3]) + "\n\n"
                     + json.dumps({"instances": sent[3:]}) + "\n")
    result = toolkit(folder, "predict", "linear_d", "--warehouse", str(small_warehouse), "--file", str(lines))
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in result.stdout.splitlines()]
    columns = list(expected[0])
    _same(got, expected, columns)
    with TestClient(create_app(ServeOptions(small_warehouse))) as client:  # the endpoint's answer: the same
        assert client.post("/v1/models/linear_d:predict", json={"instances": sent}).json()["predictions"] == got
    one = toolkit(folder, "predict", "linear_d", "--warehouse", str(small_warehouse), "--json", json.dumps(sent[0]))
    assert one.exit_code == 0 and [json.loads(one.stdout)] == got[:1]


@pytest.mark.parametrize("arguments, stdin, status, field, line", [
    (["linear_dd", "--json", "{}"], None, 404, "model", None),
    (["linear_d"], '{"age": 1}\n', 400, "instances[0].sex", 1),
    (["linear_d"], '{"age": 1, "sex": 1, "bmi": 1, "bp": 1, "s1": 1, "s2": 1, "s3": 1, "s4": 1, "s5": 1, "s6": 1}\n'
                   '{"age": "old", "sex": 1, "bmi": 1, "bp": 1, "s1": 1, "s2": 1, "s3": 1, "s4": 1, "s5": 1, "s6": 1}\n',
     400, "instances[1].age", 2),
    (["linear_d"], '\n{"instances": []}\n', 400, "instances", 2),
    (["linear_d", "--max-instances", "1"], '{}\n{}\n', 413, "instances", 2),
    (["linear_d"], "[1]\n", 400, "instances", 1),
    (["linear_d"], "{nope\n", 400, "body", 1),
])
def test_predict_command_refuses_what_the_endpoint_refuses(project, small_warehouse, monkeypatch, arguments, stdin,
                                                           status, field, line):
    from click.testing import CliRunner

    from toolkit.cli import cli

    monkeypatch.chdir(project({}))
    result = CliRunner().invoke(cli, ["predict", *arguments, "--warehouse", str(small_warehouse)], input=stdin,
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    error = json.loads(result.stderr)["error"]
    assert (error["code"], error["field"], error.get("line")) == (status, field, line)


def test_each_worker_process_builds_the_app_from_the_options_it_is_passed(small_warehouse, monkeypatch):
    from dataclasses import asdict

    from toolkit.serve.server import OPTIONS_VARIABLE, app_from_environment

    options = ServeOptions(small_warehouse, ("linear_d",), max_instances=3, max_body_bytes=5_000)
    monkeypatch.setenv(OPTIONS_VARIABLE, json.dumps({**asdict(options), "warehouse": str(small_warehouse)}))
    with TestClient(app_from_environment()) as client:
        assert client.app.state.server.options == options
        too_many = client.post("/v1/models/linear_d:predict", json={"instances": [{"age": 1}] * 4})
        assert too_many.status_code == 413


def test_serve_command_answers_on_127_0_0_1(project, small_warehouse):
    import http.client
    import socket
    import subprocess
    import sys
    import time

    folder = project({})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "toolkit", "serve", "--warehouse", str(small_warehouse),
                               "--port", str(port), "--watch", "0"], cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("POST", "/v1/models/linear_d:predict",
                                   json.dumps({"instances": instances(small_warehouse, ROWS)}),
                                   {"content-type": "application/json"})
                response = connection.getresponse()
                answer = (response.status, json.loads(response.read()))
                break
            except OSError:
                threading.Event().wait(0.2)
        assert answer is not None, server.stderr.read() if server.poll() is not None else "no answer in 60 s"
        con = duckdb.connect(str(small_warehouse), read_only=True)
        expected = _expected(con, 1)
        con.close()
        assert answer == (200, {"predictions": expected, "model": "linear_d", "modelVersionId": "1"})
    finally:
        server.terminate()
        server.wait(timeout=30)
