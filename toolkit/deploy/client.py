"""The deploy script run on BigQuery with Google's client (`pip install "toolkit[bigquery]"`), one job per
statement, credentials from Application Default Credentials. A dry run sends each statement as a dry-run job:
BigQuery checks it (syntax, names, types, permissions) against what already exists there and says what it would
read, without running it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.deploy.bigquery import Deployment
from toolkit.errors import ToolkitError

_INSTALL = 'pip install "toolkit[bigquery]"'


@dataclass(frozen=True)
class JobResult:
    """What one statement did: the node, the statement's first line, bytes it reads (dry run) or its rows."""

    node: str
    summary: str
    bytes_processed: int | None = None
    rows: tuple[dict[str, Any], ...] = ()
    error: str | None = None


def bigquery_module() -> Any:
    """google.cloud.bigquery, or a ToolkitError saying how to install it."""
    try:
        return importlib.import_module("google.cloud.bigquery")
    except ImportError:
        raise ToolkitError("running on BigQuery needs Google's client library, which is not installed",
                           hint=f"install it with: {_INSTALL}") from None


def connect(project: str | None) -> Any:
    """A bigquery.Client for `project` (None: the credentials' default project)."""
    bigquery = bigquery_module()
    try:
        return bigquery.Client(project=project)
    except Exception as error:  # google.auth's DefaultCredentialsError, a missing project, …
        raise ToolkitError(f"cannot connect to BigQuery: {_message(error)}",
                           hint="sign in with `gcloud auth application-default login`, and give the project with "
                                "--project or [tool.toolkit.bigquery].project") from None


def run(deployment: Deployment, client: Any, dry_run: bool = False,
        report: Callable[[JobResult], None] = lambda result: None) -> list[JobResult]:
    """Each statement as a job, in order. A real run stops at the first failure (a failed ASSERT included) with a
    ToolkitError; a dry run checks every statement and raises one error naming those BigQuery refused."""
    bigquery = bigquery_module()
    results = []
    for node, statement in _jobs(deployment):
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False) if dry_run else bigquery.QueryJobConfig()
        summary = statement.strip().splitlines()[0] if statement.strip() else ""
        try:
            job = client.query(node.job_sql(statement), job_config=config)
            if dry_run:
                result = JobResult(node.name, summary, bytes_processed=job.total_bytes_processed)
            else:
                result = JobResult(node.name, summary, rows=tuple(dict(row.items()) for row in job.result()))
        except Exception as error:  # google.api_core's GoogleAPICallError and its kin: BigQuery said no
            result = JobResult(node.name, summary, error=_message(error))
            if not dry_run:
                report(result)
                raise ToolkitError(f"BigQuery stopped the deploy at {node.name} ({summary}): {result.error}",
                                   hint="fix the model file, compile again and rerun; the statements before this one "
                                        "have run") from None
        results.append(result)
        report(result)
    refused = [result for result in results if result.error]
    if refused:
        listed = "\n".join(f"  {result.node} ({result.summary}): {result.error}" for result in refused)
        raise ToolkitError(f"BigQuery's dry run refused {len(refused)} of {len(results)} statement(s):\n{listed}",
                           hint="a statement reading a table that an earlier one creates is refused until that "
                                "table exists: deploy the upstream nodes first, or check with --select")
    return results


def _jobs(deployment: Deployment) -> Iterator[tuple[Any, str]]:
    for node in deployment.nodes:
        for statement in node.statements:
            yield node, statement


def _message(error: Exception) -> str:
    """The client's message without its request details (google.api_core errors carry `.message`)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(message).split())
