#!/usr/bin/env python3
"""Docket's benchmark (`make bench`): throughput and latency against a bare axum
baseline measured in the same run, cold paths, compile tiers (bench/tiers.py),
many concurrent waiting invocations, and peers (bench/peers.py: `wasmtime serve`
and the design floor). Writes a table to stdout and JSON to bench/results/.

Everything targets 127.0.0.1 and is bounded in time. Needs the release binaries,
the example actions and bench guests (the Makefile builds them) and wrk.
"""
import asyncio, datetime, json, os, re, resource, shutil, signal, struct, subprocess, sys, tempfile, time
import http.client, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.environ.get("BENCH_BIN_DIR", os.path.join(ROOT, "target", "release"))
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WAITERS = int(os.environ.get("BENCH_WAITERS", "10000"))
API_KEY = "bench-key-0123456789abcdef"
OPERATOR = "bench-operator-token"
DOC, VER = "5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10", "7a6b5c4d3e2f10fedcba98765432100a"


# ---- tiny WebAssembly encoder, for modules of a chosen size --------------------

def leb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)

def sleb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)

def vec(items):
    return leb(len(items)) + b"".join(items)

def section(ident, payload):
    return bytes([ident]) + leb(len(payload)) + payload

def command_module(target_bytes=0, salt=0):
    """A WASI command whose `_start` returns at once (empty stdout: success), plus
    filler functions of ~1 KiB each up to `target_bytes`; `salt` makes it unique."""
    filler_body = b"\x20\x00" + b"".join(b"\x41" + sleb(i * 7 + salt) + b"\x6a" for i in range(300)) + b"\x0b"
    filler = leb(len(filler_body) + 1) + b"\x00" + filler_body
    count = max(0, target_bytes // len(filler))
    start_body = b"\x00\x41" + sleb(salt) + b"\x1a\x0b"  # i32.const salt; drop; end
    start = leb(len(start_body)) + start_body
    types = vec([b"\x60" + vec([]) + vec([]), b"\x60" + vec([b"\x7f"]) + vec([b"\x7f"])])
    funcs = vec([b"\x00"] + [b"\x01"] * count)
    memory = vec([b"\x00\x01"])
    exports = vec([leb(6) + b"_start" + b"\x00\x00", leb(6) + b"memory" + b"\x02\x00"])
    code = vec([start] + [filler] * count)
    return (b"\0asm\x01\0\0\0" + section(1, types) + section(3, funcs) + section(5, memory)
            + section(7, exports) + section(10, code))


# ---- processes ---------------------------------------------------------------

def start(args, ready_prefix, env=None, log=None):
    """Starts a server and waits for its ready line; `log` (a path) keeps its
    stderr, whose tail is shown if it does not start."""
    err = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                            env={**os.environ, **(env or {})})
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(ready_prefix):
            base = line[len(ready_prefix):].strip()
            # Keep draining stdout so the server never blocks on a full pipe.
            drain(proc)
            return proc, base
    proc.kill()
    tail = ""
    if log:
        with open(log) as f:
            tail = ":\n" + "".join(f.readlines()[-20:])
    raise SystemExit(f"{args[0]} did not start (exit {proc.poll()}){tail}")

def drain(proc):
    import threading
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()

def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()

def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

def cpu_seconds(pid):
    """User plus system CPU the process (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def docket(data_dir, manifests=None, extra=()):
    args = [os.path.join(RELEASE, "docket"), "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
            "--admin-token", OPERATOR, "--tenant-max-concurrency", str(WAITERS * 2),
            "--max-instances", str(WAITERS + 2000), *extra]
    if manifests:
        args += ["--manifests", manifests]
    env = {"DOCKET_API_KEY_BENCH": API_KEY, "DOCKET_LOG": "warn"}
    return start(args, "docket listening on ", env)


# ---- HTTP helpers --------------------------------------------------------------

def request(base, method, path, body=None, headers=None, timeout=120):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data

def admin(base, method, path, token, payload=None):
    headers = {"Authorization": f"Bearer {token}"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["content-type"] = "application/json"
    status, data = request(base, method, "/admin/v1" + path, body, headers)
    return status, json.loads(data or b"null")

def deploy_body(manifest, module):
    """The multipart body and content type of a deploy (built before a timer starts)."""
    boundary = "docketbench"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n{manifest}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"module\"; filename=\"m.wasm\"\r\n"
            "Content-Type: application/wasm\r\n\r\n").encode() + module + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"

def deploy(base, token, tenant, manifest, module, prepared=None, timeout=120):
    body, content_type = prepared or deploy_body(manifest, module)
    headers = {"Authorization": f"Bearer {token}", "content-type": content_type}
    status, data = request(base, "POST", f"/admin/v1/tenants/{tenant}/actions", body, headers, timeout)
    if status != 201:
        raise SystemExit(f"deploy failed: {status} {data[:300]}")
    return json.loads(data)

def action_path(tenant, name, extra=""):
    return f"/t/{tenant}/customAction?name={name}&documentId={DOC}&documentVersionId={VER}{extra}"

def call(base, tenant, name, key, extra=""):
    return request(base, "GET", action_path(tenant, name, extra), headers={"apiKey": key, "username": "jane.doe"})


def settle_tiers(base, timeout=120):
    """Waits (bounded) until no cached module runs on baseline code, so wrk
    measures the optimized code a server ends up with: by default
    (`--compile-tiers baseline,optimized`) a module serves Winch code until
    its Cranelift code, compiled in the background, takes over. Returns at
    once on a server without the tier gauges."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, data = request(base, "GET", "/metrics", headers={"Authorization": f"Bearer {OPERATOR}"})
        m = re.search(r'^docket_modules_cached\{tier="baseline"\}\s+(\d+)', data.decode(errors="replace"), re.M)
        if status != 200 or not m or m.group(1) == "0":
            return
        time.sleep(0.05)
    print(f"warning: modules still on baseline code after {timeout} s; measuring anyway")


