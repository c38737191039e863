#!/usr/bin/env python3
"""Many small actions on one replica (issue 30, "Scale of tenants and actions"):
what a restart costs when most deployed actions are never called.

For each count in BENCH_SCALE_COUNTS (default `1000,10000`), on a fresh data
dir: creates count/10 tenants, deploys 10 small distinct command modules to
each through the admin API (BENCH_SCALE_DEPLOYERS at a time), calls 1% of the
actions once (the "recently called"), stops the server with SIGTERM (so the
run log is written), then measures

* restart to ready: from the process start to its "listening" line;
* idle RSS one second after ready;
* the first call of 50 actions never called since the restart (p50, p99, max):
  a lazy load from the compiled artifact with this change, a call of a module
  loaded at start before it;
* a warm call's latency (200 calls of one recently called action: p50, p99);
* with `wrk` installed, that action at peak (`wrk -t2 -c32`, BENCH_SECONDS,
  default 5): req/s and p99, the hot path with the loaded modules' recency
  tracked.

Each binary named in BENCH_SCALE_BINS (`label=path,label=path`; default the
release binary as `after`) runs over the same data dir, one after the other,
so a before/after pair is measured on the same store in the same run. The
deploys go through the real admin API (and the compile worker), so they take
a while: about 10 ms per action with a release build.

    python3 bench/scale.py                       # release binary
    BENCH_SCALE_BINS=before=/tmp/old/docket,after=target/debug/docket \\
        BENCH_SCALE_COUNTS=1000 python3 bench/scale.py

Writes bench/results/scale-<time>.json and prints a table.
"""
import concurrent.futures, datetime, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the shared helpers: module encoder, HTTP, processes)

COUNTS = [int(n) for n in os.environ.get("BENCH_SCALE_COUNTS", "1000,10000").split(",")]
PER_TENANT = 10
DEPLOYERS = int(os.environ.get("BENCH_SCALE_DEPLOYERS", "4"))
FIRST_CALLS = 50
WARM_CALLS = 200
WRK_SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))


def binaries():
    spec = os.environ.get("BENCH_SCALE_BINS")
    if not spec:
        return [("after", os.path.join(bench.RELEASE, "docket"))]
    return [tuple(part.split("=", 1)) for part in spec.split(",")]


def serve(binary, data, extra=()):
    args = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
            "--admin-token", bench.OPERATOR, "--compile-tiers", "optimized", *extra]
    began = time.perf_counter()
    proc, base = bench.start(args, "docket listening on ", {"DOCKET_LOG": "warn"})
    return proc, base, (time.perf_counter() - began) * 1000


def timed_call(base, tenant, name, key):
    began = time.perf_counter()
    status, body = bench.call(base, tenant, name, key)
    ms = (time.perf_counter() - began) * 1000
    if status != 200:
        raise SystemExit(f"{tenant}/{name}: {status} {body[:200]}")
    return ms


def pct(values, p):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 2)


