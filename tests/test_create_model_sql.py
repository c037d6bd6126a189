"""CREATE MODEL in model files: parsed by the project dialect into name, options, TRANSFORM and query."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from conftest import write_files

from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.load import load_project
from toolkit.project.nodes import Materialization, NodeKind
from toolkit.sql.create_model import read_create_model
from toolkit.sql.dialect import DIALECT


def parse(sql: str):
    return read_create_model(sqlglot.parse_one(sql, read=DIALECT))


def test_options_become_python_values():
    create = parse(
        "CREATE OR REPLACE MODEL m OPTIONS(MODEL_TYPE='logistic_reg', input_label_cols=['is_delayed'], l2_reg=0.1, "
        "max_iterations=5, early_stop=FALSE, class_weights=[STRUCT('a', 0.2), STRUCT('b', 0.8)], min_rel_progress=-1e-3, "
        "kmeans_init_col=NULL) AS SELECT a, b FROM t"
    )
    assert create.name == "m"
    assert create.options == {
        "model_type": "logistic_reg", "input_label_cols": ["is_delayed"], "l2_reg": 0.1, "max_iterations": 5,
        "early_stop": False, "class_weights": [("a", 0.2), ("b", 0.8)], "min_rel_progress": -0.001,
        "kmeans_init_col": None,
    }
    assert create.query == "SELECT a, b FROM t"
    assert create.transform == ()


def test_transform_and_parenthesized_query_are_kept():
    create = parse("CREATE MODEL IF NOT EXISTS m TRANSFORM(a, b * 2 AS c, label) OPTIONS(model_type='linear_reg') "
                   "AS (WITH x AS (SELECT 1 AS a, 2 AS b, 3 AS label) SELECT * FROM x)")
    assert create.transform == ("a", "b * 2 AS c", "label")
    assert create.if_not_exists
    assert create.query.startswith("WITH x AS")


def test_model_stays_an_ordinary_identifier():
    assert sqlglot.parse_one("SELECT model FROM t AS model", read=DIALECT).sql() == "SELECT model FROM t AS model"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("model_type=linear_reg", "linear_reg is a name, not a string"),
        ("l2_reg=0.1, L2_REG=0.2", "L2_REG is given twice"),
        # https://cloud.google.com/bigquery/docs/hp-tuning-overview: a search space is HPARAM_RANGE(min, max) or
        # HPARAM_CANDIDATES([…])
        ("l2_reg=HPARAM_RANGE(0)", r"HPARAM_RANGE\(…\)\) takes two numbers, min and max"),
        ("learn_rate=HPARAM_CANDIDATES([])", r"HPARAM_CANDIDATES\(…\)\) takes one non-empty array"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ToolkitError, match=message):
        parse(f"CREATE MODEL m OPTIONS({options}) AS SELECT 1 AS x")


def test_create_model_file_is_an_ml_model_node(tmp_path: Path):
    root = write_files(tmp_path, {
        "models/features.sql": "select 1 as x, 2.0 as label",
        "models/delay.sql": "CREATE OR REPLACE MODEL {{ this }} OPTIONS(model_type='linear_reg') "
                            "AS SELECT * FROM {{ ref('features') }};",
    })
    node = load_project(load_settings(root)).nodes["delay"]
    assert node.kind is NodeKind.ML_MODEL and node.materialized is Materialization.MODEL_STORE
    assert node.depends_on == ("features",)
    assert node.create_model.query == 'SELECT * FROM "main"."features"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CREATE MODEL other OPTIONS(model_type='linear_reg') AS SELECT 1 AS x", 'CREATE MODEL names "other"'),
        ("{{ config(materialized='view') }}CREATE MODEL delay OPTIONS(model_type='linear_reg') AS SELECT 1 AS x",
         "does not apply to a CREATE MODEL file"),
        ("CREATE MODEL delay OPTIONS(model_type='linear_reg')", "needs AS"),
    ],
)
def test_bad_create_model_files(tmp_path: Path, text, message):
    root = write_files(tmp_path, {"models/delay.sql": text})
    with pytest.raises(ToolkitError, match=message) as error:
        load_project(load_settings(root))
    assert "delay.sql" in str(error.value)


def test_template_cache_recompiles_edited_files(tmp_path: Path):
    root = write_files(tmp_path, {"models/a.sql": "select {{ 1 + 1 }} as x", "models/b.sql": "select 1 as y"})
    settings = load_settings(root)
    assert load_project(settings).nodes["a"].sql == "select 2 as x"
    cache = settings.target / "jinja-cache.bin"
    assert cache.is_file()
    (root / "models/a.sql").write_text("select {{ 2 + 2 }} as x")
    (root / "models/b.sql").unlink()
    assert load_project(settings).nodes["a"].sql == "select 4 as x"
    assert load_project(settings).nodes["a"].sql == "select 4 as x"  # served from the cache
    cache.write_bytes(b"not marshal data")
    assert load_project(settings).nodes["a"].sql == "select 4 as x"  # a broken cache is ignored