# ---- wrk -----------------------------------------------------------------------

def wrk(url, headers, connections, seconds, delay_ms=None):
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    script = None
    if delay_ms:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(f"function delay() return {delay_ms} end\n")
        script.close()
        args += ["-s", script.name]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": int(total.group(1)) if total else 0, "p50_ms": pct(50), "p99_ms": pct(99),
            "non_2xx": int(errors.group(1)) if errors else 0, "socket_errors": sock.group(1) if sock else ""}


# ---- the scenarios -----------------------------------------------------------

def throughput(results):
    baseline, base_url = start([os.path.join(RELEASE, "bench-baseline"), "127.0.0.1:0"], "baseline listening on ")
    data = tempfile.mkdtemp(prefix="docket-bench-")
    manifests = os.path.join(data, "manifests", "bench")
    os.makedirs(manifests)
    guests = {
        "trivial-command": (os.path.join(ROOT, "bench/guests/dist/noop-command.wasm"), ""),
        "trivial-component": (os.path.join(ROOT, "bench/guests/dist/noop-component.wasm"), ""),
        "realistic-command": (os.path.join(ROOT, "actions-wasm/dist/archive.wasm"), '[config]\nfolder = "Archive"\n'),
        "realistic-component": (os.path.join(ROOT, "actions-wasm/dist/review-gate.wasm"),
                                '[config]\nreviewers = "jane.doe"\n'),
    }
    for name, (module, extra) in guests.items():
        with open(os.path.join(manifests, f"{name}.toml"), "w") as f:
            f.write(f'name = "{name}"\nmodule = "{module}"\n{extra}')
    server, base = docket(os.path.join(data, "state"), os.path.dirname(manifests))
    headers = {"apiKey": API_KEY, "username": "jane.doe"}
    targets = [("baseline", base_url + action_path("bench", "x"), {}, baseline.pid)]
    for name in guests:
        extra = "&stage=legal" if name == "realistic-component" else ""
        status, body = call(base, "bench", name, API_KEY, extra)
        assert status == 200, (name, status, body)
        targets.append((name, base + action_path("bench", name, extra), headers, server.pid))
    settle_tiers(base)
    rows = {}
    for name, url, hdrs, pid in targets:
        wrk(url, hdrs, CONNECTIONS, 1)  # warm-up
        cpu_before = cpu_seconds(pid)
        peak = wrk(url, hdrs, CONNECTIONS, DURATION)
        # The server's own CPU per answered request, from /proc: what a
        # request costs, apart from how many cores the load could use.
        peak["server_cpu_us_per_request"] = round(
            (cpu_seconds(pid) - cpu_before) * 1e6 / max(peak["requests"], 1), 1)
        # Half of peak load, paced per connection with wrk's delay() hook.
        paced_connections = 32
        delay = max(1, round(paced_connections * 1000 / (peak["rps"] / 2)))
        half = wrk(url, hdrs, paced_connections, DURATION, delay_ms=delay)
        rows[name] = {"peak": peak, "half_load": half}
    base_rps = rows["baseline"]["peak"]["rps"]
    for name, row in rows.items():
        row["ratio_to_baseline"] = round(row["peak"]["rps"] / base_rps, 3)
    results["throughput"] = rows
    stop(server)
    stop(baseline)
    shutil.rmtree(data, ignore_errors=True)

