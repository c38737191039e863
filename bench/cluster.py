"""The scale-out scenario of `make bench` (`make bench BENCH_ONLY=cluster`):
Docket replicas on one PostgreSQL database (the local server, or the one
BENCH_POSTGRES names), measured in one run:

* per-replica overhead of PostgreSQL mode: trivial-action throughput of one
  replica on PostgreSQL against one process on SQLite, as a ratio;
* database transactions per invocation on the hot path: pg_stat_database's
  transaction count while wrk drives a replica, minus the same replica's idle
  rate over the same time (its heartbeat and reconcile); what is left is the
  invocation log's batched writes;
* propagation: deploy a new action on replica A, time until replica B answers it
  (p50, p99);
* cold start: a new replica joining a cluster with BENCH_ACTIONS (1,000)
  actions, their compiled artifacts shared through the database, until /readyz.
"""
import os, subprocess, tempfile, time, shutil, statistics, urllib.parse

import run as bench

SECRETS_KEY = "5e" * 32


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def replica(db_url, scratch):
    args = [os.path.join(bench.RELEASE, "docket"), "serve", "--listen", "127.0.0.1:0", "--data-dir", scratch,
            "--admin-token", bench.OPERATOR, "--database-url", db_url,
            "--tenant-max-concurrency", "1000"]
    return bench.start(args, "docket listening on ", {"DOCKET_SECRETS_KEY": SECRETS_KEY, "DOCKET_LOG": "warn"})


def sqlite_server(data):
    args = [os.path.join(bench.RELEASE, "docket"), "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
            "--admin-token", bench.OPERATOR, "--tenant-max-concurrency", "1000"]
    return bench.start(args, "docket listening on ", {"DOCKET_LOG": "warn"})


def tenant_with_noop(base, count=0):
    status, tenant = bench.admin(base, "POST", "/tenants", bench.OPERATOR,
                                 {"name": "bench", "quotas": {"maxActions": count + 100}})
    assert status == 201, tenant
    token, key = tenant["adminToken"], tenant["apiKey"]
    with open(os.path.join(bench.ROOT, "bench/guests/dist/noop-command.wasm"), "rb") as f:
        bench.deploy(base, token, "bench", 'name = "noop"\n', f.read())
    return token, key


def transactions(url):
    return int(psql(url, "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                         "WHERE datname = current_database()"))


def cluster(results):
    server_url = os.environ.get("BENCH_POSTGRES", "postgres://127.0.0.1:5432/test")
    name = f"docket_bench_{os.getpid()}"
    psql(server_url, f"CREATE DATABASE {name}")
    db_url = server_url.rsplit("/", 1)[0] + "/" + name
    scratch = tempfile.mkdtemp(prefix="docket-bench-cluster-")
    procs = []
    out = {}
    try:
        # Overhead: one SQLite process, then one PostgreSQL replica, same action, same wrk.
        sqlite, sqlite_base = sqlite_server(os.path.join(scratch, "sqlite"))
        _, sqlite_key = tenant_with_noop(sqlite_base)
        headers = {"apiKey": sqlite_key, "username": "jane.doe"}
        url = sqlite_base + bench.action_path("bench", "noop")
        bench.wrk(url, headers, bench.CONNECTIONS, 1)
        sqlite_rps = bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION)["rps"]
        bench.stop(sqlite)

        a, a_base = replica(db_url, os.path.join(scratch, "a"))
        procs.append(a)
        token, key = tenant_with_noop(a_base, int(os.environ.get("BENCH_ACTIONS", "1000")))
        headers = {"apiKey": key, "username": "jane.doe"}
        url = a_base + bench.action_path("bench", "noop")
        bench.wrk(url, headers, bench.CONNECTIONS, 1)
        # The idle rate first (heartbeat and reconcile), then the busy window.
        time.sleep(2)
        idle_began, began_at = transactions(db_url), time.perf_counter()
        time.sleep(bench.DURATION)
        time.sleep(1.5)  # statistics reach pg_stat_database within about a second
        idle = transactions(db_url) - idle_began
        idle_window = time.perf_counter() - began_at - 1.5
        before = transactions(db_url)
        run = bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION)
        time.sleep(1.5)
        busy = transactions(db_url) - before
        requests = run["rps"] * bench.DURATION
        background = idle * (bench.DURATION + 1.5) / (idle_window + 1.5)
        out["sqlite_rps"] = round(sqlite_rps)
        out["postgres_rps"] = round(run["rps"])
        out["postgres_to_sqlite_ratio"] = round(run["rps"] / sqlite_rps, 3)
        out["invocations_measured"] = round(requests)
        out["db_transactions_busy_window"] = busy
        out["db_transactions_idle_same_time"] = round(background)
        out["db_transactions_per_invocation"] = round(max(0.0, busy - background) / requests, 5)

        # Propagation: a new action deployed on A, answered by B.
        b, b_base = replica(db_url, os.path.join(scratch, "b"))
        procs.append(b)
        with open(os.path.join(bench.ROOT, "bench/guests/dist/noop-command.wasm"), "rb") as f:
            noop = f.read()
        samples = []
        for i in range(int(os.environ.get("BENCH_PROPAGATIONS", "40"))):
            bench.deploy(a_base, token, "bench", f'name = "prop-{i}"\n', noop)
            deployed = time.perf_counter()
            while True:
                status, _ = bench.call(b_base, "bench", f"prop-{i}", key)
                if status == 200:
                    break
                if time.perf_counter() - deployed > 10:
                    raise SystemExit(f"prop-{i} never reached replica B")
                time.sleep(0.002)
            samples.append((time.perf_counter() - deployed) * 1000)
        samples.sort()
        out["propagation_samples"] = len(samples)
        out["propagation_p50_ms"] = round(statistics.median(samples), 1)
        out["propagation_p99_ms"] = round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1)
        out["propagation_max_ms"] = round(samples[-1], 1)

        # Cold start: a new replica joining a cluster of BENCH_ACTIONS actions.
        count = int(os.environ.get("BENCH_ACTIONS", "1000"))
        for i in range(count):
            bench.deploy(a_base, token, "bench", f'name = "idle-{i}"\n', bench.command_module(0, salt=i + 1))
        began = time.perf_counter()
        c, c_base = replica(db_url, os.path.join(scratch, "c"))
        procs.append(c)
        while bench.request(c_base, "GET", "/readyz")[0] != 200:
            time.sleep(0.01)
        out["join_actions"] = count + 1 + len(samples)
        out["join_to_ready_ms"] = round((time.perf_counter() - began) * 1000, 1)
        status, _ = bench.call(c_base, "bench", f"idle-{count - 1}", key)
        assert status == 200
    finally:
        for proc in procs:
            bench.stop(proc)
        shutil.rmtree(scratch, ignore_errors=True)
        psql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    results["cluster"] = out
