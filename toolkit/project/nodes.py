"""Parsed nodes: frozen, validated objects the runner builds."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from toolkit.project.assertions import Assertion
from toolkit.sql.create_model import CreateModel
from toolkit.sql.dialect import DIALECT
from toolkit.sql.quoting import relation, render


class NodeKind(enum.Enum):
    """What a model file is, decided by the statement it contains."""

    MODEL = "model"  # a SELECT materialized as a table or view
    ASSERTION = "assertion"  # a SELECT returning failing rows (config(materialized='assertion'))
    ML_MODEL = "ml_model"  # CREATE MODEL … AS SELECT: trained, stored in the model store


class Materialization(enum.Enum):
    TABLE = "table"
    VIEW = "view"
    ASSERTION = "assertion"  # nothing is stored: the query's rows are failures
    MODEL_STORE = "model_store"  # a trained model, stored as a new version in `_toolkit`
    SEED = "seed"  # a table loaded from a CSV file of the seeds folder
    INCREMENTAL = "incremental"  # a table its query adds rows to (or updates), once it exists
    SNAPSHOT = "snapshot"  # a type-2 history table of its query's rows (toolkit/warehouse/snapshot.py)


@dataclass(frozen=True)
class HashSplit:
    """A hash_split() in a model: the SQL text hashed, the number of buckets, where NULL keys go."""

    key_sql: str
    buckets: int
    null_split: str


@dataclass(frozen=True)
class Incremental:
    """How an incremental model's new rows go into its table."""

    unique_key: tuple[str, ...]
    strategy: str  # append | delete+insert | merge
    on_schema_change: str  # ignore | fail | append_new_columns | sync_all_columns
    full_refresh: bool = False  # rebuild the whole table every time


@dataclass(frozen=True)
class Snapshot:
    """How a snapshot (https://docs.getdbt.com/docs/build/snapshots) tells changed rows and records them."""

    unique_key: tuple[str, ...]
    strategy: str  # timestamp | check
    updated_at: str | None  # the column of each row's last change (timestamp; optional for check)
    check_cols: tuple[str, ...] | None  # the columns compared (check); None: all of the query's
    hard_deletes: str = "ignore"  # ignore | invalidate | new_record
    valid_to_current: str | None = None  # SQL for dbt_valid_to of current rows (dbt_valid_to_current); None: NULL
    meta_columns: tuple[tuple[str, str], ...] = ()  # snapshot_meta_column_names: (dbt's name, the column's)


@dataclass(frozen=True)
class Node:
    name: str
    path: Path  # absolute path of the model file
    relative_path: Path  # relative to the project folder, as users write it in `path:` selectors
    kind: NodeKind
    materialized: Materialization
    schema: str
    tags: tuple[str, ...]
    depends_on: tuple[str, ...]  # names of the nodes this one `ref`s
    sources: tuple[tuple[str, str], ...]  # (schema, table) of every `source()` it reads
    sql: str  # the rendered statement, refs resolved, ready to run in DuckDB
    dialect: str = "duckdb"  # the dialect its file is written in
    source_sql: str = ""  # the statement as written in that dialect, refs resolved (BigQuery's is deployed as is)
    named: tuple[tuple[str, str], ...] = ()  # (schema, table) it reads by name: BigQuery's `dataset.table`
    assertions: tuple[Assertion, ...] = ()  # declared in config(), or the file's own for an assertion node
    create_model: CreateModel | None = None  # the parsed CREATE MODEL of an ML model node
    hash_splits: tuple[HashSplit, ...] = ()  # the hash_split() calls in its SQL, for the split report
    uses_models: tuple[str, ...] = ()  # the models its ML.* calls name (ML.PREDICT(MODEL m, …))
    data_calls: tuple[str, ...] = ()  # the ML.* functions over data it calls (ML.DESCRIBE_DATA(TABLE t, …))
    description: str = ""  # from its YAML properties
    columns: tuple[tuple[str, str], ...] = ()  # (column, description) from its YAML properties
    tested: tuple[str, str] | None = None  # a YAML test node: the (schema, table) its assertions check
    tests_of: str | None = None  # a YAML test node: the node (or "source.table") it tests
    incremental: Incremental | None = None  # an incremental model's settings
    incremental_sql: str = ""  # an incremental model's query with is_incremental() true: its new rows
    snapshot: Snapshot | None = None  # a snapshot's settings
    unit_tests: str = ""  # a digest of its unit tests (their inputs, query, expected rows): changing one rebuilds it

    @property
    def stateful(self) -> bool:
        """Whether its table's rows depend on its earlier builds (an incremental model, a snapshot)."""
        return self.incremental is not None or self.snapshot is not None

    @property
    def calls_ml(self) -> bool:
        """Whether it holds ML.* table calls, which run in Python before its SQL does."""
        return bool(self.uses_models or self.data_calls)

    @property
    def relation(self) -> str:
        """The quoted relation name this node publishes."""
        return render(relation(self.schema, self.name))

    @functools.cached_property
    def statement(self) -> exp.Expression:
        """The parsed statement, parsed again on first use (nodes travel between processes as plain data)."""
        return sqlglot.parse_one(self.sql, read=DIALECT)

    @property
    def qualified_name(self) -> str:
        """`schema.name`, unquoted, for people to read."""
        return f"{self.schema}.{self.name}"
