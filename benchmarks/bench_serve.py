"""Online prediction: `toolkit serve` against a hand-written FastAPI + scikit-learn server (serve_baseline.py).

    python benchmarks/bench_serve.py [--warehouse warehouse.duckdb] [--model flight_delay] [--requests 400]
        [--servers toolkit,fastapi] [--levels 1x1,1x10,1x100,100x1,100x10] [--rounds 1] [--workers 1]

Both servers run as subprocesses on 127.0.0.1 with one worker (`--workers` for toolkit serve), serving the model of a built warehouse (the example
project's flight_delay by default: `toolkit build` first). Load: one-instance requests at 1, 10 and 100 concurrent
clients (threads holding a keep-alive connection each), `--requests` requests per level (bounded), then
100-instance requests at 1 and 10 clients; p50 and p99 latency and throughput per server. The instances are rows of the
model's training table. Every answer of both servers is checked to be 200.

`--servers` picks among `toolkit` (`toolkit serve`), `toolkit-h11` (the same application on uvicorn's pure-Python
HTTP parser h11 and asyncio's event loop, as uvicorn runs without httptools and uvloop), `constant` (a constant
answer on uvicorn: the floor of HTTP and the load generator alone) and `fastapi`; `--levels`
the instances x clients levels; `--rounds` runs every server that many times, in turn (the machine's load moves
between runs: alternating gives each server the same share of it).

`--load wrk` generates the load with wrk (a C load generator: `apt-get install wrk`) instead of Python threads,
`--seconds` per level after a one-second warm-up (every worker's first request of an input schema runs DuckDB):
the Python clients cost more CPU than the server they measure, and on two shared cores they set the latency.
wrk's connections send the same bodies in turn; its percentiles come from its own latency histogram.

`--reloads N` (toolkit serve only) asks the server to reload the model store (`POST /v1/admin:reload`) N times
during each level, evenly spaced, and prints how many reloads answered 200: the load's failed requests then count
the requests that failed across the swaps."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

# The application of `toolkit serve`, as `toolkit.serve.server.serve` builds it, on h11 and asyncio.
H11_SERVER = """
import sys
from pathlib import Path

import uvicorn

from toolkit.serve.app import ServeOptions, create_app

warehouse, model, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app(ServeOptions(Path(warehouse), (model,)))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="h11", loop="asyncio")
"""
# The floor: an ASGI application answering every request with one constant body, on uvicorn with httptools and
# uvloop — what HTTP, the sockets and the load generator cost without any prediction.
CONSTANT_SERVER = """
import sys

import uvicorn

BODY = b'{"predictions": [{"predicted_is_delayed": false}], "model": "flight_delay", "modelVersionId": "1"}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, http="httptools",
            loop="uvloop")