def cold_paths(results):
    data = tempfile.mkdtemp(prefix="docket-bench-cold-")
    server, base = docket(data)
    count = int(os.environ.get("BENCH_ACTIONS", "1000"))
    status, tenant = admin(base, "POST", "/tenants", OPERATOR, {"name": "cold", "quotas": {"maxActions": count + 10}})
    token, key = tenant["adminToken"], tenant["apiKey"]
    cold = {}
    for label, size in [("1MB", 1 << 20), ("10MB", 10 << 20)]:
        module = command_module(size, salt=size)
        began = time.perf_counter()
        deploy(base, token, "cold", f'name = "upload-{label}"\n', module)
        status, _ = call(base, "cold", f"upload-{label}", key)
        assert status == 200
        cold[f"upload_to_first_invocation_{label}_ms"] = round((time.perf_counter() - began) * 1000, 1)
        cold[f"module_{label}_bytes"] = len(module)
    rss_before = rss_kib(server.pid)
    count = int(os.environ.get("BENCH_ACTIONS", "1000"))
    began = time.perf_counter()
    for i in range(count):
        deploy(base, token, "cold", f'name = "idle-{i}"\n', command_module(0, salt=i + 1))
    cold["deploy_small_action_ms_each"] = round((time.perf_counter() - began) * 1000 / count, 2)
    rss_after = rss_kib(server.pid)
    cold["actions_deployed"] = count
    cold["memory_per_idle_action_kib"] = round((rss_after - rss_before) / count, 1)
    stop(server)
    began = time.perf_counter()
    server, base = docket(data)
    ready = time.perf_counter()
    status, _ = call(base, "cold", f"idle-{count - 1}", key)
    assert status == 200
    cold["restart_to_ready_ms"] = round((ready - began) * 1000, 1)
    cold["restart_to_first_invocation_ms"] = round((time.perf_counter() - began) * 1000, 1)
    cold["rss_after_restart_kib"] = rss_kib(server.pid)
    results["cold"] = cold
    stop(server)
    shutil.rmtree(data, ignore_errors=True)

def artifact_bytes(data):
    root = os.path.join(data, "artifacts")
    return sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)) if os.path.isdir(root) else 0

def language_deploys(results):
    """Deploy cost of the large components (JavaScript, Python) next to a small
    Rust component as the baseline: upload-to-live (validate + compile + store),
    compiled artifact size, first invocation after the deploy and after a
    restart (which loads the cached artifact instead of compiling)."""
    examples = [("review-gate", 'name = "{n}"\n[config]\nreviewers = "jane.doe"\nstages = "legal"\n', "&stage=legal"),
                ("js-approvers", 'name = "{n}"\n[config]\napprovers = "jane.doe"\nsteps = "legal"\n', ""),
                ("python-naming", 'name = "{n}"\n[config]\nallowed-extensions = "pdf"\n', "&filename=ABC-2024-x.pdf")]
    data = tempfile.mkdtemp(prefix="docket-bench-lang-")
    server, base = docket(data)
    status, tenant = admin(base, "POST", "/tenants", OPERATOR, {"name": "lang"})
    token, key = tenant["adminToken"], tenant["apiKey"]
    rows = {}
    for name, manifest, query in examples:
        path = os.path.join(ROOT, "actions-wasm/dist", name + ".wasm")
        if not os.path.exists(path):
            print(f"skipping {name}: {path} is not built")
            continue
        module = open(path, "rb").read()
        before = artifact_bytes(data)
        began = time.perf_counter()
        deploy(base, token, "lang", manifest.format(n=name), module)
        deployed = time.perf_counter()
        status, body = call(base, "lang", name, key, query)
        assert status == 200, body
        first = time.perf_counter()
        rows[name] = {"module_bytes": len(module), "artifact_bytes": artifact_bytes(data) - before,
                      "deploy_ms": round((deployed - began) * 1000, 1),
                      "first_invocation_after_deploy_ms": round((first - deployed) * 1000, 1)}
    stop(server)
    began = time.perf_counter()
    server, base = docket(data)
    rows["restart_to_ready_ms"] = round((time.perf_counter() - began) * 1000, 1)
    for name, _, query in examples:
        if name in rows:
            began = time.perf_counter()
            status, body = call(base, "lang", name, key, query)
            assert status == 200, body
            rows[name]["first_invocation_after_restart_ms"] = round((time.perf_counter() - began) * 1000, 1)
            began = time.perf_counter()
            call(base, "lang", name, key, query)
            rows[name]["warm_invocation_ms"] = round((time.perf_counter() - began) * 1000, 1)
    results["languages"] = rows
    stop(server)
    shutil.rmtree(data, ignore_errors=True)

async def one_waiter(host, port, path, results):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\napiKey: {API_KEY}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=120)
        writer.close()
        results.append(data.startswith(b"HTTP/1.1 200"))
    except Exception:
        results.append(False)

