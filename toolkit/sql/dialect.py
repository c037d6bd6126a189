"""The dialects model files are written in, each a sqlglot dialect extended sqlglot's way (tables of overrides)
with BigQuery ML's statements and functions: DuckDB's SQL, the warehouse's own, and BigQuery's."""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from toolkit.sql.ml_nodes import (
    DATA_FUNCTION_NAMES,
    MODEL_DATA_FUNCTION_NAMES,
    TABLE_FUNCTION_NAMES,
    MLFunction,
    MLPreprocess,
    check_ml_prefix,
    parse_ml_function,
    parse_ml_preprocess,
)


def _ml_parser(name: str) -> Any:
    return lambda parser: parse_ml_function(parser, name)


# CREATE MODEL: `model` stays usable as an ordinary identifier elsewhere.
ML_KEYWORDS = {"MODEL": TokenType.MODEL}
# ML.PREDICT(MODEL m, …) and the other table functions, each an MLFunction node.
ML_FUNCTION_PARSERS = {name: _ml_parser(name)
                       for name in TABLE_FUNCTION_NAMES + DATA_FUNCTION_NAMES + MODEL_DATA_FUNCTION_NAMES}
def _struct_sql(self: Any, struct: exp.Expression) -> str:
    """Settings as STRUCT(value AS name, …) in every dialect (DuckDB's own would be {'name': value}), so the
    SQL generated from a tree parses back into the same call."""
    if not isinstance(struct, exp.Struct):
        return self.sql(struct)
    items = []
    for item in struct.expressions:
        if isinstance(item, exp.PropertyEQ):
            items.append(f"{self.sql(item, 'expression')} AS {self.sql(item, 'this')}")
        else:
            items.append(self.sql(item))
    return f"STRUCT({', '.join(items)})"


def _ml_function_sql(self: Any, e: MLFunction) -> str:
    """A table function is the `this` of a Table whose db is `ML`, so its own SQL starts at the name."""
    arguments = [f"MODEL {self.sql(e, 'model')}"] if e.args.get("model") else []
    if e.args.get("input"):
        arguments.append(self.sql(e, "input"))
    arguments.extend(self.sql(source) for source in e.args.get("inputs") or [])
    if e.args.get("settings"):
        arguments.append(_struct_sql(self, e.args["settings"]))
    if e.args.get("array"):
        arguments.append(self.sql(e, "array"))
    return f"{e.name.upper()}({', '.join(arguments)})"


ML_TRANSFORMS = {
    MLFunction: _ml_function_sql,
    MLPreprocess: lambda self, e: f"ML.{e.name.upper()}({self.expressions(e, flat=True)})",
}


class MLForms:
    """The parser hooks both dialects share: ML.BUCKETIZE(…), ML.STANDARD_SCALER(…) OVER () and the other
    preprocessing functions, each an MLPreprocess node, read where a column would begin (`ML.` looks like a
    qualifier to the base parser); an unknown ML.NAME( is an error with a did-you-mean."""

    def _parse_column(self) -> exp.Expression | None:
        return parse_ml_preprocess(self) or super()._parse_column()  # type: ignore[misc]

    def _parse_function(self, *args: Any, **kwargs: Any) -> exp.Expression | None:
        if self._curr is not None:  # type: ignore[attr-defined]
            check_ml_prefix(self)
        return super()._parse_function(*args, **kwargs)  # type: ignore[misc]


class Toolkit(DuckDB):
    """DuckDB plus BigQuery ML's forms. Each addition overrides one of DuckDB's tables."""

    class Tokenizer(DuckDB.Tokenizer):
        KEYWORDS = {**DuckDB.Tokenizer.KEYWORDS, **ML_KEYWORDS}

    class Parser(MLForms, DuckDB.Parser):
        # CREATE MODEL … OPTIONS(key = value, …); TRANSFORM(…) is already a property of the base parser.
        PROPERTY_PARSERS = {**DuckDB.Parser.PROPERTY_PARSERS, "OPTIONS": lambda self: self._parse_with_property()}
        FUNCTION_PARSERS = {**DuckDB.Parser.FUNCTION_PARSERS, **ML_FUNCTION_PARSERS}

    class Generator(DuckDB.Generator):
        TRANSFORMS = {**DuckDB.Generator.TRANSFORMS, **ML_TRANSFORMS}

        def create_sql(self, expression: exp.Create) -> str:
            """CREATE MODEL with its TRANSFORM(…) and OPTIONS(…), which DuckDB's generator does not know."""
            if str(expression.args.get("kind", "")).upper() != "MODEL":
                return super().create_sql(expression)
            properties = expression.args.get("properties")
            transform, options = "", []
            for item in properties.expressions if properties else []:
                if isinstance(item, exp.TransformModelProperty):
                    transform = f" TRANSFORM({self.expressions(item, flat=True)})"
                else:
                    options.append(f"{item.name} = {self.sql(item, 'value')}")
            replace = " OR REPLACE" if expression.args.get("replace") else ""
            exists = " IF NOT EXISTS" if expression.args.get("exists") else ""
            query = f" AS {self.sql(expression, 'expression')}" if expression.args.get("expression") else ""
            return (f"CREATE{replace} MODEL{exists} {self.sql(expression, 'this')}{transform}"
                    f" OPTIONS({', '.join(options)}){query}")


class ToolkitBigQuery(BigQuery):
    """BigQuery's SQL with the same ML nodes (BigQuery's own parser reads OPTIONS(…) and TRANSFORM(…) already;
    the toolkit's ML.PREDICT and co replace sqlglot's, so both dialects give the ML layer the same trees)."""

    class Tokenizer(BigQuery.Tokenizer):
        KEYWORDS = {**BigQuery.Tokenizer.KEYWORDS, **ML_KEYWORDS}

    class Parser(MLForms, BigQuery.Parser):
        FUNCTION_PARSERS = {**BigQuery.Parser.FUNCTION_PARSERS, **ML_FUNCTION_PARSERS}

    class Generator(BigQuery.Generator):
        TRANSFORMS = {**BigQuery.Generator.TRANSFORMS, **ML_TRANSFORMS}


DIALECT = Toolkit  # the warehouse's: every statement the toolkit runs is generated in it
DIALECTS: dict[str, type[Dialect]] = {"duckdb": Toolkit, "bigquery": ToolkitBigQuery}  # by [tool.toolkit].dialect
DEFAULT_DIALECT = "duckdb"
