"""The server's counters in Prometheus' text exposition format
(https://prometheus.io/docs/instrumenting/exposition_formats/): requests and errors by model, endpoint and status,
and a latency histogram per model and endpoint. Kept in memory, per worker process."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

# Latency buckets in seconds: the sub-millisecond range matters for online prediction.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._histograms: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self._reloads: dict[str, int] = defaultdict(int)

    def observe(self, model: str, endpoint: str, status: int, seconds: float) -> None:
        key = (model, endpoint)
        with self._lock:
            self._requests[(model, endpoint, status)] += 1
            counts = self._histograms.setdefault(key, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sums[key] += seconds

    def reloaded(self, outcome: str) -> None:
        with self._lock:
            self._reloads[outcome] += 1

    def text(self, versions: dict[str, int]) -> str:
        """Everything counted so far, in the text format; `versions`: the version each model serves."""
        lines = ["# HELP toolkit_requests_total Requests answered, by model, endpoint and HTTP status.",
                 "# TYPE toolkit_requests_total counter"]
        with self._lock:
            for (model, endpoint, status), count in sorted(self._requests.items()):
                lines.append(f'toolkit_requests_total{{model="{_escape(model)}",endpoint="{endpoint}",'
                             f'code="{status}"}} {count}')
            lines += ["# HELP toolkit_request_errors_total Requests answered with a 4xx or 5xx status.",
                      "# TYPE toolkit_request_errors_total counter"]
            errors: dict[tuple[str, str], int] = defaultdict(int)
            for (model, endpoint, status), count in self._requests.items():
                if status >= 400:
                    errors[(model, endpoint)] += count
            for (model, endpoint), count in sorted(errors.items()):
                lines.append(f'toolkit_request_errors_total{{model="{_escape(model)}",endpoint="{endpoint}"}} {count}')
            lines += ["# HELP toolkit_request_duration_seconds Time from request read to response built.",
                      "# TYPE toolkit_request_duration_seconds histogram"]
            for (model, endpoint), counts in sorted(self._histograms.items()):
                labels = f'model="{_escape(model)}",endpoint="{endpoint}"'
                total = 0
                for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts):
                    total += count
                    lines.append(f'toolkit_request_duration_seconds_bucket{{{labels},le="{bound}"}} {total}')
                lines.append(f"toolkit_request_duration_seconds_sum{{{labels}}} {self._sums[(model, endpoint)]!r}")
                lines.append(f"toolkit_request_duration_seconds_count{{{labels}}} {total}")
            lines += ["# HELP toolkit_reloads_total Reloads of the model store, by outcome.",
                      "# TYPE toolkit_reloads_total counter"]
            lines += [f'toolkit_reloads_total{{outcome="{o}"}} {c}' for o, c in sorted(self._reloads.items())]
        lines += ["# HELP toolkit_model_version The version each model serves.", "# TYPE toolkit_model_version gauge"]
        lines += [f'toolkit_model_version{{model="{_escape(m)}"}} {v}' for m, v in sorted(versions.items())]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
