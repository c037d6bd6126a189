"""Decisions by a cost matrix: the cost_matrix_decisions and cost_matrix_report macros over ML.PREDICT's
predicted_<label>_probs, checked row by row against numpy's Bayes decision argmin(probabilities @ C) on iris."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from conftest import invoke, query, write_files
from sklearn.datasets import load_iris

PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["iris"]\n'
CLASSES = ["setosa", "versicolor", "virginica"]
COSTS = [[0, 1, 1], [10, 0, 1.5], [1, 20, 0]]  # rows: the true class, columns: the decision
MATRIX = f"classes={CLASSES}, costs={COSTS}"
MODEL = """\
CREATE OR REPLACE MODEL flowers
OPTIONS (model_type = 'logistic_reg', input_label_cols = ['{label}'], data_split_method = 'no_split', l2_reg = 3)
AS SELECT sepal_length, sepal_width, petal_length, petal_width, {label} FROM {{{{ source('raw', 'iris') }}}}
"""
DECISIONS = ("{{ cost_matrix_decisions(\"ML.PREDICT(MODEL \" ~ ref('%s') ~ \", TABLE \" ~ source('raw', 'iris') ~ \")\", "
             "label='%s', %s) }}\n")
REPORT = "{{ cost_matrix_report(ref('flower_decisions'), label='species', %s) }}\n" % MATRIX


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = write_files(tmp_path_factory.mktemp("matrix"), {
        "pyproject.toml": PYPROJECT, "models/flowers.sql": MODEL.format(label="species"),
        "models/flower_ids.sql": MODEL.format(label="target").replace("MODEL flowers", "MODEL flower_ids"),
        "models/flower_decisions.sql": DECISIONS % ("flowers", "species", MATRIX),
        "models/flower_id_decisions.sql": DECISIONS % ("flower_ids", "target", f"classes=[0, 1, 2], costs={COSTS}"),
        "models/flower_bigquery_decisions.sql": "{{ config(dialect='bigquery') }}\n" + DECISIONS % (
            "flowers", "species", MATRIX),  # the macro writes the file's dialect: BigQuery's STRUCT(… AS …)
        "models/flower_costs.sql": REPORT})
    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame["species"] = frame["target"].map(dict(enumerate(CLASSES)))
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.iris AS SELECT * FROM frame")
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    return folder


def _probabilities(rows, classes) -> np.ndarray:
    return np.array([[next(p["prob"] for p in probs if p["label"] == c) for c in classes] for probs in rows])


@pytest.mark.parametrize(("table", "label", "classes"), [("flower_decisions", "species", CLASSES),
                                                          ("flower_bigquery_decisions", "species", CLASSES),
                                                          ("flower_id_decisions", "target", [0, 1, 2])])
def test_each_row_takes_the_class_of_least_expected_cost(built, table, label, classes):
    rows = query(built / "warehouse.duckdb", f"SELECT predicted_{label}_probs, predicted_{label}, "
                                              f"cost_optimal_{label}, expected_cost FROM {table}")
    expected = _probabilities([r[0] for r in rows], classes) @ np.array(COSTS, dtype=float)  # rows × decisions
    best = expected.argmin(axis=1)
    assert [r[2] for r in rows] == [classes[j] for j in best]
    np.testing.assert_allclose([r[3] for r in rows], expected.min(axis=1), rtol=1e-12, atol=1e-15)
    assert any(r[1] != r[2] for r in rows)  # the matrix changes some decisions of the most probable class


def test_report_compares_the_matrix_with_argmax(built):
    warehouse = built / "warehouse.duckdb"
    report = {r[0]: r[1:] for r in query(warehouse, "SELECT * FROM flower_costs")}
    rows = query(warehouse, "SELECT species, predicted_species, cost_optimal_species FROM flower_decisions")
    index = {c: i for i, c in enumerate(CLASSES)}
    C = np.array(COSTS, dtype=float)
    for decision, column in (("argmax", 1), ("cost_optimal", 2)):
        truth = np.array([index[r[0]] for r in rows])
        decided = np.array([index[r[column]] for r in rows])
        assert report[decision] == pytest.approx((len(rows), np.mean(truth == decided), C[truth, decided].mean()),
                                                 rel=1e-12)
    assert report["cost_optimal"][2] < report["argmax"][2]


@pytest.mark.parametrize(("arguments", "message"), [
    ("classes=['a', 'b'], costs=[[0, 1], [1, 0], [1, 1]]", "a cost matrix is square, 2 rows"),
    ("classes=['a', 'b'], costs=[[0, 1], [1]]", "row 2 (true class b) has 1 costs where a square matrix of 2"),
    ("classes=['a', 'b'], costs=[[0, -1], [1, 0]]",
     "costs[0][1]=-1 (true a, decided b): a cost is a number of 0 or more"),
    ("classes=['a', 'b'], costs=[[0, 'x'], [1, 0]]", "costs[0][1]=x"),
    ("classes=['a', 'b'], costs=[[0, 0], [0, 0.0]]", "every cost is 0"),
    ("classes=['a', 'a'], costs=[[0, 1], [1, 0]]", "a class is listed twice"),
    ("classes='a', costs=[[0]]", "at least two labels"),
    ("label=3, classes=['a', 'b'], costs=[[0, 1], [1, 0]]", "label=3: give the model's label column"),
])
def test_a_bad_matrix_stops_the_render_naming_the_argument(project, toolkit, arguments, message):
    call = arguments if arguments.startswith("label") else f"label='species', {arguments}"
    folder = project({"pyproject.toml": PYPROJECT,
                      "models/bad.sql": f"{{{{ cost_matrix_decisions('predictions', {call}) }}}}\n"})
    result = toolkit(folder, "compile")
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("classes", "message"), [
    ("['setosa', 'versicolour', 'virginica']", "the cost matrix's class versicolour is not a class of the model, "
                                               "whose classes are setosa, versicolor, virginica"),
    ("['setosa', 'versicolor']", "the model's class(es) virginica have no row and column in the cost matrix, "
                                 "whose classes are setosa, versicolor; the model's classes are setosa, versicolor, "
                                 "virginica"),
])
def test_classes_the_model_does_not_have_are_named_with_the_models_classes(built, classes, message):
    n = classes.count(",") + 1
    costs = [[0 if i == j else 1 for j in range(n)] for i in range(n)]
    (built / "models/bad_matrix.sql").write_text(
        DECISIONS % ("flowers", "species", f"classes={classes}, costs={costs}"))
    try:
        result = invoke(built, "build", "--select", "bad_matrix")
    finally:
        (built / "models/bad_matrix.sql").unlink()
    output = " ".join(result.output.split())
    assert result.exit_code != 0 and "models/bad_matrix.sql" in output and message in output, output


def test_the_binary_threshold_on_a_multiclass_model_points_to_the_cost_matrix(built):
    (built / "models/bad_threshold.sql").write_text("SELECT {{ cost_optimal_threshold(ref('flowers')) }} AS t\n")
    try:
        result = invoke(built, "build", "--select", "bad_threshold")
    finally:
        (built / "models/bad_threshold.sql").unlink()
    output = " ".join(result.output.split())
    assert result.exit_code != 0 and "models/bad_threshold.sql" in output, output
    assert "flowers has 3 classes" in output and "the cost_matrix_decisions macro takes a cost matrix" in output


def test_the_macros_compile_for_bigquery(built):
    result = invoke(built, "compile", "--target", "bigquery")
    assert result.exit_code == 0, result.output
    script = (built / "target/bigquery/deploy.sql").read_text()
    assert "UNNEST([\n  STRUCT(" in script and "ERROR(" in script and "`cost_optimal_species`" in script
