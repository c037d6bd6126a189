"""Compile speed: render, parse and plan a generated project of N model files.

    python benchmarks/bench_compile.py [--files 1000] [--repeat 3] [--dialect duckdb|bigquery]

Prints files per second for `load_project` + `Graph.select` (the work `toolkit compile` and `toolkit build`
do before touching the warehouse), cold (no compiled-template cache in target/jinja-cache) and warm (every
file unchanged since the last run), and, as the in-process baseline, the time sqlglot alone takes to parse
the same rendered SQL: the ratios tell how much the toolkit adds on top of parsing. With `--dialect bigquery` the
files are the same models in BigQuery's SQL (backtick names, # comments, IF, MOD, GENERATE_ARRAY; one file in ten
defines a temporary function), which the toolkit also translates to DuckDB's; the baseline then parses them with
sqlglot's BigQuery dialect."""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import sqlglot

from toolkit.config import load_settings
from toolkit.project.load import load_project
from toolkit.sql.dialect import DIALECTS

MODEL = """\
{{{{ config(materialized='{materialized}', tags=['layer_{layer}']) }}}}
WITH base AS (
    SELECT {parent_columns}, {{{{ surrogate_key(['a', 'b']) }}}} AS key_{index}
    FROM {source}
    WHERE a > {{{{ var('threshold', 0) }}}}
)
SELECT b, a + {index} AS a, count(*) OVER (PARTITION BY b) AS n, key_{index}
FROM base
{join}
"""


# The same model in BigQuery's SQL; one file in ten also defines a temporary function.
BIGQUERY_MODEL = """\
{{{{ config(materialized='{materialized}', tags=['layer_{layer}']) }}}}
# layer {layer}, in BigQuery's SQL
{function}WITH base AS (
    SELECT {parent_columns}, {{{{ surrogate_key(['a', 'b']) }}}} AS key_{index}
    FROM {source}
    WHERE a > {{{{ var('threshold', 0) }}}}
)
SELECT b, a + {index} AS a, COUNT(*) OVER (PARTITION BY b) AS n, key_{index}, {parity} AS parity
FROM base
{join}
"""
PARITY_FUNCTION = 'CREATE TEMP FUNCTION parity(x INT64) AS (IF(MOD(x, 2) = 0, "even", "odd"));\n'
TEMPLATES = {"duckdb": (MODEL, "(SELECT range AS a, range % 7 AS b FROM range(10))"),
             "bigquery": (BIGQUERY_MODEL, "(SELECT a, MOD(a, 7) AS b FROM UNNEST(GENERATE_ARRAY(0, 9)) AS a)")}


def generate(root: Path, files: int, seed: int = 0, dialect: str = "duckdb") -> None:
    """A layered project: every model refs one or two earlier ones, like a real DAG."""
    rng = random.Random(seed)
    model, first_source = TEMPLATES[dialect]
    (root / "pyproject.toml").write_text(f'[tool.toolkit]\ndialect = "{dialect}"\n[tool.toolkit.vars]\nthreshold = 1\n')
    for index in range(files):
        folder = root / "models" / f"layer_{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        if index == 0:
            source, join = first_source, ""
        else:
            source = f"{{{{ ref('m{rng.randrange(index)}') }}}}"
            other = rng.randrange(index)
            join = f"LEFT JOIN {{{{ ref('m{other}') }}}} AS o ON o.b = base.b" if index > 1 and index % 3 == 0 else ""
        function = index % 10 == 0
        text = model.format(
            materialized="view" if index % 4 else "table", layer=index // 100, parent_columns="a, b",
            index=index, source=source, join=join, function=PARITY_FUNCTION if function else "",
            parity="parity(a)" if function else 'IF(MOD(a, 2) = 0, "even", "odd")',
        )
        (folder / f"m{index}.sql").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="duckdb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root, args.files, dialect=args.dialect)
        settings = load_settings(root)
        cold = warm = parse = float("inf")
        for _ in range(args.repeat):
            shutil.rmtree(settings.target, ignore_errors=True)
            cold = min(cold, _timed(lambda: _plan(settings, args.files)))
            warm = min(warm, _timed(lambda: _plan(settings, args.files)))
            sqls = [node.source_sql for node in load_project(settings).nodes.values()]
            parse = min(parse, _timed(lambda: [sqlglot.parse(sql, read=DIALECTS[args.dialect]) for sql in sqls]))
    print(f"dialect: {args.dialect}")
    print(f"{'files':>6} {'run':>5} {'seconds':>8} {'files/s':>8} {'ratio to sqlglot parse':>23}")
    for label, seconds in (("cold", cold), ("warm", warm)):
        print(f"{args.files:>6} {label:>5} {seconds:>8.3f} {args.files / seconds:>8.0f} {seconds / parse:>23.2f}")
    print(f"baseline: sqlglot.parse alone {parse:.3f} s; target: at least 500 files/s")


def _plan(settings, files: int) -> None:
    load_project(settings).graph.select([f"+m{files - 1}"])


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
