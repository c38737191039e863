#!/usr/bin/env python3
"""100,000 actions over 10,000 tenants on one replica (issue 30), seeded in
bulk: restart to ready, idle RSS, first calls, warm calls, `serviceInfo` and
deploys at that size, on SQLite and on PostgreSQL.

Deploying 100,000 actions through the admin API would take hours on this
machine, so the store is seeded in two steps (the issue allows a bulk path as
long as the serving path measured is the real one):

1. through the real admin API of a running server: BENCH_SEED_SOURCES
   (default 100) tenants with 10 distinct small command modules each (so
   10 x sources distinct modules, each compiled by the real compile worker);
2. with the server stopped, rows cloned in SQL (`sqlite3` module, or `psql`
   for PostgreSQL): each further tenant copies one source tenant's tenants,
   credentials, actions and versions rows under a new name and uid; its
   versions point at the source's modules (identical modules are stored once
   in Docket anyway) and its credentials carry the same hashes, so the
   source's API key and admin token work for its clones.

Then a server (each binary of BENCH_SCALE_BINS, `label=path,...`) starts over
that store, calls 1% of the actions once (the "recently called"), stops, and
each binary is measured over the same store: restart to ready, idle RSS one
second later, 50 first calls of never-called actions, 200 warm calls,
200 `serviceInfo` calls, and BENCH_SEED_DEPLOYS (default 50) deploys of new
distinct modules to tenants spread over the store (admin API).

    BENCH_SCALE_BINS=before=/tmp/docket-before,after=target/debug/docket \\
        BENCH_SEED_BACKENDS=sqlite,postgres python3 bench/scale_seed.py

PostgreSQL: a database `docket_scale_<pid>` is created on 127.0.0.1:5432
(BENCH_PG, trust auth) and dropped at the end (with BENCH_SEED_KEEP=1 the
stores are kept, and their paths printed, for starts by hand). Loopback only; every step is
bounded (server starts wait at most 120 s). Writes
bench/results/scale-seed-<time>.json.
"""
import concurrent.futures, datetime, json, os, shutil, sqlite3, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402
import scale  # noqa: E402

TENANTS = int(os.environ.get("BENCH_SEED_TENANTS", "10000"))
SOURCES = int(os.environ.get("BENCH_SEED_SOURCES", "100"))
PER_TENANT = scale.PER_TENANT
DEPLOYS = int(os.environ.get("BENCH_SEED_DEPLOYS", "50"))
SERVICE_INFO_CALLS = 200
PG = os.environ.get("BENCH_PG", "127.0.0.1:5432")
SECRETS_KEY = "11" * 32


def name(i):
    return f"t{i:05d}"


def serve(binary, data, db_url):
    extra = ["--database-url", db_url] if db_url else []
    env = {"DOCKET_LOG": "warn", "DOCKET_SECRETS_KEY": SECRETS_KEY}
    args = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
            "--admin-token", bench.OPERATOR, "--compile-tiers", "optimized", *extra]
    began = time.perf_counter()
    proc, base = bench.start(args, "docket listening on ", env)
    return proc, base, (time.perf_counter() - began) * 1000


def deploy_sources(binary, data, db_url):
    """Step 1: the source tenants and their distinct modules, through the API."""
    proc, base, _ = serve(binary, data, db_url)
    keys = {}
    try:
        for i in range(SOURCES):
            status, body = bench.admin(base, "POST", "/tenants", bench.OPERATOR, {"name": name(i)})
            assert status == 201, body
            keys[name(i)] = (body["adminToken"], body["apiKey"])

        def deploy(i):
            tenant = name(i // PER_TENANT)
            bench.deploy(base, keys[tenant][0], tenant, f'name = "a{i % PER_TENANT}"\n',
                         bench.command_module(0, salt=i + 1))

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(deploy, range(SOURCES * PER_TENANT)))
    finally:
        bench.stop(proc)
    return keys