def concurrency(results):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = WAITERS * 2 + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    data = tempfile.mkdtemp(prefix="docket-bench-wait-")
    manifests = os.path.join(data, "manifests", "bench")
    os.makedirs(manifests)
    with open(os.path.join(manifests, "wait.toml"), "w") as f:
        f.write(f'name = "wait"\nmodule = "{os.path.join(ROOT, "bench/guests/dist/sleep-command.wasm")}"\n'
                '[limits]\ntimeout-ms = 30000\n')
    # Every waiter holds its action's memory-mb (64 MiB) of the tenant's and
    # of the server's guest-memory budgets and one connection while it
    # sleeps; raise the three defaults with the quota (the server's budget
    # defaults to half the machine's memory: 188 waiters on 24 GiB).
    server, base = docket(os.path.join(data, "state"), os.path.dirname(manifests),
                          extra=("--tenant-max-memory-mb", str(64 * WAITERS),
                                 "--guest-memory-budget-mb", str(64 * WAITERS),
                                 "--max-connections", str(WAITERS + 1000)))
    # The waiters hold instances of the optimized engine's pool, sized by
    # --max-instances; the baseline engine's pool is a quarter of it.
    settle_tiers(base)
    url = urllib.parse.urlparse(base)
    outcomes = []
    path = action_path("bench", "wait", "&ms=2000")
    async def flood():
        await asyncio.gather(*(one_waiter(url.hostname, url.port, path, outcomes) for _ in range(WAITERS)))
    began = time.perf_counter()
    asyncio.run(flood())
    elapsed = time.perf_counter() - began
    results["concurrency"] = {
        "waiting_invocations": WAITERS, "succeeded": sum(outcomes), "failed": len(outcomes) - sum(outcomes),
        "wall_s": round(elapsed, 2), "peak_rss_kib": rss_kib(server.pid, "VmHWM"),
    }
    stop(server)
    shutil.rmtree(data, ignore_errors=True)


def main():
    results = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count()}, "settings": {"seconds": DURATION, "connections": CONNECTIONS,
                            # Servers inherit DOCKET_COMPILE_TIERS (bench/tiers.py
                            # sets --compile-tiers itself); unset means the default.
                            "compile_tiers": os.environ.get("DOCKET_COMPILE_TIERS", "baseline,optimized")}}
    only = sys.argv[1:] or ["throughput", "cold", "languages", "tiers", "concurrency", "cluster", "observability",
                            "providers", "peers"]
    if "throughput" in only: throughput(results)
    if "cold" in only: cold_paths(results)
    if "languages" in only: language_deploys(results)
    if "tiers" in only:
        import tiers  # bench/tiers.py: baseline (Winch) then optimized (Cranelift) code
        tiers.tiers(results)
    if "concurrency" in only: concurrency(results)
    if "cluster" in only:
        import cluster  # bench/cluster.py: replicas on PostgreSQL
        cluster.cluster(results)
    if "observability" in only:
        import observability  # bench/observability.py: what metrics and traces cost
        observability.observability(results)
    if "providers" in only:
        import providers  # bench/providers.py: Docket Drive against nginx, large folders
        providers.providers(results)
    if "peers" in only:
        import peers  # bench/peers.py: wasmtime serve and the design floor beside Docket
        peers.peers(results)
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    stamp = results["when"].replace(":", "").replace("+0000", "Z")
    for name in (f"bench-{stamp}.json", "latest.json"):
        with open(os.path.join(ROOT, "bench/results", name), "w") as f:
            json.dump(results, f, indent=2)
    print_table(results)

def print_table(results):
    if "throughput" in results:
        print(f"{'target':<22}{'req/s':>10}{'ratio':>8}{'cpu us/req':>11}{'p50 ms':>9}{'p99 ms':>9}"
              f"   {'half-load req/s':>16}{'p99 ms':>9}")
        for name, row in results["throughput"].items():
            peak, half = row["peak"], row["half_load"]
            print(f"{name:<22}{peak['rps']:>10.0f}{row['ratio_to_baseline']:>8.2f}"
                  f"{peak['server_cpu_us_per_request']:>11.1f}{peak['p50_ms']:>9.3f}"
                  f"{peak['p99_ms']:>9.3f}   {half['rps']:>16.0f}{half['p99_ms']:>9.3f}")
    for section in ("cold", "languages", "concurrency", "cluster", "observability"):
        if section in results:
            print()
            for key, value in results[section].items():
                print(f"{section}.{key}: {value}")
    if "tiers" in results:
        import tiers
        print()
        tiers.print_tiers(results["tiers"])
    if "providers" in results:
        import providers
        print()
        providers.print_providers(results["providers"])
    if "peers" in results:
        import peers
        print()
        peers.print_peers(results["peers"])

if __name__ == "__main__":
    main()
