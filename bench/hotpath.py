#!/usr/bin/env python3
"""Hot-path variants of one Docket binary, side by side in one run (issue 30).

Each variant is the same release binary started with different settings
(flags or environment); every round measures the bare axum baseline and then
each variant in turn, so machine noise spreads over all of them alike. For
each variant and target: peak req/s with `wrk -t2 -c32` (BENCH_SECONDS), its
ratio to the round's baseline, and the server's CPU per answered request
(user + system, all threads, from /proc). The table shows the median over
the rounds (BENCH_HOTPATH_ROUNDS, default 3).

    BENCH_HOTPATH_VARIANTS=default,inline python3 bench/hotpath.py
    BENCH_HOTPATH_BINS=before=/tmp/docket-before BENCH_HOTPATH_VARIANTS=default python3 bench/hotpath.py

Variants are named in VARIANTS below; BENCH_HOTPATH_VARIANTS picks some,
BENCH_HOTPATH_TARGETS the actions. The variants set through
`DOCKET_EXPERIMENT_*` need a binary built with `bench/hotpath-knobs.patch`
applied (`git apply bench/hotpath-knobs.patch`, then `cargo build --release
-p docket`): the knobs are measurement switches (the invocation log off, say),
not product settings, so the product does not carry them; the script refuses
them on a binary without. Writes bench/results/hotpath-<time>.json.
"""
import datetime, json, os, shutil, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

# name -> (extra serve flags, extra environment)
VARIANTS = {
    "default": ([], {}),
    "inline": ([], {"DOCKET_EXPERIMENT_INLINE": "1"}),
    "no-log": ([], {"DOCKET_EXPERIMENT_NO_LOG": "1"}),
    # One row per tenant per batch instead of one per record (write side
    # only: the run log cannot be read back in this variant).
    "log-batch-rows": ([], {"DOCKET_EXPERIMENT_LOG_BATCH_ROWS": "1"}),
    # SQLite's page cache per connection at 32 MiB instead of 2 MB, so the
    # log's pages are not read back from the OS.
    "sqlite-cache-32m": ([], {"DOCKET_EXPERIMENT_SQLITE_CACHE_KB": "32768"}),
    "log-pause-100": ([], {"DOCKET_EXPERIMENT_LOG_PAUSE_MS": "100"}),
    "log-pause-250": ([], {"DOCKET_EXPERIMENT_LOG_PAUSE_MS": "250"}),
    "no-cow": ([], {"DOCKET_EXPERIMENT_COW": "0"}),
    "no-fuel": ([], {"DOCKET_EXPERIMENT_NO_FUEL": "1"}),
    "warm-slots-0": ([], {"DOCKET_EXPERIMENT_WARM_SLOTS": "0"}),
    "warm-slots-1000": ([], {"DOCKET_EXPERIMENT_WARM_SLOTS": "1000"}),
    "no-pagemap": ([], {"DOCKET_EXPERIMENT_PAGEMAP": "0"}),
    "keep-resident-0": ([], {"DOCKET_EXPERIMENT_KEEP_RESIDENT": "0"}),
    "wasm-threads-1": ([], {"DOCKET_WASM_THREADS": "1"}),
    "io-threads-1": ([], {"TOKIO_WORKER_THREADS": "1"}),
    "io-1-wasm-1": ([], {"TOKIO_WORKER_THREADS": "1", "DOCKET_WASM_THREADS": "1"}),
    "small-pool": (["--max-instances", "200"], {}),
    # A tenant's CPU share as large as the load's connections: no guest ever
    # waits for a turn (`engine/cpu.rs`), so the turn's own cost shows.
    "cpu-share-64": (["--tenant-cpu-share", "64"], {}),
}

TARGETS = {
    "trivial-command": (os.path.join(bench.ROOT, "bench/guests/dist/noop-command.wasm"), "", ""),
    "trivial-component": (os.path.join(bench.ROOT, "bench/guests/dist/noop-component.wasm"), "", ""),
    # Opt-in reuse (`instance-reuse`): one instance answers up to 100 requests.
    "trivial-component-reuse": (os.path.join(bench.ROOT, "bench/guests/dist/noop-component.wasm"),
                                "[limits]\ninstance-reuse = 100\n", ""),
    "realistic-command": (os.path.join(bench.ROOT, "actions-wasm/dist/archive.wasm"),
                          '[config]\nfolder = "Archive"\n', ""),
    "realistic-component": (os.path.join(bench.ROOT, "actions-wasm/dist/review-gate.wasm"),
                            '[config]\nreviewers = "jane.doe"\n', "&stage=legal"),
}


def measure(url, headers, pid):
    bench.wrk(url, headers, bench.CONNECTIONS, 1)  # warm-up
    before = bench.cpu_seconds(pid)
    peak = bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION)
    peak["cpu_us_per_request"] = round(
        (bench.cpu_seconds(pid) - before) * 1e6 / max(peak["requests"], 1), 1)
    return peak


