"""The compile-tiers scenario of `make bench` (`make bench BENCH_ONLY=tiers`):
what serving a new version on Winch's baseline code first buys, and what the
baseline code costs while it serves.

* upload to first answer: a 1 MB and a 10 MB synthetic command module (see
  `run.command_module`) and the JavaScript and Python example components, each
  on a fresh server (its own data dir: nothing cached) with the tiers on
  (`--compile-tiers baseline,optimized`) and off (`--compile-tiers optimized`),
  from the deploy POST being sent to the first 200 of `GET /customAction`;
* time to the optimized tier (tiers on): from the same deploy POST until
  `/metrics` shows `docket_modules_cached{tier="baseline"}` 0 and
  `{tier="optimized"}` 1 (polled every POLL_S), and the server's own figure,
  `docket_tier_switch_seconds` (one switch per fresh server, so its sum is the
  switch time: from the baseline code serving to the optimized code taking over);
* throughput on baseline code against optimized code, for the realistic
  actions of the throughput scenario (`archive`, `review-gate`): wrk at peak on
  a `--compile-tiers baseline` server (Winch code only, never replaced) and on
  a `--compile-tiers optimized` one. The per-tier module counts are read before
  and after every run; a run where they are not as expected (a module Winch
  could not compile, say) is marked not `pure`.
"""
import os, re, shutil, tempfile, time

import run as bench

SWITCH_TIMEOUT_S = float(os.environ.get("BENCH_TIERS_SWITCH_TIMEOUT", "300"))
POLL_S = 0.05
# The synthetic command modules' sizes, in MB.
SIZES_MB = [int(mb) for mb in os.environ.get("BENCH_TIERS_SIZES_MB", "1,10").split(",")]
# Compiles may take this long here (the default is 60 s): a 10 MB module's
# background compile at the worker's lowered priority on a busy 2-core machine
# can take longer, and
# the bench is after the figure, not the limit.
MAX_COMPILE_MS = int(os.environ.get("BENCH_TIERS_MAX_COMPILE_MS", "300000"))
ON, OFF = "baseline,optimized", "optimized"
GOALS_MS = {"1MB": 1000, "js-approvers": 3000, "python-naming": 3000}

# The realistic actions of the throughput scenario: manifest (after the name), query.
REALISTIC = {
    "realistic-command": ("archive", '[config]\nfolder = "Archive"\n', ""),
    "realistic-component": ("review-gate", '[config]\nreviewers = "jane.doe"\n', "&stage=legal"),
}
LANGUAGES = {
    "js-approvers": ('[config]\napprovers = "jane.doe"\nsteps = "legal"\n', ""),
    "python-naming": ('[config]\nallowed-extensions = "pdf"\n', "&filename=ABC-2024-x.pdf"),
}


# ---- the server's metrics -------------------------------------------------------

def scrape(base):
    status, data = bench.request(base, "GET", "/metrics", headers={"Authorization": f"Bearer {bench.OPERATOR}"})
    if status != 200:
        raise SystemExit(f"/metrics answered {status}: {data[:200]}")
    return data.decode()

def sample(text, name, labels=""):
    """The value of the first series `name` in Prometheus text whose labels
    contain `labels` (e.g. 'tier="baseline"'), or None."""
    for line in text.splitlines():
        m = re.match(r'^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)', line)
        if m and m.group(1) == name and labels in (m.group(2) or ""):
            return float(m.group(3))
    return None

def tiers_now(base, text=None):
    """(modules on baseline code, modules on optimized code, switches, their seconds in all)."""
    text = text or scrape(base)
    return (int(sample(text, "docket_modules_cached", 'tier="baseline"') or 0),
            int(sample(text, "docket_modules_cached", 'tier="optimized"') or 0),
            int(sample(text, "docket_tier_switch_seconds_count") or 0),
            sample(text, "docket_tier_switch_seconds_sum") or 0.0)

