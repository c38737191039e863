"""The peers scenario of `make bench` (`make bench BENCH_ONLY=peers`, issue 30):
Docket's trivial actions beside other servers of the same work, in one run,
against the same bare axum baseline.

* `baseline`: the bare axum handler (`bench/baseline`), as in `throughput`;
* `docket-command`, `docket-component`: Docket serving the trivial command
  (`noop-command`) and component (`noop-component`) actions of tenant `bench`;
* `wasmtime-serve-*`: `wasmtime serve` (wasmtime-cli 48, built by `make bench`
  into `target/bench-tools`, or `BENCH_WASMTIME`) on `noop-http`, a
  `wasi:http/proxy` component answering the same JSON (with `-S cli=y`:
  Rust's std imports wasi:cli interfaces beyond the proxy world). `pooling`: its
  defaults (a fresh instance per request, pooling allocator on when the
  address space allows, which it does on x86-64; forced with
  `-O pooling-allocator=y`). `on-demand`: `-O pooling-allocator=n`, an mmap per
  instance. `tuned`: pooling with Docket's pool settings (memories and
  tables kept resident and wiped in place, PAGEMAP_SCAN), to show how
  much of the difference is the pool's reset of each instance.
  `reuse`: `--max-instance-reuse-count 128`, one instance for up to
  128 requests: not fresh-per-request, shown for scale only;
* `floor-command` (and `floor-component` when `bench-floor` supports it): the
  design floor, `bench/floor`: hyper plus a pooled instance of the same
  module per request, minimal host functions, no WASI context, no limits.
  `floor-engine-*`: the same under the engine contract every Docket request
  honours (asynchronous calls on fiber stacks, epoch deadline and ticker,
  fuel, a memory bound); `floor-pool-*`: that, with the guest run on a
  runtime of its own, as Docket's WebAssembly pool. What lies between
  `floor-pool` and Docket is Docket's own machinery (WASI, authentication,
  routing, tenants' CPU turns, the invocation log).

All servers start once and stay up; each is driven in turn by the same wrk as
`throughput` (1 s warm-up, then `-t2 -c32` for BENCH_SECONDS), with the server's
own CPU per request from /proc. ROUNDS interleaved rounds (default 2,
`BENCH_PEERS_ROUNDS`); each figure is the median over the rounds, and every
ratio is between figures of the same run.
"""
import os, shutil, socket, statistics, subprocess, tempfile, time

import run as bench

ROUNDS = int(os.environ.get("BENCH_PEERS_ROUNDS", "2"))
WASMTIME = os.environ.get("BENCH_WASMTIME", os.path.join(bench.ROOT, "target", "bench-tools", "bin", "wasmtime"))
NOOP_HTTP = os.path.join(bench.ROOT, "bench/guests/dist/noop-http.wasm")
FLOOR = os.path.join(bench.RELEASE, "bench-floor")

# Docket's pool settings (runner/src/engine/tier_engines.rs) as wasmtime-cli flags.
TUNED_POOL = ["pooling-memory-keep-resident=1048576", "pooling-table-keep-resident=65536",
              "pooling-async-stack-keep-resident=131072", "pooling-pagemap-scan=auto"]

# The goals of issue 30: Docket's throughput over the peer's, on the same work.
GOALS = {
    "docket_component_over_wasmtime_serve": ("docket-component", "wasmtime-serve-pooling", 2.0),
    "docket_command_over_floor": ("docket-command", "floor-command", 0.8),
}
# Further ratios, reported without a goal.
RATIOS = {
    "docket_component_over_wasmtime_serve_on_demand": ("docket-component", "wasmtime-serve-on-demand"),
    "docket_component_over_wasmtime_serve_tuned": ("docket-component", "wasmtime-serve-tuned"),
    "docket_component_over_floor_component": ("docket-component", "floor-component"),
    # Against the floor that honours the engine contract and the separate pool.
    "docket_command_over_floor_pool": ("docket-command", "floor-pool-command"),
    "docket_component_over_floor_pool_component": ("docket-component", "floor-pool-component"),
    # What the contract itself costs the floor.
    "floor_pool_over_floor_command": ("floor-pool-command", "floor-command"),
    "floor_pool_over_floor_component": ("floor-pool-component", "floor-component"),
}

