"""Document providers (`make bench BENCH_ONLY=providers`): Docket Drive against
nginx for a large download, and `files` on a large folder.

* download: a 100 MiB file (random bytes) uploaded through Drive (`uploadInit`
  then `PUT upload`), then downloaded with curl, sequentially and 4 at a time,
  through Docket (`/t/bench/download?id=…`) and from nginx serving the same
  bytes from disk (Debian's `nginx`, started here on a free loopback port with
  a minimal config in a temporary directory), the two interleaved round by
  round. MB/s (10^6 bytes; one at a time from curl's own transfer times, 4 at
  a time over the wall time) and the ratio Docket ÷ nginx; server CPU seconds per
  GB downloaded, from /proc (nginx: master and workers).
* listing: a folder filled by `uploadInit` with 100, then 500, then 1,000 empty
  files; at each size `files?parentId=<folder>&max=1000` and `&max=100`, 200
  sequential calls each on one keep-alive connection, p50 / p99; the cost of
  the creates; and one `search` over the drive.

Bounded: every request has a timeout, the downloads are a fixed count, the
whole part takes about a minute. `BENCH_DRIVE_WASM` measures another build of
Drive (say the one before a change) instead of `actions-wasm/dist`.
"""
import hashlib, http.client, json, os, shutil, socket, subprocess, tempfile, threading, time, urllib.parse

import run  # bench/run.py: the server, the paths, /proc readers

FILE_MB = int(os.environ.get("BENCH_DOWNLOAD_MB", "100"))
ROUNDS = int(os.environ.get("BENCH_DOWNLOAD_ROUNDS", "3"))
PARALLEL = 4
LIST_SIZES = [int(n) for n in os.environ.get("BENCH_LIST_SIZES", "100,500,1000").split(",")]
LIST_SAMPLES = int(os.environ.get("BENCH_LIST_SAMPLES", "200"))
HEADERS = {"apiKey": run.API_KEY, "username": "jane.doe"}


def drive_module():
    return os.environ.get("BENCH_DRIVE_WASM") or os.path.join(run.ROOT, "actions-wasm/dist/docket-drive.wasm")


class Client:
    """One keep-alive connection to a provider's endpoints."""

    def __init__(self, base, tenant="bench"):
        url = urllib.parse.urlparse(base)
        self.host, self.port, self.prefix = url.hostname, url.port, f"/t/{tenant}/"
        self.conn = None

    def call(self, method, endpoint, params, body=None, headers=None, timeout=120):
        path = self.prefix + endpoint + "?" + urllib.parse.urlencode(params)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout, blocksize=1 << 20)
            try:
                self.conn.request(method, path, body=body, headers={**HEADERS, **(headers or {})})
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt or body is not None:
                    raise

    def json(self, method, endpoint, params):
        status, data = self.call(method, endpoint, params)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data.decode(errors="replace")


