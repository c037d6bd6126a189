"""Small data sets for the ML tests, loaded into DuckDB: iris, diabetes (scikit-learn) and palmerpenguins."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes, load_iris

from toolkit.warehouse.farmhash import register_farm_fingerprint

IRIS = 'SELECT species AS label, * EXCLUDE (species) FROM iris'
PENGUIN_MASS = "SELECT body_mass_g AS label, * EXCLUDE (body_mass_g) FROM penguins WHERE body_mass_g IS NOT NULL"
PENGUIN_SPECIES = "SELECT species AS label, * EXCLUDE (species) FROM penguins"
DIABETES = "SELECT target AS label, * EXCLUDE (target) FROM diabetes"


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection (in memory, or a file) holding the tables iris, diabetes and penguins."""
    con = duckdb.connect(str(path) if path else ":memory:")
    register_farm_fingerprint(con)
    iris = load_iris(as_frame=True)
    frame = iris.frame.drop(columns="target")
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["species"] = np.asarray(iris.target_names)[iris.target]
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    penguins = load_penguins()
    for name, df in (("iris", frame), ("diabetes", diabetes), ("penguins", penguins)):
        con.register(f"{name}_df", pd.DataFrame(df))
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_df")
        con.unregister(f"{name}_df")
    return con
