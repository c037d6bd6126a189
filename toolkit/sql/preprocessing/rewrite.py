"""The scalar preprocessing functions of a statement replaced by DuckDB SQL; an analytic one outside TRANSFORM is
an error (its statistics belong to a model's training rows)."""

from __future__ import annotations

from sqlglot import exp

from toolkit.errors import ProjectError
from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import call_sql
from toolkit.sql.preprocessing.functions import SCALAR


class PreprocessingError(ProjectError):
    """A preprocessing call that cannot be used where it is; `line` and `column` are the call's, when known."""

    def __init__(self, message: str, call: exp.Expression, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.line = call.meta.get("line") if call.meta else None
        self.column = call.meta.get("col") if call.meta else None


def has_preprocessing(expression: exp.Expression) -> bool:
    return expression.find(MLPreprocess) is not None


def rewrite_scalar_preprocessing(expression: exp.Expression) -> exp.Expression:
    """A copy of `expression` whose ML.BUCKETIZE, ML.FEATURE_CROSS, ML.HASH_BUCKETIZE, ML.POLYNOMIAL_EXPAND,
    ML.NGRAMS and ML.NORMALIZER calls are DuckDB expressions (innermost first, so calls may nest)."""
    root = expression.copy()
    calls = sorted(root.find_all(MLPreprocess), key=lambda call: -call.depth)
    for call in calls:
        check_placement(call, in_transform=False)
        try:
            replacement = SCALAR[call.name.upper()](call)
        except ProjectError as error:
            raise PreprocessingError(error.message, call, error.hint) from None
        if call is root:
            root = replacement
        else:
            call.replace(replacement)
    return root


def check_placement(call: MLPreprocess, in_transform: bool) -> None:
    """A scalar call without OVER; an analytic one with an empty OVER () and only inside TRANSFORM."""
    name = f"ML.{call.name.upper()}"
    window = call.parent if isinstance(call.parent, exp.Window) and call.arg_key == "this" else None
    if not call.is_analytic:
        if window is not None:
            raise PreprocessingError(f"{call_sql(window)}: {name} is not an analytic function", call,
                                     f"remove the OVER (…): {call_sql(call)}")
        return
    written = call_sql(window or call)
    if not in_transform:
        raise PreprocessingError(
            f"{written}: {name} computes its statistics on a model's training rows, so it works only inside "
            "TRANSFORM(…) of a CREATE MODEL",
            call,
            f"move it into CREATE MODEL … TRANSFORM({call_sql(call)} OVER () AS …, …) OPTIONS(…) AS SELECT …",
        )
    if window is None:
        raise PreprocessingError(f"{written}: {name} is an analytic function and needs OVER ()", call,
                                 f"write {call_sql(call)} OVER ()")
    if any(window.args.get(key) for key in ("partition_by", "order", "spec", "alias")):
        raise PreprocessingError(f"{written}: {name} takes an empty OVER (): its statistics are those of all the "
                                 "training rows", call, f"write {call_sql(call)} OVER ()")
