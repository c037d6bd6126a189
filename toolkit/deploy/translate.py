"""One node's SQL as BigQuery trees: parsed in the node's dialect, DuckDB's semantics kept by the rules, names
mapped to datasets; and the text of each statement, with every reason it would not run there collected."""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError

from toolkit.deploy.dialect import DeployBigQuery
from toolkit.deploy.names import Target
from toolkit.deploy.refusals import Problem, extension_problems, function_problem, tree_problems, unknown_functions
from toolkit.deploy.rules import apply_rules
from toolkit.errors import Location
from toolkit.project.nodes import Node
from toolkit.sql.bigquery.refusal import line_of
from toolkit.sql.dialect import Toolkit, ToolkitBigQuery
from toolkit.sql.quiet import quiet_fallbacks


class Translator:
    """Translates the SQL of a project's nodes for one deploy target, collecting problems instead of stopping
    at the first, so that everything that will not run is listed at once."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.problems: list[Problem] = []

    def from_duckdb(self, sql: str, node: Node, what: str = "",
                    prepare: Callable[[exp.Expression], exp.Expression] | None = None) -> exp.Expression | None:
        """A DuckDB statement or expression as a BigQuery tree (None when it cannot be parsed); `prepare`
        rewrites the parsed tree first."""
        try:
            with quiet_fallbacks():
                tree = sqlglot.parse_one(sql, read=Toolkit)
        except ParseError as error:
            self.problems.append(Problem(Location(node.path), f"{what}cannot be read: {error}"))
            return None
        tree = apply_rules(prepare(tree) if prepare else tree)
        for item, message, hint in tree_problems(tree):
            self.problems.append(Problem(self._where(node, item, what), f"{what}{message}", hint))
        return self.target.to_datasets(tree)

    def from_bigquery(self, sql: str, node: Node) -> list[exp.Expression]:
        """A BigQuery file's statements (its CREATE TEMP FUNCTIONs, then the query), names mapped to datasets."""
        with quiet_fallbacks():
            trees = [tree for tree in sqlglot.parse(sql, read=ToolkitBigQuery)
                     if tree is not None and not isinstance(tree, exp.Semicolon)]
        for tree in trees:
            for item, message, hint in extension_problems(tree):
                self.problems.append(Problem(self._where(node, item, ""), message, hint))
        return [self.target.to_datasets(tree, names_are_datasets=True) for tree in trees]

    def generate(self, tree: exp.Expression, node: Node, what: str = "", check_functions: bool = True) -> str:
        """The BigQuery text of `tree`; what sqlglot cannot generate, or calls a function BigQuery lacks, is a
        problem of `node`."""
        generator = DeployBigQuery().generator(pretty=True, unsupported_level=ErrorLevel.IGNORE)
        sql = generator.generate(tree)
        for message in dict.fromkeys(generator.unsupported_messages):
            self.problems.append(Problem(self._where(node, tree, what), f"{what}{message} on BigQuery"))
        if check_functions:
            for name in unknown_functions(sql):
                item, message, hint = function_problem(name, tree)
                self.problems.append(Problem(self._where(node, item or tree, what), f"{what}{message}", hint))
        return sql

    def _where(self, node: Node, item: exp.Expression | None, what: str) -> Location:
        """The file and line of `item`; an assertion's SQL comes from a macro, so it is placed at the file only."""
        return Location(node.path) if what else Location(node.path, line_of(item))