def wait_for_switch(base, baseline=0, optimized=1, timeout=SWITCH_TIMEOUT_S):
    """Polls /metrics until `baseline` modules run on baseline code and at least
    `optimized` on optimized code; returns (the time it did, None), or (None,
    why not): a failed compile (the deploys before succeeded, so on a fresh
    server it is the background one) or the timeout."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        text = scrape(base)
        on_baseline, on_optimized, _, _ = tiers_now(base, text)
        if on_baseline == baseline and on_optimized >= optimized:
            return time.perf_counter(), None
        if sample(text, "docket_compile_duration_seconds_count", 'outcome="error"'):
            return None, "the optimized compile failed; baseline code kept serving"
        time.sleep(POLL_S)
    return None, f"not within {timeout:.0f} s"


# ---- helpers ---------------------------------------------------------------------

def fresh_server(tiers, prefix):
    data = tempfile.mkdtemp(prefix=prefix)
    try:
        server, base = bench.docket(data, extra=("--compile-tiers", tiers, "--max-compile-ms", str(MAX_COMPILE_MS)))
    except SystemExit:
        shutil.rmtree(data, ignore_errors=True)
        raise
    status, tenant = bench.admin(base, "POST", "/tenants", bench.OPERATOR, {"name": "tiers"})
    assert status == 201, tenant
    return server, base, data, tenant["adminToken"], tenant["apiKey"]

def first_answer(base, key, name, query, timeout=30):
    """Calls the action until it answers 200 (a deploy's answer means live, so
    the first call should do); returns the time of that answer."""
    deadline = time.perf_counter() + timeout
    while True:
        status, body = bench.call(base, "tiers", name, key, query)
        if status == 200:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit(f"{name} never answered 200: {status} {body[:300]}")
        time.sleep(0.01)

def ms(seconds):
    return round(seconds * 1000, 1)


# ---- upload to first answer, and to the optimized tier ----------------------------

def modules():
    """(label, manifest, module bytes, query) of the modules measured."""
    out = []
    for mb in SIZES_MB:
        label, size = f"{mb}MB", mb << 20
        out.append((label, f'name = "upload-{label}"\n', bench.command_module(size, salt=size + 17), ""))
    for name, (config, query) in LANGUAGES.items():
        path = os.path.join(bench.ROOT, "actions-wasm/dist", name + ".wasm")
        if not os.path.exists(path):
            print(f"tiers: skipping {name}: {path} is not built")
            continue
        with open(path, "rb") as f:
            out.append((name, f'name = "{name}"\n{config}', f.read(), query))
    return out

def upload_to_first_answer(label, manifest, module, query, tiers):
    server, base, data, token, key = fresh_server(tiers, f"docket-bench-tiers-{label}-")
    try:
        prepared = bench.deploy_body(manifest, module)
        began = time.perf_counter()
        answer = bench.deploy(base, token, "tiers", manifest, module, prepared, MAX_COMPILE_MS / 1000 + 60)
        deployed = time.perf_counter()
        answered = first_answer(base, key, answer["name"], query)
        row = {"tier": answer.get("tier"), "deploy_ms": ms(deployed - began),
               "upload_to_first_answer_ms": ms(answered - began)}
        if answer.get("baselineUnavailable"):
            row["baseline_unavailable"] = answer["baselineUnavailable"]
        if tiers == ON and answer.get("tier") == "baseline":
            switched, why_not = wait_for_switch(base)
            if switched is None:
                row["optimized_took_over"] = why_not
            else:
                _, _, count, total = tiers_now(base)
                row["upload_to_optimized_ms"] = ms(switched - began)
                # One module on a fresh server: the histogram holds its one switch.
                row["switch_seconds_count"] = count
                row["baseline_to_optimized_ms"] = round(total * 1000, 1) if count == 1 else None
                status, body = bench.call(base, "tiers", answer["name"], key, query)
                assert status == 200, (label, "after the switch", status, body[:300])
        return row
    finally:
        bench.stop(server)
        shutil.rmtree(data, ignore_errors=True)

def first_answers():
    rows = {}
    for label, manifest, module, query in modules():
        row = {"module_bytes": len(module)}
        row["tiers_on"] = upload_to_first_answer(label, manifest, module, query, ON)
        row["tiers_off"] = upload_to_first_answer(label, manifest, module, query, OFF)
        on, off = row["tiers_on"]["upload_to_first_answer_ms"], row["tiers_off"]["upload_to_first_answer_ms"]
        row["speedup"] = round(off / on, 1) if on else None
        if label in GOALS_MS:
            row["goal_ms"] = GOALS_MS[label]
            row["goal"] = "met" if on < GOALS_MS[label] else "missed"
        rows[label] = row
        print(f"tiers: {label}: first answer {on:.0f} ms (tiers on) vs {off:.0f} ms (off), "
              f"optimized after {row['tiers_on'].get('upload_to_optimized_ms', '-')} ms")
    return rows


# ---- throughput on baseline code vs optimized code ----------------------------

def realistic_guests():
    out = {}
    for label, (name, config, query) in REALISTIC.items():
        path = os.path.join(bench.ROOT, "actions-wasm/dist", name + ".wasm")
        if not os.path.exists(path):
            print(f"tiers: skipping {label} throughput: {path} is not built")
            continue
        with open(path, "rb") as f:
            out[label] = (f'name = "{label}"\n{config}', f.read(), query)
    return out

def measure(base, key, guests, expect):
    """wrk on every guest; `expect` is the (baseline, optimized) module count
    that must hold before and after each run for the run to be pure."""
    headers = {"apiKey": key, "username": "jane.doe"}
    rows = {}
    for label, (_, _, query) in guests.items():
        url = base + bench.action_path("tiers", label, query)
        bench.wrk(url, headers, bench.CONNECTIONS, 1)  # warm-up
        before = tiers_now(base)[:2]
        run = bench.wrk(url, headers, bench.CONNECTIONS, bench.DURATION)
        after = tiers_now(base)[:2]
        run["pure"] = before == expect and after == expect
        if not run["pure"]:
            run["note"] = (f"mixed: modules (baseline, optimized) {before} before the run, {after} after, "
                           f"expected {expect}")
        rows[label] = run
    return rows

def throughput_by_tier(guests):
    """The realistic actions on a `--compile-tiers baseline` server (Winch code
    only, never replaced) and on a `--compile-tiers optimized` one."""
    out = {}
    for code, tiers in (("baseline_code", "baseline"), ("optimized_code", OFF)):
        try:
            server, base, data, token, key = fresh_server(tiers, f"docket-bench-tiers-wrk-{tiers}-")
        except SystemExit:
            print(f"tiers: skipping the throughput by tier: `docket serve --compile-tiers {tiers}` did not start")
            return None
        try:
            served = {label: bench.deploy(base, token, "tiers", m, module)["tier"]
                      for label, (m, module, _) in guests.items()}
            for label, (_, _, query) in guests.items():
                first_answer(base, key, label, query)
            want = code.split("_")[0]
            expect = (len(guests), 0) if want == "baseline" else (0, len(guests))
            out[code] = measure(base, key, guests, expect)
            for label, tier in served.items():
                out[code][label]["tier"] = tier
                if tier != want:
                    out[code][label]["note"] = f"deployed on {tier} code, not {want}"
        finally:
            bench.stop(server)
            shutil.rmtree(data, ignore_errors=True)
    out["baseline_to_optimized_ratio"] = {
        label: round(out["baseline_code"][label]["rps"] / out["optimized_code"][label]["rps"], 3)
        for label in guests}
    return out


def tiers(results):
    out = {"settings": {"synthetic_sizes_mb": SIZES_MB, "switch_timeout_s": SWITCH_TIMEOUT_S,
                        "max_compile_ms": MAX_COMPILE_MS, "poll_ms": POLL_S * 1000, "binary_dir": bench.RELEASE}}
    out["first_answer"] = first_answers()
    guests = realistic_guests()
    throughput = throughput_by_tier(guests) if guests else None
    if throughput:
        out["throughput"] = throughput
    results["tiers"] = out


def print_tiers(section):
    rows = section.get("first_answer", {})
    if rows:
        print(f"{'tiers: module':<22}{'size MB':>8}{'on: 1st ms':>12}{'off: 1st ms':>13}{'speedup':>9}"
              f"{'optimized ms':>14}{'switch ms':>11}  goal")
        for label, row in rows.items():
            on, off = row["tiers_on"], row["tiers_off"]
            optimized = on.get("upload_to_optimized_ms", "n/a (JSON)" if "optimized_took_over" in on else "-")
            switch = on.get("baseline_to_optimized_ms", "-")
            goal = f"< {row['goal_ms']} ms: {row['goal']}" if "goal" in row else ""
            if on.get("tier") != "baseline":
                goal += f" (tiers on served {on.get('tier')} code first)"
            print(f"{label:<22}{row['module_bytes'] / 1e6:>8.1f}{on['upload_to_first_answer_ms']:>12.0f}"
                  f"{off['upload_to_first_answer_ms']:>13.0f}{row['speedup'] or 0:>9.1f}"
                  f"{str(optimized):>14}{str(switch):>11}  {goal}")
    wrk_rows = section.get("throughput")
    if wrk_rows:
        print(f"\n{'tiers: target':<22}{'baseline req/s':>15}{'optimized req/s':>16}{'ratio':>7}"
              f"{'p99 ms baseline':>17}{'p99 ms optimized':>18}")
        for label, ratio in wrk_rows["baseline_to_optimized_ratio"].items():
            b, o = wrk_rows["baseline_code"][label], wrk_rows["optimized_code"][label]
            flag = "" if b["pure"] and o["pure"] and "note" not in b and "note" not in o else "  (mixed: see JSON)"
            print(f"{label:<22}{b['rps']:>15.0f}{o['rps']:>16.0f}{ratio:>7.2f}{b['p99_ms']:>17.2f}"
                  f"{o['p99_ms']:>18.2f}{flag}")