CLONE_SQL = """
INSERT INTO tenants (name, uid, display_name, failure_word, suspended, declarative, max_concurrency,
                     max_actions, max_module_bytes, max_storage_bytes, max_versions, created_ms)
  SELECT m.dst, {uid}, t.display_name, t.failure_word, t.suspended, t.declarative, t.max_concurrency,
         t.max_actions, t.max_module_bytes, t.max_storage_bytes, t.max_versions, t.created_ms
  FROM clone_map m JOIN tenants t ON t.name = m.src;
INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms)
  SELECT c.id || '-' || m.dst, m.dst, c.kind, c.hash, c.hint, c.created_ms
  FROM clone_map m JOIN credentials c ON c.tenant = m.src;
INSERT INTO actions (tenant, name, live_version)
  SELECT m.dst, a.name, a.live_version FROM clone_map m JOIN actions a ON a.tenant = m.src;
INSERT INTO versions (tenant, action, version, module, display_name, manifest, limits, config,
                      secrets, grants, created_ms)
  SELECT m.dst, v.action, v.version, v.module, v.display_name, v.manifest, v.limits, v.config,
         v.secrets, v.grants, v.created_ms
  FROM clone_map m JOIN versions v ON v.tenant = m.src;
DROP TABLE clone_map;
"""


def clone(data, db):
    """Step 2: tenants SOURCES..TENANTS-1 as copies of the sources' rows."""
    pairs = [(name(i % SOURCES), name(i)) for i in range(SOURCES, TENANTS)]
    if db is None:
        conn = sqlite3.connect(os.path.join(data, "docket.db"))
        conn.execute("CREATE TABLE clone_map (src TEXT, dst TEXT)")
        conn.executemany("INSERT INTO clone_map VALUES (?, ?)", pairs)
        conn.executescript(CLONE_SQL.format(uid="lower(hex(randomblob(16)))"))
        conn.commit()
        conn.close()
    else:
        values = ",".join(f"('{s}','{d}')" for s, d in pairs)
        script = (f"CREATE TABLE clone_map (src TEXT, dst TEXT); INSERT INTO clone_map VALUES {values};"
                  + CLONE_SQL.format(uid="md5(random()::text || m.dst)"))
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-1", pg_url(db)], input=script, text=True,
                       check=True, timeout=600, stdout=subprocess.DEVNULL)


def pg_url(db):
    return f"postgres://{PG}/{db}"


def call_recent(binary, data, db_url, recent, keys):
    proc, base, _ = serve(binary, data, db_url)
    try:
        for tenant, action in recent:
            scale.timed_call(base, tenant, action, keys[tenant][1])
    finally:
        bench.stop(proc)


