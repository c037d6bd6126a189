"""A project as BigQuery SQL, in dependency order: each node's statement (CREATE OR REPLACE TABLE / VIEW / MODEL)
after its temporary functions and before its assertions; one file per node and one script with them all. What
would not run there is listed, with file and line, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from toolkit.config import Settings
from toolkit.deploy.assertions import assertion_statements
from toolkit.deploy.names import Target
from toolkit.deploy.refusals import Problem
from toolkit.deploy.translate import Translator
from toolkit.errors import Location, ProjectError
from toolkit.project.load import Project
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.bigquery.functions import is_function_definition
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.dialect import DEFAULT_DIALECT

SCRIPT = "deploy.sql"


@dataclass(frozen=True)
class NodeSQL:
    """One node's statements, as BigQuery SQL texts without their semicolons."""

    name: str
    relative_path: Path
    statements: tuple[str, ...]  # the statement publishing it, then its assertions
    functions: tuple[str, ...] = ()  # the CREATE TEMP FUNCTIONs they call, which BigQuery keeps for one script

    @property
    def text(self) -> str:
        return "".join(f"{statement};\n" for statement in (*self.functions, *self.statements))

    def job_sql(self, statement: str) -> str:
        """One statement as a job: after the node's temporary functions (a script then), or on its own."""
        return "".join(f"{part};\n" for part in (*self.functions, statement)) if self.functions else statement


@dataclass(frozen=True)
class Deployment:
    """The statements of the selected nodes, in dependency order."""

    nodes: tuple[NodeSQL, ...]

    @property
    def statements(self) -> list[str]:
        """Every statement of the script, temporary functions included, in order."""
        return [statement for node in self.nodes for statement in (*node.functions, *node.statements)]

    @property
    def script(self) -> str:
        """Every statement, node by node, each node's block headed by its file's path."""
        return "\n".join(f"-- {node.relative_path.as_posix()}\n{node.text}" for node in self.nodes)

    def write(self, root: Path) -> list[Path]:
        """`root/<relative model path>` for each node and `root/deploy.sql`; the paths written."""
        written = []
        for node in self.nodes:
            path = root / node.relative_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(node.text, encoding="utf-8")
            written.append(path)
        root.mkdir(parents=True, exist_ok=True)
        (root / SCRIPT).write_text(self.script, encoding="utf-8")
        return [*written, root / SCRIPT]


def deploy_target(settings: Settings, project_id: str | None = None) -> Target:
    """Where the project deploys: `project_id` (e.g. from --project), else [tool.toolkit.bigquery].project."""
    return Target(Datasets(settings.bigquery.project, settings.bigquery.datasets),
                  project=project_id or settings.bigquery.project, default_schema=settings.schema)


def compile_bigquery(project: Project, selected: list[str], project_id: str | None = None) -> Deployment:
    """The selected nodes (in the order given: the graph's) as BigQuery SQL; a ProjectError listing every
    statement that would not run there."""
    translator = Translator(deploy_target(project.settings, project_id))
    nodes = tuple(_node_sql(project.nodes[name], translator) for name in selected)
    if translator.problems:
        problems = list(dict.fromkeys(translator.problems))
        first = problems[0]
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise ProjectError(f"{len(problems)} thing(s) in the project would not run on BigQuery; nothing was "
                           f"written:\n{listed}", first.location,
                           hint="rewrite them with SQL both engines have (each hint above says how), or write "
                                "the file in BigQuery's dialect with {{ config(dialect='bigquery') }}")
    return Deployment(nodes)


def _node_sql(node: Node, translator: Translator) -> NodeSQL:
    functions, statements = [], []
    if node.materialized in (Materialization.SEED, Materialization.SNAPSHOT):
        # a seed's CSV file is the warehouse's to read (BigQuery gets the table loaded another way: bq load); a
        # snapshot's history is the warehouse's own
        return NodeSQL(node.name, node.relative_path, (), ())
    if node.kind is not NodeKind.ASSERTION:
        for tree in _statement_trees(node, translator):
            sql = translator.generate(tree, node, check_functions=node.dialect == DEFAULT_DIALECT)
            (functions if is_function_definition(tree) else statements).append(sql)
    if functions and node.materialized is Materialization.VIEW:
        translator.problems.append(Problem(Location(node.path), "a BigQuery view cannot call temporary functions",
                                           hint="materialize it as a table: {{ config(materialized='table') }}"))
    statements += assertion_statements(node, translator)
    return NodeSQL(node.name, node.relative_path, tuple(statements), tuple(functions))


def _statement_trees(node: Node, translator: Translator) -> list[exp.Expression]:
    """The node's temporary functions (BigQuery files), then the statement publishing it."""
    if node.dialect == DEFAULT_DIALECT:
        # The text as written (refs resolved): ML.* preprocessing stays BigQuery's own, not DuckDB's rewrite of it.
        tree = translator.from_duckdb(node.source_sql or node.sql, node)
        trees = [] if tree is None else [tree]
    else:
        trees = translator.from_bigquery(node.source_sql or node.sql, node)
    if not trees:
        return []
    *functions, statement = trees
    for function in functions:
        if is_function_definition(function):
            function.set("replace", True)  # one script may define a function of that name for another node too
    return [*functions, _published(node, statement, translator)]


def _published(node: Node, statement: exp.Expression, translator: Translator) -> exp.Expression:
    """CREATE OR REPLACE TABLE / VIEW … AS query, or the CREATE MODEL naming the node's model in its dataset."""
    table = translator.target.table(node.schema, node.name)
    if node.kind is NodeKind.ML_MODEL:
        statement.set("this", table)
        if not statement.args.get("exists"):
            statement.set("replace", True)
        return statement
    kind = "VIEW" if node.materialized is Materialization.VIEW else "TABLE"
    comments = statement.pop_comments()
    create = exp.Create(this=table, kind=kind, replace=True, expression=statement)
    create.add_comments(comments, prepend=True)
    return create
