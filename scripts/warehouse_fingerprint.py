"""A fingerprint of a built warehouse, to tell whether two builds produced the same thing: per relation its columns,
row count and a digest of its rows (sorted, so row order does not count), and per model version a digest of the
fitted estimator's learned arrays. Columns that record when or how long something ran are left out, and so is the
artifact blob: its sha256 (equal models are archived to equal bytes) and the estimator digest stand for it.

    python scripts/warehouse_fingerprint.py warehouse.duckdb > before.json
    # … change the code, build again from scratch …
    python scripts/warehouse_fingerprint.py warehouse.duckdb | diff before.json -
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

import duckdb
import numpy as np
from sqlglot import exp

from toolkit.ml.store.artifact import load
from toolkit.sql.quoting import column_ref, relation, render

# Run bookkeeping whose values differ from build to build by design.
SKIPPED_TABLES = {("_toolkit", name)
                  for name in ("runs", "node_runs", "assertion_results", "model_usage", "node_state")}
SKIPPED_COLUMNS = {"created_at", "trained_at", "recorded_at", "run_id", "started_at", "finished_at", "published_at", "duration",
                   "elapsed", "duration_ms", "seconds", "library_versions", "artifact"}


def _digest(value: Any, h: Any, depth: int = 0) -> None:
    """Feed the learned state of `value` (arrays, numbers, nested containers, fitted attributes) into `h`."""
    if depth > 6:
        return
    if isinstance(value, np.ndarray):
        h.update(value.tobytes() if value.dtype != object else repr(value.tolist()).encode())
    elif isinstance(value, (list, tuple)):
        for item in value:
            _digest(item, h, depth + 1)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(str(key).encode())
            _digest(value[key], h, depth + 1)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for key, item in sorted(vars(value).items()):
            if key.endswith("_") or depth > 0:  # a fitted estimator's learned attributes end in "_"
                h.update(key.encode())
                _digest(item, h, depth + 1)
    else:
        h.update(repr(value).encode())


def fingerprint(path: str) -> dict[str, Any]:
    con = duckdb.connect(path, read_only=True)
    out: dict[str, Any] = {}
    relations = con.execute("SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2").fetchall()
    for schema, name in relations:
        if (schema, name) in SKIPPED_TABLES:
            continue
        table = relation(schema, name)
        columns = [row[0] for row in con.execute(render(exp.Describe(this=table))).fetchall()]
        kept = [c for c in columns if c not in SKIPPED_COLUMNS]
        query = exp.select(*map(column_ref, kept)).from_(table)
        rows = sorted(repr(row) for row in con.execute(render(query)).fetchall())
        out[f"{schema}.{name}"] = {"columns": kept, "rows": len(rows),
                                   "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}
    if ("_toolkit", "model_versions") in set(relations):
        versions = con.execute("SELECT model_name, version, artifact, artifact_sha256, model_type "
                               "FROM _toolkit.model_versions ORDER BY 1, 2").fetchall()
        for model, version, data, sha256, model_type in versions:
            h = hashlib.sha256()
            _digest(load(model, version, bytes(data), sha256, model_type), h)
            out[f"estimator {model} version {version}"] = h.hexdigest()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", help="the DuckDB file")
    print(json.dumps(fingerprint(parser.parse_args().warehouse), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
