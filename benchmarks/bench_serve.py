"""Online prediction: `toolkit serve` against a hand-written FastAPI + scikit-learn server (serve_baseline.py).

    python benchmarks/bench_serve.py [--warehouse warehouse.duckdb] [--model flight_delay] [--requests 400]

Both servers run as subprocesses on 127.0.0.1 with one worker, serving the model of a built warehouse (the example
project's flight_delay by default: `toolkit build` first). Load: one-instance requests at 1, 10 and 100 concurrent
clients (threads holding a keep-alive connection each), `--requests` requests per level (bounded), then
100-instance requests at 1 and 10 clients; p50 and p99 latency and throughput per server. The instances are rows of the
model's training table. Every answer of both servers is checked to be 200."""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", default="warehouse.duckdb")
    parser.add_argument("--model", default="flight_delay")
    parser.add_argument("--requests", type=int, default=400)
    arguments = parser.parse_args()
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

    servers = {
        "toolkit serve": [sys.executable, "-m", "toolkit", "serve", "--warehouse", warehouse, "--watch", "0",
                          "--models", arguments.model],
        "FastAPI + scikit-learn": [sys.executable, str(HERE / "serve_baseline.py"), warehouse, arguments.model],
    }
    print(f"model {arguments.model} ({served.path}); {arguments.requests} requests per level")
    print(f"{'server':24} {'instances':>9} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} "
          f"{'pred/s':>8} {'failed':>6}")
    for name, command in servers.items():
        port = free_port()
        process = start([*command, "--port", str(port)] if name == "toolkit serve" else [*command, str(port)],
                        port, path, singles[0])
        try:
            for size, bodies, clients in ((1, singles, 1), (1, singles, 10), (1, singles, 100), (100, batches, 1),
                                          (100, batches, 10)):
                total = arguments.requests if size == 1 else max(50, arguments.requests // 4)
                result = load(port, path, bodies, clients, max(total, clients))
                print(f"{name:24} {size:>9} {clients:>7} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
                      f"{result['requests_per_s']:>8.0f} {result['requests_per_s'] * size:>8.0f} "
                      f"{result['failed']:>6}")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