def pct(samples, p):
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(len(s) * p / 100))], 2) if s else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary():
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def start_nginx(root, www):
    """nginx on a free loopback port serving `www`, everything in `root`."""
    port = free_port()
    for d in ("tmp", "logs"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        # Debian's defaults where they matter for a static file: one worker
        # per core, sendfile on, tcp_nopush on.
        f.write(f"""worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
""")
    proc = subprocess.Popen([nginx_binary(), "-p", root, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"nginx did not start (see {root}/logs/error.log)")


def process_tree_cpu(pid):
    """CPU seconds of `pid` and its direct children (nginx's workers)."""
    total = run.cpu_seconds(pid)
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    for child in children:
        try:
            total += run.cpu_seconds(child)
        except OSError:
            pass
    return total


def curl(url, headers):
    """Downloads `url` to nowhere; (bytes, seconds) as curl measured them."""
    args = ["curl", "-sS", "--fail", "-o", "/dev/null", "--max-time", "120", "-w", "%{size_download} %{time_total}"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=150)
    if out.returncode != 0:
        raise SystemExit(f"download of {url} failed: {out.stderr.strip()}")
    size, seconds = out.stdout.split()
    return int(size), float(seconds)


def transfer(url, headers, parallel, each, pid, cpu=run.cpu_seconds):
    """`parallel` workers each download `url` `each` times; MB/s over the wall
    time, and the server's CPU seconds per GB."""
    sizes, times = [], []
    def worker():
        for _ in range(each):
            size, seconds = curl(url, headers)
            sizes.append(size)
            times.append(seconds)
    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    cpu_before = cpu(pid)
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    cpu_used = cpu(pid) - cpu_before
    total = sum(sizes)
    # One at a time: curl's own transfer times (not its process start);
    # several: the wall time they took together.
    seconds = sum(times) if parallel == 1 else wall
    return {"downloads": len(sizes), "bytes": total, "seconds": round(seconds, 3),
            "mb_per_s": round(total / seconds / 1e6, 1), "server_cpu_s_per_gb": round(cpu_used / (total / 1e9), 3)}


def download(results, base, server_pid, work):
    rows = {}
    nginx = nginx_binary()
    size = FILE_MB << 20
    www = os.path.join(work, "www")
    os.makedirs(www)
    path = os.path.join(www, "big.bin")
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(FILE_MB):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            f.write(chunk)
    # Started as root, nginx's workers run as `nobody`: they must be able to read it.
    for p, mode in ((work, 0o755), (www, 0o755), (path, 0o644)):
        os.chmod(p, mode)
    client = Client(base)
    status, doc = client.json("POST", "uploadInit", {"parentId": "/", "filename": "big.bin"})
    assert status == 200, (status, doc)
    file_id = doc["id"]
    with open(path, "rb") as f:
        began = time.perf_counter()
        status, body = client.call("PUT", "upload", {"id": file_id}, body=f,
                                   headers={"Content-Length": str(size)}, timeout=300)
        upload_s = time.perf_counter() - began
    assert status == 200, (status, body[:300])
    rows["file_bytes"] = size
    rows["upload_mb_per_s"] = round(size / upload_s / 1e6, 1)
    docket_url = f"{base}/t/bench/download?id={file_id}"
    # The bytes come back whole (checked once, not timed).
    conn = http.client.HTTPConnection(urllib.parse.urlparse(base).hostname, urllib.parse.urlparse(base).port, timeout=120)
    conn.request("GET", f"/t/bench/download?id={file_id}", headers=HEADERS)
    response = conn.getresponse()
    check = hashlib.sha256()
    while chunk := response.read(1 << 20):
        check.update(chunk)
    conn.close()
    assert response.status == 200 and check.hexdigest() == digest.hexdigest(), "download differs from the upload"
    if not nginx:
        print("skipping the nginx comparison: nginx is not installed (apt-get install nginx)")
        results["providers"]["download"] = rows
        return
    proc, nginx_base = start_nginx(os.path.join(work, "nginx"), www)
    try:
        curl(nginx_base + "/big.bin", {})  # warm-up, both
        curl(docket_url, HEADERS)
        runs = {"docket": {"sequential": [], "parallel": []}, "nginx": {"sequential": [], "parallel": []}}
        for _ in range(ROUNDS):
            for name, url, hdrs, pid, cpu in (("nginx", nginx_base + "/big.bin", {}, proc.pid, process_tree_cpu),
                                              ("docket", docket_url, HEADERS, server_pid, run.cpu_seconds)):
                runs[name]["sequential"].append(transfer(url, hdrs, 1, 2, pid, cpu))
                runs[name]["parallel"].append(transfer(url, hdrs, PARALLEL, 2, pid, cpu))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for mode in ("sequential", "parallel"):
        for name in ("docket", "nginx"):
            samples = runs[name][mode]
            best = max(samples, key=lambda r: r["mb_per_s"])
            rows[f"{name}_{mode}"] = {
                "mb_per_s_runs": [r["mb_per_s"] for r in samples],
                "mb_per_s_median": sorted(r["mb_per_s"] for r in samples)[len(samples) // 2],
                "mb_per_s_best": best["mb_per_s"],
                "server_cpu_s_per_gb_median": sorted(r["server_cpu_s_per_gb"] for r in samples)[len(samples) // 2],
            }
        rows[f"ratio_{mode}"] = round(rows[f"docket_{mode}"]["mb_per_s_median"]
                                      / rows[f"nginx_{mode}"]["mb_per_s_median"], 3)
    rows["parallel_downloads"] = PARALLEL
    rows["goal"] = "download >= 0.5x nginx: " + (
        "met" if min(rows["ratio_sequential"], rows["ratio_parallel"]) >= 0.5 else "missed")
    results["providers"]["download"] = rows


def listing(results, base):
    client = Client(base)
    status, folder = client.json("POST", "createFolder", {"parentId": "/", "name": "Big"})
    assert status == 200, (status, folder)
    folder_id = folder["id"]
    rows = {}
    created, create_ms, failure = 0, [], None
    for target in LIST_SIZES:
        while created < target and failure is None:
            began = time.perf_counter()
            status, doc = client.json("POST", "uploadInit", {"parentId": folder_id, "filename": f"file-{created:05}.txt"})
            create_ms.append((time.perf_counter() - began) * 1000)
            if status != 200:
                failure = f"uploadInit of entry {created + 1} failed: {status} {doc}"
                break
            created += 1
        row = {"entries": created, "create_ms_p50": pct(create_ms[-100:], 50),
               "create_ms_p99": pct(create_ms[-100:], 99)}
        for label, params in (("max1000", {"parentId": folder_id, "max": 1000}),
                              ("max100", {"parentId": folder_id, "max": 100})):
            client.call("GET", "files", params)  # warm
            times, statuses, count = [], {}, None
            deadline = time.time() + 60
            for _ in range(LIST_SAMPLES):
                began = time.perf_counter()
                status, data = client.call("GET", "files", params)
                times.append((time.perf_counter() - began) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200 and count is None:
                    count = len(json.loads(data))
                elif status != 200 and "error" not in row:
                    row["error"] = data.decode(errors="replace")[:300]
                if time.time() > deadline:
                    break
            row[label] = {"p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "samples": len(times),
                          "statuses": statuses, "returned": count}
        began = time.perf_counter()
        status, found = client.json("GET", "search", {"query": "file-0001", "max": 100})
        row["search_ms"] = round((time.perf_counter() - began) * 1000, 2)
        row["search_status"] = status
        if failure:
            row["create_failure"] = failure[:300]
        rows[f"folder_{target}"] = row
        if failure:
            break
    big = rows.get("folder_1000", {})
    p99 = big.get("max1000", {}).get("p99_ms")
    ok = big.get("entries") == 1000 and big.get("max1000", {}).get("statuses") == {200: LIST_SAMPLES}
    rows["goal"] = "files of a 1,000-entry folder p99 < 20 ms: " + (
        "met" if ok and p99 is not None and p99 < 20 and big["max100"]["p99_ms"] < 20 else "missed")
    results["providers"]["listing"] = rows


def providers(results):
    module = drive_module()
    if not os.path.exists(module):
        print(f"skipping providers: {module} is not built (make actions)")
        return
    work = tempfile.mkdtemp(prefix="docket-bench-providers-")
    manifests = os.path.join(work, "manifests", "bench")
    os.makedirs(manifests)
    with open(os.path.join(manifests, "docket-drive.toml"), "w") as f:
        f.write(f'name = "docket-drive"\nkind = "provider"\nmodule = "{os.path.abspath(module)}"\n'
                '[limits]\ntimeout-ms = 30000\nmemory-mb = 128\n'
                '[capabilities]\nkey-value = "action"\nblob = true\n')
    server, base = run.docket(os.path.join(work, "state"), os.path.dirname(manifests))
    results["providers"] = {"module": os.path.relpath(os.path.abspath(module), run.ROOT),
                            "module_sha256": hashlib.sha256(open(module, "rb").read()).hexdigest()[:16]}
    try:
        run.settle_tiers(base)
        listing(results, base)
        download(results, base, server.pid, work)
    finally:
        run.stop(server)
        shutil.rmtree(work, ignore_errors=True)


def print_providers(rows):
    listing = rows.get("listing", {})
    if listing:
        print(f"{'files, folder of':<18}{'max=1000 p50':>14}{'p99 ms':>9}{'max=100 p50':>13}{'p99 ms':>9}"
              f"{'create p50 ms':>15}{'search ms':>11}")
        for key, row in listing.items():
            if not key.startswith("folder_"):
                continue
            a, b = row["max1000"], row["max100"]
            print(f"{row['entries']:<18}{a['p50_ms'] or 0:>14.2f}{a['p99_ms'] or 0:>9.2f}{b['p50_ms'] or 0:>13.2f}"
                  f"{b['p99_ms'] or 0:>9.2f}{row['create_ms_p50'] or 0:>15.2f}{row['search_ms']:>11.2f}"
                  + (f"   {a['statuses']}" if a["statuses"] != {200: a["samples"]} else "")
                  + (f"   {row['create_failure']}" if "create_failure" in row else ""))
        print(listing["goal"])
    d = rows.get("download", {})
    if "ratio_sequential" in d:
        print(f"\n{'download ' + str(d['file_bytes'] >> 20) + ' MiB':<22}{'docket MB/s':>12}{'nginx MB/s':>12}"
              f"{'ratio':>8}{'docket cpu s/GB':>17}{'nginx cpu s/GB':>16}")
        for mode in ("sequential", "parallel"):
            k, n = d[f"docket_{mode}"], d[f"nginx_{mode}"]
            label = mode if mode == "sequential" else f"{d['parallel_downloads']} at a time"
            print(f"{label:<22}{k['mb_per_s_median']:>12.0f}{n['mb_per_s_median']:>12.0f}{d[f'ratio_{mode}']:>8.2f}"
                  f"{k['server_cpu_s_per_gb_median']:>17.3f}{n['server_cpu_s_per_gb_median']:>16.3f}")
        print(f"upload through Drive: {d['upload_mb_per_s']} MB/s; {d['goal']}")
