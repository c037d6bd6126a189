"""Fitted models compiled to SQL: ML.PREDICT computed by DuckDB itself, and a table macro per model that any
DuckDB client can call. Layout, in the order the query is built: features (TRANSFORM and the automatic
preprocessing), lookup (categorical features), linear and trees (the models), query (the prediction columns),
parity (the check against scikit-learn), prediction (compile, check, record), macro (the warehouse's macros)."""

from toolkit.ml.compile.prediction import (
    COMPILED,
    FALLBACK,
    PYTHON,
    CompiledPrediction,
    compile_prediction,
    compile_sql,
)
from toolkit.ml.compile.sql import NotCompilable

__all__ = ["COMPILED", "FALLBACK", "PYTHON", "CompiledPrediction", "NotCompilable", "compile_prediction",
           "compile_sql"]
