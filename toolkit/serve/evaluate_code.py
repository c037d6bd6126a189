"""The row-wise evaluator's program as one generated Python function: each node's closure (toolkit.serve.evaluate)
also says, as a Python `ast` expression, what it computes, and the layers become statements of one loop over the
rows — the same operations in the same order, without a function call per node or a dict per row.

Built with the `ast` module, never from text: constants are `ast.Constant`s, the helpers and tables a node needs are
names bound in the function's namespace. An operand whose code is a name or a constant is read where it is used;
any other is held in a temporary (`:=`) so that it is evaluated once, where the closure evaluates it. A node without
code (None) leaves the program to the closures."""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Callable, Sequence
from typing import Any

Code = ast.expr | None
_TEMPORARIES = itertools.count()
_SIMPLE = (type(None), bool, int, float, str)
_TYPE_PARAMS = {"type_params": []} if sys.version_info >= (3, 12) else {}  # a function's, from Python 3.12


def load(identifier: str) -> ast.Name:
    """A variable or binding, read."""
    return ast.Name(id=identifier, ctx=ast.Load())


def constant(value: Any) -> Code:
    """A literal's code: None, booleans, numbers and text (NaN and infinities too: the compiler keeps them)."""
    return ast.Constant(value=value) if type(value) in _SIMPLE else None


def call(function: ast.expr, *arguments: ast.expr, **keywords: ast.expr) -> ast.Call:
    return ast.Call(func=function, args=list(arguments),
                    keywords=[ast.keyword(arg=key, value=value) for key, value in keywords.items()])


def builtin(identifier: str, *arguments: ast.expr) -> ast.Call:
    return call(load(identifier), *arguments)


def if_else(test: ast.expr, body: ast.expr, orelse: ast.expr) -> ast.IfExp:
    return ast.IfExp(test=test, body=body, orelse=orelse)


def compare(left: ast.expr, operator: ast.cmpop, right: ast.expr) -> ast.Compare:
    return ast.Compare(left=left, ops=[operator], comparators=[right])


def is_none(code: ast.expr) -> ast.Compare:
    return compare(code, ast.Is(), ast.Constant(value=None))


def is_true(code: ast.expr) -> ast.Compare:
    return compare(code, ast.Is(), ast.Constant(value=True))


def binary(left: ast.expr, operator: ast.operator, right: ast.expr) -> ast.BinOp:
    return ast.BinOp(left=left, op=operator, right=right)


def fresh(prefix: str) -> str:
    """A name no other generated name has: `prefix` and a number."""
    return f"{prefix}{next(_TEMPORARIES)}"


def held(code: ast.expr) -> tuple[ast.expr, ast.expr]:
    """The code as it is evaluated first (a name or constant as is, else assigned to a temporary) and as it is read
    again afterwards."""
    if isinstance(code, (ast.Name, ast.Constant)):
        return code, code
    temporary = fresh("_t")
    return ast.NamedExpr(target=ast.Name(id=temporary, ctx=ast.Store()), value=code), load(temporary)


def strict(codes: Sequence[Code], build: Callable[..., ast.expr]) -> Code:
    """NULL in, NULL out: the operands evaluated in turn, None at the first None, else `build` of the operands
    (each a name or a constant, so `build` may read one twice). None when an operand has no code."""
    if any(code is None for code in codes):
        return None
    tests, operands = [], []
    for code in codes:
        first, again = held(code)
        operands.append(again)
        if not (isinstance(code, ast.Constant) and code.value is not None):
            tests.append(is_none(first))
    result = build(*operands)
    if not tests:
        return result
    test = tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.Or(), values=tests)
    return if_else(test, ast.Constant(value=None), result)


def first_present(codes: Sequence[Code]) -> Code:
    """COALESCE: the first operand that is not None (the last one as it is)."""
    if any(code is None for code in codes):
        return None
    result = codes[-1]
    for code in reversed(codes[:-1]):
        first, again = held(code)
        result = if_else(compare(first, ast.IsNot(), ast.Constant(value=None)), again, result)
    return result


class Namespace:
    """The names the generated code reads: helpers, tables and closures, each bound once."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._names: dict[int, str] = {}

    def ref(self, value: Any) -> ast.Name:
        identifier = self._names.get(id(value))
        if identifier is None:
            identifier = f"_n{len(self.values)}"
            self._names[id(value)] = identifier
            self.values[identifier] = value
        return load(identifier)


def assign(identifier: str, code: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[ast.Name(id=identifier, ctx=ast.Store())], value=code)


def row_function(inputs: Sequence[str], body: list[ast.stmt], output: ast.expr,
                 namespace: Namespace) -> Callable[[list[list[Any]]], list[Any]] | None:
    """`def rows(columns)`: for each row of the input columns (their values, in `inputs`' order) the body's
    statements, then `output` appended to the list returned. None when Python will not compile it (a query nested
    too deeply for its compiler: the closures run it)."""
    append = "_append"
    loop = ast.For(target=ast.Tuple(elts=[ast.Name(id=i, ctx=ast.Store()) for i in inputs], ctx=ast.Store()),
                   iter=call(load("zip"), ast.Starred(value=load("_columns"), ctx=ast.Load())),
                   body=[*body, ast.Expr(value=call(load(append), output))], orelse=[])
    function = ast.FunctionDef(
        name="rows", args=ast.arguments(posonlyargs=[], args=[ast.arg(arg="_columns")], kwonlyargs=[],
                                        kw_defaults=[], defaults=[]),
        body=[assign("_out", ast.List(elts=[], ctx=ast.Load())),
              assign(append, ast.Attribute(value=load("_out"), attr="append", ctx=ast.Load())),
              loop, ast.Return(value=load("_out"))],
        decorator_list=[], returns=None, **_TYPE_PARAMS)
    module = ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))
    scope = dict(namespace.values)
    try:
        exec(compile(module, "<toolkit.serve compiled query>", "exec"), scope)
    except (RecursionError, MemoryError, SyntaxError, ValueError):
        return None
    return scope["rows"]