LABELS = {
    "baseline": "baseline (bare axum)",
    "docket-command": "Docket, trivial command",
    "docket-component": "Docket, trivial component",
    "wasmtime-serve-pooling": "wasmtime serve, pooling (default)",
    "wasmtime-serve-on-demand": "wasmtime serve, on-demand alloc",
    "wasmtime-serve-tuned": "wasmtime serve, pool tuned as Docket",
    "wasmtime-serve-reuse": "wasmtime serve, reuse 128 (!fresh)",
    "floor-command": "floor, command",
    "floor-component": "floor, component",
    "floor-engine-command": "floor + engine contract, command",
    "floor-engine-component": "floor + engine contract, component",
    "floor-pool-command": "floor + contract + pool, command",
    "floor-pool-component": "floor + contract + pool, component",
}

# The floor's contracts (`bench-floor`'s third argument): name infix -> argument.
FLOOR_CONTRACTS = [("", "plain"), ("-engine", "engine"), ("-pool", "pool")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_answering(proc, base, path, timeout=120):
    """Waits until `base` answers 200 on `path` (`wasmtime serve` says it is
    ready on stderr, which the bench does not read)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            status, _ = bench.request(base, "GET", path, timeout=5)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{proc.args} did not answer 200 within {timeout} s")


def wasmtime_version():
    try:
        out = subprocess.run([WASMTIME, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    return out.strip() or None


def wasmtime_serve(flags):
    """`wasmtime serve` on noop-http with `flags`, on a free loopback port."""
    port = free_port()
    # `-S cli=y`: the WASI command interfaces besides the proxy world's, as
    # Rust's std on wasm32-wasip2 imports wasi:cli/environment and the like
    # (Docket's components get them too).
    args = [WASMTIME, "serve", "--addr", f"127.0.0.1:{port}", "-S", "cli=y", *flags, NOOP_HTTP]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_answering(proc, base, bench.action_path("bench", "x"))
    return proc, base


def floor(module, contract="plain"):
    """`bench-floor` instantiating `module` per request under `contract`; None
    when this build of the floor cannot serve it (the component floor is
    optional)."""
    proc = subprocess.Popen([FLOOR, "127.0.0.1:0", module, contract], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    prefix = "floor listening on "
    if not line.startswith(prefix):
        proc.wait(timeout=30)
        return None
    bench.drain(proc)
    base = line[len(prefix):].strip()
    status, body = bench.request(base, "GET", bench.action_path("bench", "x"))
    assert status == 200, (module, status, body)
    return proc, base


def start_all(data):
    """Starts every server of the scenario; returns {name: (proc, url)}."""
    servers = {}
    proc, base = bench.start([os.path.join(bench.RELEASE, "bench-baseline"), "127.0.0.1:0"],
                             "baseline listening on ")
    servers["baseline"] = (proc, base + bench.action_path("bench", "x"))
    manifests = os.path.join(data, "manifests", "bench")
    os.makedirs(manifests)
    guests = {"docket-command": "noop-command.wasm", "docket-component": "noop-component.wasm"}
    for name, module in guests.items():
        with open(os.path.join(manifests, f"{name}.toml"), "w") as f:
            f.write(f'name = "{name}"\nmodule = "{os.path.join(bench.ROOT, "bench/guests/dist", module)}"\n')
    proc, base = bench.docket(os.path.join(data, "state"), os.path.dirname(manifests))
    for name in guests:
        status, body = bench.call(base, "bench", name, bench.API_KEY)
        assert status == 200, (name, status, body)
        servers[name] = (proc, base + bench.action_path("bench", name))
    bench.settle_tiers(base)
    if wasmtime_version() and os.path.exists(NOOP_HTTP):
        for name, flags in [("wasmtime-serve-pooling", ["-O", "pooling-allocator=y"]),
                            ("wasmtime-serve-on-demand", ["-O", "pooling-allocator=n"]),
                            # Its pool tuned as Docket's and the floor's: what
                            # of the gap is the pool's reset of each instance.
                            ("wasmtime-serve-tuned", ["-O", "pooling-allocator=y,"
                                                      + ",".join(TUNED_POOL)]),
                            ("wasmtime-serve-reuse", ["-O", "pooling-allocator=y",
                                                      "--max-instance-reuse-count", "128"])]:
            proc, base = wasmtime_serve(flags)
            servers[name] = (proc, base + bench.action_path("bench", "x"))
    else:
        print(f"peers: skipping wasmtime serve: {WASMTIME} or {NOOP_HTTP} is missing")
    floors = [(f"floor{infix}-{kind}", f"noop-{kind}.wasm", contract)
              for kind in ("command", "component") for infix, contract in FLOOR_CONTRACTS]
    for name, module, contract in floors:
        if not os.path.exists(FLOOR):
            print(f"peers: skipping {name}: {FLOOR} is not built")
            continue
        started = floor(os.path.join(bench.ROOT, "bench/guests/dist", module), contract)
        if started:
            servers[name] = (started[0], started[1] + bench.action_path("bench", "x"))
        else:
            print(f"peers: skipping {name}: bench-floor does not serve {module}")
    return servers


def measure(url, pid):
    """One warm-up second, then the peak run with the server's CPU per request."""
    headers = {"apiKey": bench.API_KEY, "username": "jane.doe"}
    bench.wrk(url, headers, bench.CONNECTIONS, 1)
    cpu_before = bench.cpu_seconds(pid)
    peak = bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION)
    peak["server_cpu_us_per_request"] = round(
        (bench.cpu_seconds(pid) - cpu_before) * 1e6 / max(peak["requests"], 1), 1)
    return peak


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def peers(results):
    data = tempfile.mkdtemp(prefix="docket-bench-peers-")
    load_before = loadavg()
    servers = start_all(data)
    runs = {name: [] for name in servers}
    try:
        for _ in range(ROUNDS):
            for name, (proc, url) in servers.items():
                runs[name].append(measure(url, proc.pid))
    finally:
        for proc in {id(p): p for p, _ in servers.values()}.values():
            bench.stop(proc)
        shutil.rmtree(data, ignore_errors=True)
    median = lambda name, key: statistics.median(r[key] for r in runs[name])
    base_rps = median("baseline", "rps")
    targets = {}
    for name in runs:
        targets[name] = {
            "label": LABELS[name],
            "rps": round(median(name, "rps")),
            "ratio_to_baseline": round(median(name, "rps") / base_rps, 3),
            "p50_ms": round(median(name, "p50_ms"), 3),
            "p99_ms": round(median(name, "p99_ms"), 3),
            "cpu_us_per_request": round(median(name, "server_cpu_us_per_request"), 1),
            "non_2xx": sum(r["non_2xx"] for r in runs[name]),
            "runs": runs[name],
        }
    ratios = {}
    for key, (ours, theirs, *goal) in [*((k, v) for k, v in GOALS.items()), *RATIOS.items()]:
        if ours in targets and theirs in targets:
            entry = {
                # Throughput: Docket's req/s over the peer's.
                "rps": round(targets[ours]["rps"] / targets[theirs]["rps"], 3),
                # Efficiency: the peer's CPU per request over Docket's (above 1:
                # Docket spends less CPU on a request).
                "cpu": round(targets[theirs]["cpu_us_per_request"] / targets[ours]["cpu_us_per_request"], 3),
            }
            if goal:
                entry["goal"] = goal[0]
                entry["met"] = entry["rps"] >= goal[0]
            ratios[key] = entry
    results["peers"] = {"rounds": ROUNDS, "wasmtime": wasmtime_version(), "targets": targets, "ratios": ratios,
                        "loadavg_before": load_before, "loadavg_after": loadavg()}


def print_peers(peers):
    print(f"peers: median of {peers['rounds']} rounds; {peers['wasmtime'] or 'no wasmtime'}; "
          f"load average {peers['loadavg_before']} before, {peers['loadavg_after']} after")
    print(f"{'target':<36}{'req/s':>9}{'ratio':>8}{'cpu us/req':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for row in peers["targets"].values():
        print(f"{row['label']:<36}{row['rps']:>9}{row['ratio_to_baseline']:>8.2f}"
              f"{row['cpu_us_per_request']:>12.1f}{row['p50_ms']:>9.3f}{row['p99_ms']:>9.3f}"
              + (f"  ({row['non_2xx']} non-2xx)" if row["non_2xx"] else ""))
    for key, entry in peers["ratios"].items():
        goal = ""
        if "goal" in entry:
            goal = f"  goal >= {entry['goal']}: {'met' if entry['met'] else 'missed'}"
        print(f"{key}: {entry['rps']:.2f}x req/s, {entry['cpu']:.2f}x cpu/req{goal}")