def measure(binary, data, db_url, tenants, keys, recent, round_):
    proc, base, ready_ms = serve(binary, data, db_url)
    try:
        time.sleep(1)
        rss = bench.rss_kib(proc.pid)
        step = max(1, len(tenants) // scale.FIRST_CALLS)
        never = [(t, f"a{PER_TENANT - 1}") for t in tenants[step // 2::step][:scale.FIRST_CALLS]]
        first = [scale.timed_call(base, t, n, keys[t][1]) for t, n in never]
        tenant, action = recent[0]
        warm = [scale.timed_call(base, tenant, action, keys[tenant][1]) for _ in range(scale.WARM_CALLS)]
        info = []
        for i in range(SERVICE_INFO_CALLS):
            t = tenants[(i * 97) % len(tenants)]
            began = time.perf_counter()
            status, _ = bench.request(base, "GET", f"/t/{t}/serviceInfo")
            info.append((time.perf_counter() - began) * 1000)
            assert status == 200, status
        deploys = []
        for i in range(DEPLOYS):
            t = tenants[(i * 199 + 7) % len(tenants)]
            module = bench.command_module(0, salt=10_000_000 * round_ + 1_000_000 + i)
            prepared = bench.deploy_body(f'name = "d{i}"\n', module)
            began = time.perf_counter()
            bench.deploy(base, keys[t][0], t, None, None, prepared)
            deploys.append((time.perf_counter() - began) * 1000)
        rss_after = bench.rss_kib(proc.pid)
    finally:
        bench.stop(proc)

    def summary(values):
        return {"p50": scale.pct(values, 50), "p99": scale.pct(values, 99), "max": round(max(values), 2)}

    return {"restart_to_ready_ms": round(ready_ms, 1), "idle_rss_mib": round(rss / 1024, 1),
            "first_call_ms": summary(first), "warm_call_ms": summary(warm),
            "service_info_ms": summary(info), "deploy_ms": summary(deploys),
            "rss_after_mib": round(rss_after / 1024, 1)}


def main():
    bins = scale.binaries()
    backends = os.environ.get("BENCH_SEED_BACKENDS", "sqlite").split(",")
    results = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
               "tenants": TENANTS, "actions": TENANTS * PER_TENANT, "sources": SOURCES,
               "distinct_modules": SOURCES * PER_TENANT, "runs": {}}
    for round_, backend in enumerate(backends):
        data = tempfile.mkdtemp(prefix=f"docket-bench-seed-{backend}-")
        db = f"docket_scale_{os.getpid()}" if backend == "postgres" else None
        db_url = pg_url(db) if db else None
        try:
            if db:
                subprocess.run(["psql", pg_url("test"), "-qc", f"CREATE DATABASE {db}"], check=True, timeout=60)
            began = time.perf_counter()
            keys = deploy_sources(bins[-1][1], data, db_url)
            api_s = time.perf_counter() - began
            began = time.perf_counter()
            clone(data, db)
            clone_s = time.perf_counter() - began
            tenants = [name(i) for i in range(TENANTS)]
            for i in range(SOURCES, TENANTS):
                keys[name(i)] = keys[name(i % SOURCES)]
            # 1% of the actions called once: every tenant's a0 of the first tenth.
            recent = [(t, "a0") for t in tenants[: max(1, TENANTS // 10)]]
            call_recent(bins[-1][1], data, db_url, recent, keys)
            run = {"seed_api_s": round(api_s, 1), "seed_clone_s": round(clone_s, 1)}
            for label, binary in bins:
                run[label] = measure(binary, data, db_url, tenants, keys, recent, round_ * 10 + len(run))
                print(f"{backend} {label}: {json.dumps(run[label])}", flush=True)
            results["runs"][backend] = run
        finally:
            if os.environ.get("BENCH_SEED_KEEP"):
                # Kept for starts by hand (e.g. with DOCKET_LOG=info).
                print(f"kept {backend} store: --data-dir {data}" + (f" --database-url {db_url}" if db else ""))
                data, db = None, None
            if data:
                shutil.rmtree(data, ignore_errors=True)
            if db:
                subprocess.run(["psql", pg_url("test"), "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
                               timeout=60)
    os.makedirs(os.path.join(bench.ROOT, "bench/results"), exist_ok=True)
    stamp = results["when"].replace(":", "").replace("+0000", "Z")
    with open(os.path.join(bench.ROOT, "bench/results", f"scale-seed-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=2)
    print()
    print(f"{'backend':<9}{'binary':<8}{'ready ms':>9}{'RSS MiB':>9}{'1st p99':>9}{'warm p99':>9}"
          f"{'sInfo p99':>10}{'deploy p99':>11}")
    for backend, run in results["runs"].items():
        for label, _ in bins:
            m = run[label]
            print(f"{backend:<9}{label:<8}{m['restart_to_ready_ms']:>9}{m['idle_rss_mib']:>9}"
                  f"{m['first_call_ms']['p99']:>9}{m['warm_call_ms']['p99']:>9}"
                  f"{m['service_info_ms']['p99']:>10}{m['deploy_ms']['p99']:>11}")


if __name__ == "__main__":
    main()
