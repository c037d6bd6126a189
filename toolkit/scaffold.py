"""`toolkit init`: a new project that builds out of the box."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import ToolkitError

FILES: dict[str, str] = {
    "pyproject.toml": """\
[tool.toolkit]
warehouse = "warehouse.duckdb"
models = "models"
macros = "macros"
schema = "main"
dialect = "duckdb"  # the SQL of the model files: "duckdb" or "bigquery"

# Tables that already sit in the warehouse, read with {{ source('raw', 'events') }}.
[tool.toolkit.sources]
# raw = ["events"]

# Values read with {{ var('name', default) }}; --vars '{"name": …}' overrides them.
[tool.toolkit.vars]
multiplier = 3
""",
    "models/staging/stg_numbers.sql": """\
{{ config(materialized='view', tags=['staging']) }}
SELECT range AS n, range % 2 = 0 AS is_even
FROM range(10)
""",
    "models/numbers.sql": """\
{{ config(tags=['example']) }}
SELECT n, is_even, {{ times('n', var('multiplier', 2)) }} AS n_times
FROM {{ ref('stg_numbers') }}
""",
    "macros/arithmetic.sql": """\
{% macro times(column, factor) -%}
    ({{ column }} * {{ factor }})
{%- endmacro %}
""",
    ".gitignore": "warehouse.duckdb\nwarehouse.duckdb.wal\ntarget/\n",
}


# The same project in BigQuery's dialect: backticks, # comments, GENERATE_ARRAY, and the datasets it names.
BIGQUERY_FILES: dict[str, str] = {
    **FILES,
    "pyproject.toml": FILES["pyproject.toml"].replace('dialect = "duckdb"', 'dialect = "bigquery"') + """
# BigQuery's names: `project.dataset.table`, each dataset one of the warehouse's schemas (and back, to deploy).
[tool.toolkit.bigquery]
# project = "my-project"
datasets = { analytics = "main" }
""",
    "models/staging/stg_numbers.sql": """\
{{ config(materialized='view', tags=['staging']) }}
# BigQuery SQL: run in DuckDB with BigQuery's results
SELECT n, MOD(n, 2) = 0 AS is_even
FROM UNNEST(GENERATE_ARRAY(0, 9)) AS n
""",
    "models/numbers.sql": """\
{{ config(tags=['example']) }}
SELECT n, is_even, {{ times('n', var('multiplier', 2)) }} AS n_times
FROM `analytics.stg_numbers`
""",
}
TEMPLATES = {"duckdb": FILES, "bigquery": BIGQUERY_FILES}


def init_project(directory: Path, dialect: str = "duckdb") -> list[Path]:
    """Write the starter files (in `dialect`) into `directory`; refuses to overwrite anything."""
    files = TEMPLATES[dialect]
    clashes = [directory / name for name in files if (directory / name).exists()]
    if clashes:
        raise ToolkitError(
            f"{directory} already holds {', '.join(str(p.relative_to(directory)) for p in clashes)}",
            hint="choose a new folder, or move those files away",
        )
    written = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
