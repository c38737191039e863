"""The observability scenario of `make bench` (`make bench BENCH_ONLY=observability`):
what metrics and traces cost on the hot path, as ratios in one run.

The trivial command action is driven at peak load by wrk against four servers,
each started the same way but for its observability flags:

* `off`: `--no-metrics`, no traces (the reference);
* `metrics`: the default (metrics on), no traces;
* `metrics+traces-1%`: metrics, and traces sampled at 1% exported over OTLP;
* `metrics+traces-100%`: metrics, and every request traced and exported.

Traces go to an OTLP/HTTP sink in this process that answers every export with
200 and counts the batches and bytes, so the exporter never waits on a slow
collector. The variants run in ROUNDS interleaved rounds (off, metrics, 1%,
100%, then again), and each variant's throughput is its median over the rounds,
so drift on a shared machine hits every variant alike.
"""
import http.server, os, shutil, statistics, tempfile, threading

import run as bench

ROUNDS = int(os.environ.get("BENCH_OBSERVABILITY_ROUNDS", "3"))


class Sink:
    """An OTLP/HTTP receiver that accepts and counts whatever is posted."""

    def __init__(self):
        sink = self
        self.batches, self.bytes = 0, 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                size = int(self.headers.get("content-length", "0"))
                self.rfile.read(size)
                with sink.lock:
                    sink.batches += 1
                    sink.bytes += size
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def counts(self):
        with self.lock:
            return self.batches, self.bytes


def observability(results):
    sink = Sink()
    data = tempfile.mkdtemp(prefix="docket-bench-obs-")
    manifests = os.path.join(data, "manifests", "bench")
    os.makedirs(manifests)
    module = os.path.join(bench.ROOT, "bench/guests/dist/noop-command.wasm")
    with open(os.path.join(manifests, "trivial.toml"), "w") as f:
        f.write(f'name = "trivial"\nmodule = "{module}"\n')
    variants = {
        "off": ["--no-metrics"],
        "metrics": [],
        "metrics+traces-1%": ["--otlp-endpoint", sink.url, "--trace-sample-ratio", "0.01"],
        "metrics+traces-100%": ["--otlp-endpoint", sink.url, "--trace-sample-ratio", "1"],
    }
    headers = {"apiKey": bench.API_KEY, "username": "jane.doe"}
    runs = {name: [] for name in variants}
    exported = {name: [0, 0] for name in variants}
    for round_number in range(ROUNDS):
        for name, flags in variants.items():
            state = os.path.join(data, f"state-{name}-{round_number}")
            server, base = bench.docket(state, os.path.dirname(manifests), flags)
            status, body = bench.call(base, "bench", "trivial", bench.API_KEY)
            assert status == 200, (name, status, body)
            url = base + bench.action_path("bench", "trivial")
            bench.wrk(url, headers, bench.CONNECTIONS, 1)  # warm-up
            before = sink.counts()
            runs[name].append(bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION))
            bench.stop(server)  # flushes the last spans
            after = sink.counts()
            exported[name][0] += after[0] - before[0]
            exported[name][1] += after[1] - before[1]
    reference = statistics.median(r["rps"] for r in runs["off"])
    rows = {}
    for name, measured in runs.items():
        rps = statistics.median(r["rps"] for r in measured)
        rows[name] = {
            "rps": round(rps),
            "ratio_to_off": round(rps / reference, 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in measured), 3),
            "non_2xx": sum(r["non_2xx"] for r in measured),
            "otlp_batches": exported[name][0],
            "otlp_kib": round(exported[name][1] / 1024),
        }
    results["observability"] = rows
    sink.server.shutdown()
    shutil.rmtree(data, ignore_errors=True)