def populate(binary, data, count):
    """Deploys `count` actions over count/10 tenants; returns their keys."""
    proc, base, _ = serve(binary, data)
    tenants = [f"t{i:05d}" for i in range(count // PER_TENANT)]
    keys = {}
    for tenant in tenants:
        status, body = bench.admin(base, "POST", "/tenants", bench.OPERATOR, {"name": tenant})
        assert status == 201, body
        keys[tenant] = (body["adminToken"], body["apiKey"])

    def deploy(i):
        tenant = tenants[i // PER_TENANT]
        token = keys[tenant][0]
        bench.deploy(base, token, tenant, f'name = "a{i % PER_TENANT}"\n', bench.command_module(0, salt=i + 1))

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(DEPLOYERS) as pool:
        list(pool.map(deploy, range(count)))
    deploy_ms = (time.perf_counter() - began) * 1000 / count
    # The "recently called": the first 1% of the tenants' first action.
    recent = [(t, "a0") for t in tenants[: max(1, len(tenants) // 10)]]
    for tenant, name in recent:
        timed_call(base, tenant, name, keys[tenant][1])
    bench.stop(proc)
    return tenants, keys, recent, round(deploy_ms, 2)


def measure(binary, data, tenants, keys, recent):
    proc, base, ready_ms = serve(binary, data)
    time.sleep(1)
    rss = bench.rss_kib(proc.pid)
    # Never called since the restart: the last action of tenants spread out.
    step = max(1, len(tenants) // FIRST_CALLS)
    never = [(t, f"a{PER_TENANT - 1}") for t in tenants[::step][:FIRST_CALLS]]
    first = [timed_call(base, t, n, keys[t][1]) for t, n in never]
    tenant, name = recent[0]
    warm = [timed_call(base, tenant, name, keys[tenant][1]) for _ in range(WARM_CALLS)]
    rss_after = bench.rss_kib(proc.pid)
    peak = None
    if shutil.which("wrk"):
        # The hot path with every module's use tracked: wrk at peak on one
        # recently called action (as `make bench`'s throughput, 5 s).
        url = base + bench.action_path(tenant, name)
        peak = bench.wrk(url, {"apiKey": keys[tenant][1], "username": "jane.doe"}, 32, WRK_SECONDS)
    bench.stop(proc)
    return {
        "restart_to_ready_ms": round(ready_ms, 1),
        "idle_rss_mib": round(rss / 1024, 1),
        "first_call_ms": {"p50": pct(first, 50), "p99": pct(first, 99), "max": round(max(first), 2)},
        "warm_call_ms": {"p50": pct(warm, 50), "p99": pct(warm, 99),
                         "mean": round(statistics.mean(warm), 3)},
        "rss_after_calls_mib": round(rss_after / 1024, 1),
        "warm_peak": peak,
    }


def main():
    results = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
               "nproc": os.cpu_count(), "runs": {}}
    bins = binaries()
    for round_, count in enumerate(COUNTS):
        data = tempfile.mkdtemp(prefix=f"docket-bench-scale-{count}-")
        try:
            # Populated with the last binary (the newest schema), then each
            # binary restarts over the same store.
            tenants, keys, recent, deploy_ms = populate(bins[-1][1], data, count)
            run = {"actions": count, "tenants": len(tenants), "recently_called": len(recent),
                   "deploy_ms_each": deploy_ms}
            for label, binary in bins:
                run[label] = measure(binary, data, tenants, keys, recent)
                print(f"{count} actions, {label}: {json.dumps(run[label])}", flush=True)
            results["runs"][f"{count}#{round_ + 1}"] = run
        finally:
            shutil.rmtree(data, ignore_errors=True)
    os.makedirs(os.path.join(bench.ROOT, "bench/results"), exist_ok=True)
    stamp = results["when"].replace(":", "").replace("+0000", "Z")
    with open(os.path.join(bench.ROOT, "bench/results", f"scale-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=2)
    print()
    print(f"{'actions':>8} {'binary':<8}{'ready ms':>10}{'RSS MiB':>9}{'1st p50':>9}{'1st p99':>9}"
          f"{'warm p50':>10}{'warm p99':>10}{'peak req/s':>12}{'peak p99':>10}")
    for key, run in results["runs"].items():
        for label, _ in bins:
            m = run[label]
            peak = m["warm_peak"] or {"rps": 0, "p99_ms": 0}
            print(f"{run['actions']:>8} {label:<8}{m['restart_to_ready_ms']:>10}{m['idle_rss_mib']:>9}"
                  f"{m['first_call_ms']['p50']:>9}{m['first_call_ms']['p99']:>9}"
                  f"{m['warm_call_ms']['p50']:>10}{m['warm_call_ms']['p99']:>10}"
                  f"{peak['rps']:>12.0f}{peak['p99_ms']:>10.2f}")


if __name__ == "__main__":
    main()
