"""Deploy a project to BigQuery itself, the engine to move to when a project outgrows one machine.

- `dialect`: the BigQuery dialect the deploy script is written in (ASSERT, `ML.PREDICT(MODEL m, TABLE t)`);
- `names`: the warehouse's `schema.table` as BigQuery's `project.dataset.table`;
- `rules`: one small rule per place where DuckDB's semantics differ from BigQuery's, DuckDB → BigQuery;
- `refusals`: what would not run on BigQuery, found before anything is written;
- `assertions`: each assertion as an ASSERT (severity error) or a reported count (warn);
- `bigquery`: the statements of every node, in dependency order, and the files they are written to;
- `client`: the script run (or dry-run) with Google's client, statement by statement."""

from toolkit.deploy.bigquery import Deployment, compile_bigquery

__all__ = ["Deployment", "compile_bigquery"]
