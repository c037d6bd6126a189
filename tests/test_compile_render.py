"""Rendering a compiled prediction without copying its tree gives the text the stored template gives, and leaves
the tree as it was."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from toolkit.ml import train_model
from toolkit.ml.compile import prediction
from toolkit.ml.compile.sql import number
from toolkit.sql.dialect import DIALECT
from toolkit.sql.quoting import verbatim
from toolkit.warehouse.functions import register_functions


def test_in_place_rendering_matches_the_template_and_restores_the_tree():
    con = duckdb.connect()
    register_functions(con)
    con.execute("CREATE TABLE r AS SELECT 'c' || (i % 40) AS c, sin(i) AS x, i % 3 = 0 AS y FROM range(400) t(i)")
    training = train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "max_iterations": 3},
                           query="SELECT c, x, y AS label FROM r")
    compiled = training.compiled
    query = prediction.prediction_query(training.model, limit=prediction.MAX_SQL_BYTES)
    before = query.sql(dialect=DIALECT)
    assert before == compiled.sql
    for threshold in (0.5, 0.25):
        rendered = prediction._rendered(query, exp.Subquery(this=verbatim("SELECT * FROM r")), number(threshold),
                                        DIALECT)
        assert rendered == compiled.sql_for("SELECT * FROM r", threshold)
        assert query.sql(dialect=DIALECT) == before  # the placeholders are back
    assert compiled.macro_sql == prediction._filled(
        prediction.parse(compiled.sql), exp.Table(this=prediction._QueryTable(this=exp.column("input"))),
        exp.column("threshold")).sql(dialect=prediction._MacroDialect)
