"""What a node builds, as a checksum, and the relations it reads besides its refs: the parts of a node's fingerprint
that come from the project (the warehouse adds its parents' outputs and its inputs' data versions).

The checksum covers what changes the built relation: the rendered SQL (so macro and var changes count), the
materialization, schema, incremental settings, assertions, a seed file's bytes and the toolkit's version. Tags and
descriptions do not count, as in dbt's state comparison
(https://docs.getdbt.com/reference/node-selection/state-comparison-caveats)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import sqlglot
from sqlglot import exp

from toolkit import __version__
from toolkit.project.assertions import UNDER_TEST_NAME, Assertion
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.dialect import DIALECT

# Functions whose result differs from run to run: a node calling one is never reused.
VOLATILE_FUNCTIONS = frozenset({
    "random", "rand", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "setseed", "nextval", "currval", "now",
    "current_timestamp", "current_date", "current_time", "get_current_timestamp", "get_current_time", "today",
    "transaction_timestamp", "localtimestamp", "localtime", "current_localtimestamp", "epoch_ms_now",
})
_VOLATILE_EXPRESSIONS = (exp.Rand, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime)

Relation = tuple[str, str]  # (schema, table), as written; compared casefolded


def definition_checksum(node: Node) -> str:
    """sha256 of what the node builds (see the module's docstring)."""
    parts = {
        "toolkit": __version__, "kind": node.kind.value, "materialized": node.materialized.value,
        "schema": node.schema, "sql": node.sql, "incremental_sql": node.incremental_sql,
        "incremental": asdict(node.incremental) if node.incremental else None,
        **({"snapshot": asdict(node.snapshot)} if node.snapshot else {}),
        "assertions": [_assertion_parts(a) for a in node.assertions], "tested": node.tested,
        "depends_on": sorted(node.depends_on),
    }
    if node.unit_tests:  # only when it has some: the checksums of other nodes stay those of earlier versions
        parts["unit_tests"] = node.unit_tests
    if node.materialized is Materialization.SEED:
        parts["file"] = hashlib.sha256(node.path.read_bytes()).hexdigest() if node.path.is_file() else None
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _assertion_parts(assertion: Assertion) -> dict:
    parts = asdict(assertion)
    parts["severity"] = assertion.severity.value
    parts["error_if"], parts["warn_if"] = assertion.error_if.text, assertion.warn_if.text
    return parts


def read_relations(node: Node, own: set[Relation]) -> list[Relation] | None:
    """The relations the node's SQL (and its assertions') read, other than CTEs and `own` (the relations of the
    nodes it refs, casefolded, whose state comes from those nodes); None when that cannot be told for sure (a table
    function such as read_parquet, a volatile function, a model outside the project), so the node is always built."""
    if node.materialized is Materialization.SEED:
        return []  # its file's bytes are in its checksum
    if node.calls_ml:
        return None  # what a model predicts is the model's, not the fingerprint's, to tell
    if node.kind is NodeKind.ML_MODEL:
        queries = [node.create_model.query] if node.create_model else []
    elif node.kind is NodeKind.ASSERTION and node.tested:
        queries = []
    else:
        queries = [node.sql, *([node.incremental_sql] if node.incremental_sql else [])]
    for assertion in node.assertions:
        queries += _assertion_queries(assertion)
    found: dict[Relation, None] = {}
    if node.tested:
        found[node.tested] = None
    for query in queries:
        try:
            tree = sqlglot.parse_one(query, read=DIALECT)
        except sqlglot.errors.SqlglotError:
            return None
        relations = _relations(tree)
        if relations is None:
            return None
        found.update(dict.fromkeys(relations))
    return [r for r in found if (r[0].casefold(), r[1].casefold()) not in own]


def _assertion_queries(assertion: Assertion) -> list[str]:
    under_test = f'"{UNDER_TEST_NAME}"'
    queries = []
    if assertion.failing_when:
        queries.append(f"SELECT 1 FROM {under_test} WHERE ({assertion.failing_when})")
    if assertion.failing_count:
        queries.append(f"SELECT {assertion.failing_count} FROM {under_test}")
    queries += [text for text in (assertion.failing_rows, assertion.samples) if text]
    return queries


def _relations(tree: exp.Expression) -> list[Relation] | None:
    """The (schema, table) of every table the statement reads; None when it calls a table function or a volatile
    function, or reads a model (ML.* calls), whose data the fingerprint cannot pin down."""
    ctes = {cte.alias_or_name.casefold() for cte in tree.find_all(exp.CTE)}
    for call in tree.find_all(exp.Anonymous, exp.Func):
        name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
        if isinstance(call, _VOLATILE_EXPRESSIONS) or str(name).casefold() in VOLATILE_FUNCTIONS:
            return None
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            return None  # read_csv(…), read_parquet(…), a model of ML.* …
        if table.catalog:
            return None  # another attached database
        name, schema = table.name, table.db
        if not schema and (name.casefold() in ctes or name == UNDER_TEST_NAME):
            continue
        found.append((schema or "main", name))
    return found