"""
LEVELS = "1x1,1x10,1x100,100x1,100x10"

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], port: int, path: str, body: bytes) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            status, _ = request(http.client.HTTPConnection("127.0.0.1", port, timeout=10), path, body)
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not answer in 120 s")


def request(connection: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", path, body, {"content-type": "application/json"})
    response = connection.getresponse()
    return response.status, response.read()


def load(port: int, path: str, bodies: list[bytes], clients: int, total: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    per_client = max(1, total // clients)

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(per_client):
            body = bodies[(offset + i) % len(bodies)]
            start = time.perf_counter()
            status, _ = request(connection, path, body)
            mine.append(time.perf_counter() - start)
            if status != 200:
                with lock:
                    failures[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c * 7,)) for c in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"p50_ms": 1e3 * statistics.median(ordered), "p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))],
            "requests_per_s": len(ordered) / elapsed, "failed": failures[0]}


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def load_wrk(port: int, path: str, bodies: list[bytes], clients: int, seconds: int) -> dict[str, float]:
    """The same level generated by wrk: `clients` connections on one thread for `seconds`, the bodies in turn."""
    lua = ["local bodies = {"] + [f"[==[{b.decode()}]==]," for b in bodies] + [
        "}", "local i = 0", 'wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
        "request = function() i = i % #bodies + 1; return wrk.format(nil, nil, nil, bodies[i]) end"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lua))
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "60s", "--latency", "-s",
                               script.name, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                              check=True)
    finally:
        os.unlink(script.name)
    out = done.stdout

    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)[ \t]*$", out, re.M)  # wrk pads "2.83s "
        if found is None:  # no request finished within the level's seconds
            return float("nan")
        return float(found.group(1)) * _WRK_UNITS[found.group(2)]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return {"p50_ms": latency("50"), "p99_ms": latency("99"),
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "failed": failed}


class Reloads:
    """`count` reloads of the store (POST /v1/admin:reload) spread over `seconds`, on a thread of their own."""

    def __init__(self, port: int, count: int, seconds: float) -> None:
        self.answered: list[int] = []
        self._thread = threading.Thread(target=self._run, args=(port, count, seconds), daemon=True)
        self._thread.start()

    def _run(self, port: int, count: int, seconds: float) -> None:
        for index in range(count):
            time.sleep(seconds / (count + 1))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("POST", "/v1/admin:reload")
            response = connection.getresponse()
            response.read()
            self.answered.append(response.status)
            connection.close()

    def finish(self) -> str:
        """`ok/asked` once every reload has answered."""
        self._thread.join()
        return f"{self.answered.count(200)}/{len(self.answered)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", default="warehouse.duckdb")
    parser.add_argument("--model", default="flight_delay")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--servers", default="toolkit,fastapi", help="toolkit, toolkit-h11, constant, fastapi (comma-separated)")
    parser.add_argument("--levels", default=LEVELS, help="INSTANCESxCLIENTS, comma-separated (instances: 1 or 100)")
    parser.add_argument("--rounds", type=int, default=1, help="run the servers this many times, alternating")
    parser.add_argument("--workers", type=int, default=1, help="toolkit serve's worker processes")
    parser.add_argument("--load", choices=["threads", "wrk"], default="threads",
                        help="the load generator: Python threads (bounded by --requests) or wrk (by --seconds)")
    parser.add_argument("--seconds", type=int, default=5, help="with --load wrk: seconds per level")
    parser.add_argument("--reloads", type=int, default=0, help="toolkit serve: reload the store this often a level")
    arguments = parser.parse_args()
    if arguments.load == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--load wrk: wrk is not installed (apt-get install wrk)")
    levels = [tuple(map(int, level.split("x"))) for level in arguments.levels.split(",")]
    if any(size not in (1, 100) for size, _ in levels):
        raise SystemExit("--levels: requests of 1 or 100 instances")
    warehouse = str(Path(arguments.warehouse).resolve())

    sys.path.insert(0, str(HERE.parent))
    from toolkit.serve.request import jsonable
    from toolkit.serve.snapshot import load_snapshot

    served = load_snapshot(Path(warehouse), [arguments.model]).find(arguments.model)
    columns = ", ".join(f'"{c.name}"' for c in served.inputs)
    con = duckdb.connect(warehouse, read_only=True)
    table = "flight_training" if arguments.model != "route_clusters" else "route_profiles"
    rows = con.sql(f"SELECT {columns} FROM {table} USING SAMPLE 1000 ROWS (reservoir, 7)").to_arrow_table()
    con.close()
    instances = [{k: jsonable(v) for k, v in row.items()} for row in rows.to_pylist()]
    instances = (instances * (1000 // len(instances) + 1))[:1000]  # a small table's rows, repeated
    singles = [json.dumps({"instances": [i]}).encode() for i in instances]
    batches = [json.dumps({"instances": instances[i:i + 100]}).encode() for i in range(0, 1000, 100)]
    path = f"/v1/models/{arguments.model}:predict"

    servers = {  # name: (label, command given the port)
        "toolkit": ("toolkit serve", lambda port: [
            sys.executable, "-m", "toolkit", "serve", "--warehouse", warehouse, "--watch", "0",
            "--models", arguments.model, "--port", str(port), "--workers", str(arguments.workers)]),
        "toolkit-h11": ("toolkit serve on h11", lambda port: [
            sys.executable, "-c", H11_SERVER, warehouse, arguments.model, str(port)]),
        "constant": ("constant answer (floor)", lambda port: [sys.executable, "-c", CONSTANT_SERVER, str(port)]),
        "fastapi": ("FastAPI + scikit-learn", lambda port: [
            sys.executable, str(HERE / "serve_baseline.py"), warehouse, arguments.model, str(port)]),
    }
    chosen = arguments.servers.split(",")
    unknown = [name for name in chosen if name not in servers]
    if unknown:
        raise SystemExit(f"--servers: no server {unknown[0]} (choose among {', '.join(servers)})")
    per_level = (f"wrk, {arguments.seconds} s per level" if arguments.load == "wrk"
                 else f"{arguments.requests} requests per level")
    print(f"model {arguments.model} ({served.path}); {per_level}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'server':24} {'instances':>9} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} "
          f"{'pred/s':>8} {'failed':>6}")
    for name in [name for _ in range(arguments.rounds) for name in chosen]:
        label, command = servers[name]
        port = free_port()
        process = start(command(port), port, path, singles[0])
        try:
            if arguments.load == "wrk":
                load_wrk(port, path, singles, max(c for _, c in levels), 1)  # warms every worker up
            for size, clients in levels:
                bodies = singles if size == 1 else batches
                reloads = Reloads(port, arguments.reloads, arguments.seconds) if name.startswith("toolkit") and \
                    arguments.reloads else None
                if arguments.load == "wrk":
                    result = load_wrk(port, path, bodies, clients, arguments.seconds)
                else:
                    total = arguments.requests if size == 1 else max(50, arguments.requests // 4)
                    result = load(port, path, bodies, clients, max(total, clients))
                print(f"{label:24} {size:>9} {clients:>7} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
                      f"{result['requests_per_s']:>8.0f} {result['requests_per_s'] * size:>8.0f} "
                      f"{result['failed']:>6}" + (f"  reloads {reloads.finish()}" if reloads else ""))
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