def docket(manifests, state, flags, env, binary=None):
    args = [binary or os.path.join(bench.RELEASE, "docket"), "serve", "--listen", "127.0.0.1:0",
            "--data-dir", state, "--admin-token", bench.OPERATOR, "--compile-tiers", "optimized",
            "--manifests", manifests, *flags]
    if "--max-instances" not in flags:
        args += ["--max-instances", "1000"]
    return bench.start(args, "docket listening on ",
                       {"DOCKET_API_KEY_BENCH": bench.API_KEY, "DOCKET_LOG": "warn", **env},
                       log=state + ".log")


def main():
    chosen = [v for v in os.environ.get("BENCH_HOTPATH_VARIANTS", ",".join(VARIANTS)).split(",") if v]
    # Other binaries with the default settings, as label=path (a before/after pair).
    binaries = dict(spec.split("=", 1) for spec in os.environ.get("BENCH_HOTPATH_BINS", "").split(",") if spec)
    for label in binaries:
        VARIANTS[label] = ([], {})
    with open(os.path.join(bench.RELEASE, "docket"), "rb") as f:
        has_knobs = b"LOG_PAUSE_MS" in f.read()
    needs_knobs = [v for v in chosen if any(k.startswith("DOCKET_EXPERIMENT_") for k in VARIANTS[v][1])]
    if needs_knobs and not has_knobs:
        raise SystemExit(f"variants {needs_knobs} need a binary built with bench/hotpath-knobs.patch applied")
    chosen = list(binaries) + [v for v in chosen if v not in binaries]
    targets = os.environ.get("BENCH_HOTPATH_TARGETS", ",".join(TARGETS)).split(",")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    rounds = int(os.environ.get("BENCH_HOTPATH_ROUNDS", "3"))
    work = tempfile.mkdtemp(prefix="docket-hotpath-")
    manifests = os.path.join(work, "manifests", "bench")
    os.makedirs(manifests)
    for name in targets:
        module, extra, _ = TARGETS[name]
        with open(os.path.join(manifests, f"{name}.toml"), "w") as f:
            f.write(f'name = "{name}"\nmodule = "{module}"\n{extra}')
    headers = {"apiKey": bench.API_KEY, "username": "jane.doe"}
    samples = {}
    load = []
    for round_ in range(rounds):
        baseline, base_url = bench.start([os.path.join(bench.RELEASE, "bench-baseline"), "127.0.0.1:0"],
                                         "baseline listening on ")
        samples.setdefault("baseline", {}).setdefault("baseline", []).append(
            measure(base_url + bench.action_path("bench", "x"), {}, baseline.pid))
        bench.stop(baseline)
        for variant in chosen:
            flags, env = VARIANTS[variant]
            state = os.path.join(work, f"state-{variant}-{round_}")
            server, base = docket(os.path.dirname(manifests), state, flags, env, binaries.get(variant))
            for name in targets:
                extra = TARGETS[name][2]
                status, body = bench.call(base, "bench", name, bench.API_KEY, extra)
                assert status == 200, (variant, name, status, body)
                samples.setdefault(variant, {}).setdefault(name, []).append(
                    measure(base + bench.action_path("bench", name, extra), headers, server.pid))
            bench.stop(server)
        load.append(os.getloadavg()[0])
        print(f"round {round_ + 1}/{rounds} done, load {load[-1]:.1f}", flush=True)
    base_rps = statistics.median(s["rps"] for s in samples["baseline"]["baseline"])
    table = {}
    for variant, per_target in samples.items():
        for name, runs in per_target.items():
            rps = statistics.median(s["rps"] for s in runs)
            table.setdefault(variant, {})[name] = {
                "rps": round(rps), "ratio": round(rps / base_rps, 3),
                "cpu_us_per_request": statistics.median(s["cpu_us_per_request"] for s in runs),
                "p99_ms": statistics.median(s["p99_ms"] for s in runs),
                "runs": runs,
            }
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = os.path.join(bench.ROOT, "bench", "results", f"hotpath-{stamp}.json")
    with open(out, "w") as f:
        json.dump({"rounds": rounds, "binaries": binaries, "load_average": load, "seconds": bench.DURATION,
                   "variants": {v: VARIANTS[v] for v in chosen}, "table": table}, f, indent=2)
    print(f"\n| variant | target | req/s | ratio | cpu us/req | p99 ms |\n|---|---|---:|---:|---:|---:|")
    for variant, per_target in table.items():
        for name, row in per_target.items():
            print(f"| {variant} | {name} | {row['rps']:,} | {row['ratio']:.2f} | "
                  f"{row['cpu_us_per_request']:.0f} | {row['p99_ms']:.2f} |")
    print(f"\nwrote {os.path.relpath(out, bench.ROOT)}; load average per round {load}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
