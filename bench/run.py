#!/usr/bin/env python3
"""OGSMS benchmark harness (issue #8) -- NOT part of `cargo test` or `.ci/run`.

It starts a private cluster, prepares the anchors, loads `ogsms seed --scale N` into a
database of the same cluster, starts the release build of the service on it, and runs,
`--reps` times, the anchors interleaved with the service scenarios (wrk on loopback,
HS256 tokens): medians, p50/p99 and ratios to the anchors, as JSON and Markdown under
bench/results/. Not yet: ledger entries in the seed (the 10M-entry scenarios), oha at
fixed rates, the CSV-export and depth scenarios; see bench/README.md.

    python3 bench/run.py --duration 10 --reps 3        # ~6 minutes with the service
    python3 bench/run.py --duration 2 --reps 1 --copy-rows 100000 --scale 1000   # quick
    python3 bench/run.py --no-service                  # anchors only
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))


def as_pg_user(cmd):
    """initdb/postgres refuse root: run them as `postgres` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class Cluster:
    def __init__(self, port, data_dir=None):
        self.port = port
        self.base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
        self.data = self.base / "pgdata"
        self.started = False

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(as_pg_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--locale=C"]),
                           check=True, stdout=subprocess.DEVNULL)
        # Durability as shipped (fsync, synchronous_commit on): the anchors and the
        # service commit at the same durability.
        opts = (f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=100 "
                "-c shared_buffers=512MB")
        subprocess.run(as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts,
                                   "-l", str(self.base / "postgres.log"), "-w", "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.started = True

    def stop(self):
        if self.started:
            subprocess.run(as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                           stdout=subprocess.DEVNULL)
            self.started = False

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, db, sql):
        return subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                               "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                               "-At", "-c", sql], check=True, capture_output=True, text=True).stdout


# A ledger-like row: the columns and indexes of ledger_entries that a post writes
# (uuid key, (ledger, seq) unique, dates, text, amounts, two hashes).
INSERT_SETUP = """
CREATE TABLE IF NOT EXISTS anchor_entries (
  id uuid PRIMARY KEY, ledger_id int NOT NULL, seq bigint NOT NULL, kind text NOT NULL,
  category text, entry_date date NOT NULL, description text NOT NULL, reference text,
  amount_minor bigint NOT NULL, currency char(3) NOT NULL, usd_minor bigint NOT NULL,
  effect_minor bigint NOT NULL, created_by text NOT NULL, created_at timestamptz NOT NULL,
  prev_hash text NOT NULL, hash text NOT NULL, UNIQUE (ledger_id, seq));
CREATE INDEX IF NOT EXISTS anchor_entries_date ON anchor_entries (ledger_id, entry_date, seq);
CREATE INDEX IF NOT EXISTS anchor_entries_created ON anchor_entries (created_at, id);
CREATE SEQUENCE IF NOT EXISTS anchor_seq;
"""
INSERT_SCRIPT = """\\set ledger random(1, 2000)
\\set amount random(100, 10000000)
INSERT INTO anchor_entries VALUES (gen_random_uuid(), (:ledger)::int, nextval('anchor_seq'), 'expense',
  'travel', current_date, 'Benchmark expense', 'REF-' || (:amount)::bigint::text, (:amount)::bigint, 'USD',
  (:amount)::bigint, -(:amount)::bigint,
  'bench', now(), md5(random()::text) || md5(random()::text), md5(random()::text) || md5(random()::text));
"""


def pgbench(cluster, db, args, duration):
    cmd = [str(PG_BIN / "pgbench"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
           "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", str(duration), "-r"] + args + [db]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"pgbench failed: {p.stderr[-2000:]}")
    out = p.stdout
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    lat = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    return {"tps": tps, "latency_avg_ms": lat}


def copy_rows_per_second(cluster, db, query):
    cmd = [str(PG_BIN / "psql"), "-X", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
           "-d", db, "-c", f"COPY ({query}) TO STDOUT (FORMAT csv)"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    rows = 0
    for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
        rows += chunk.count(b"\n")
    if p.wait() != 0:
        raise RuntimeError("COPY failed")
    secs = time.monotonic() - t0
    return {"rows": rows, "seconds": secs, "rows_per_s": rows / secs}


def prepare_anchors(cluster, copy_rows):
    cluster.psql("postgres", "CREATE DATABASE anchor")
    subprocess.run([str(PG_BIN / "pgbench"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                    "-i", "-q", "-s", "10", "anchor"], check=True, capture_output=True)
    cluster.psql("anchor", INSERT_SETUP)
    # Until the service's own entries are seeded, COPY reads the same number of
    # ledger-like rows from the anchor table.
    cluster.psql("anchor", f"""INSERT INTO anchor_entries SELECT gen_random_uuid(), 1 + g % 2000, g, 'expense',
      'travel', date '2020-01-01' + (g % 2000), 'Seeded expense ' || g, 'REF-' || g, g, 'USD', g, -g,
      'bench', now(), md5(g::text) || md5(g::text), md5((g+1)::text) || md5((g+1)::text)
      FROM generate_series(1, {copy_rows}) g""")
    cluster.psql("anchor", f"SELECT setval('anchor_seq', {copy_rows})")
    cluster.psql("anchor", "VACUUM ANALYZE")


SERVICE_PORT = 18280
SECRET = "bench-secret-of-at-least-thirty-two-bytes"
BIN = ROOT / "target" / "release" / "ogsms"


def ogsms(cluster, *args, **kw):
    env = {**os.environ, "DATABASE_URL": cluster.url("ogsms"), "OGSMS_JWT_SECRET": SECRET}
    return subprocess.run([str(BIN), *args], env=env, check=True, capture_output=True, text=True, **kw)


class Service:
    """The release build on the bench cluster, rate limits out of the way."""

    def __init__(self, cluster, base):
        self.cluster, self.proc = cluster, None
        self.log = open(base / "service.log", "w")

    def start(self):
        env = {**os.environ, "DATABASE_URL": self.cluster.url("ogsms"), "OGSMS_JWT_SECRET": SECRET,
               "OGSMS_RATE_LIMIT_PER_MINUTE": "100000000", "OGSMS_RATE_LIMIT_BURST": "10000000",
               "RUST_LOG": "warn"}
        self.proc = subprocess.Popen([str(BIN), "serve", "--no-demo", "--bind", f"127.0.0.1:{SERVICE_PORT}"],
                                     env=env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                import urllib.request
                with urllib.request.urlopen(f"http://127.0.0.1:{SERVICE_PORT}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("the service did not start; see service.log")

    def rss_hwm_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


# wrk scripts: a header for every request, ids taken in turn, unique Idempotency-Keys.
WRK_LUA = """
local ids = {}
local n = 0
local nonce = ""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  for id in string.gmatch(args[1] or "", "[^,]+") do
    if id ~= "-" then ids[#ids + 1] = id end
  end
  nonce = args[2] or ""
end
function request()
  n = n + 1
  local path = wrk.path
  if #ids > 0 then path = string.gsub(path, "_ID_", ids[(n %% #ids) + 1]) end
  local headers = {["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json"}
  if wrk.method == "POST" then
    -- Unique per run, thread and request: no two requests share a key.
    headers["Idempotency-Key"] = "bench-" .. nonce .. "-" .. tostring(tid) .. "-" .. n
  end
  return wrk.format(nil, path, headers, wrk.body)
end
"""


def wrk(base, token, name, method, path, duration, ids=(), body=None, connections=8):
    script = base / f"{name}.lua"
    script.write_text(WRK_LUA % {"token": token})
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
    if method != "GET":
        # wrk.method/body come from the script's globals: set them in a prelude.
        script.write_text(f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body or '')}\n"
                          + WRK_LUA % {"token": token})
    cmd += [f"http://127.0.0.1:{SERVICE_PORT}{path}", "--", ",".join(ids) or "-", uuid.uuid4().hex]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else None}


def prepare_service(cluster, base, scale):
    if not BIN.exists() or os.environ.get("BENCH_REBUILD", "1") == "1":
        subprocess.run(["cargo", "build", "--release", "--bin", "ogsms"], cwd=ROOT, check=True)
    cluster.psql("postgres", "CREATE DATABASE ogsms")
    t0 = time.monotonic()
    ogsms(cluster, "migrate")
    ogsms(cluster, "seed", "--scale", str(scale))
    load_s = time.monotonic() - t0
    cluster.psql("ogsms", "VACUUM ANALYZE")
    svc = Service(cluster, base)
    svc.start()
    token = ogsms(cluster, "token", "--role", "coordinator", "--sub", "bench", "--ttl", "86400").stdout.strip()
    ids = cluster.psql("ogsms", "SELECT id FROM projects ORDER BY random() LIMIT 1000").split()
    office = cluster.psql("ogsms", "SELECT office_id FROM projects GROUP BY office_id "
                                   "ORDER BY count(*) DESC OFFSET 5 LIMIT 1").strip()
    # A ledger with funds for every post of the run.
    import urllib.request
    def call(method, path, body, headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{SERVICE_PORT}{path}", method=method,
                                     data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              **(headers or {})})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())
    year = time.gmtime().tm_year
    ledger = call("POST", "/v1/ledgers", {"office_id": office, "fiscal_year": year, "fund": "regular_fund"})
    call("POST", f"/v1/ledgers/{ledger['id']}/entries",
         {"kind": "allocation", "entry_date": f"{year}-01-02", "description": "Bench allocation",
          "amount": {"amount": "900000000000.00", "currency": "USD"}}, {"Idempotency-Key": "bench-allocation"})
    return svc, token, ids, office, ledger["id"], load_s


def scenarios(base, token, ids, office, ledger, duration):
    year = time.gmtime().tm_year
    expense = json.dumps({"kind": "expense", "category": "travel", "entry_date": f"{year}-03-01",
                          "description": "Bench expense", "amount": {"amount": "12.34", "currency": "USD"}})
    return {
        "get_project": wrk(base, token, "get_project", "GET", "/v1/projects/_ID_", duration, ids),
        "list_office_projects": wrk(base, token, "list", "GET",
                                    f"/v1/projects?office_id={office}&status=active,approved&limit=50", duration),
        "post_entry": wrk(base, token, "post_entry", "POST", f"/v1/ledgers/{ledger}/entries", duration, body=expense),
        "balance": wrk(base, token, "balance", "GET", f"/v1/ledgers/{ledger}/balance", duration),
        "stats_office_month": wrk(base, token, "stats", "GET", "/v1/stats/spending?group_by=office,month",
                                  duration, connections=1),
        "livez_idle": wrk(base, token, "livez", "GET", "/livez", duration, connections=1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=5545, help="private PostgreSQL port")
    ap.add_argument("--data-dir", help="cluster directory (default: a new /tmp/bench-*)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per pgbench run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--copy-rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="leave the cluster directory")
    ap.add_argument("--no-service", action="store_true", help="the anchors only")
    ap.add_argument("--scale", type=int, default=10_000, help="projects of `ogsms seed --scale`")
    a = ap.parse_args()

    cluster = Cluster(a.port, a.data_dir)
    results = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": os.uname().nodename,
               "cpus": os.cpu_count(), "duration_s": a.duration, "reps": a.reps, "anchors": {}}
    runs = {"pgbench_select_c8": [], "pgbench_insert_c8": [], "copy_csv": []}
    service_runs = []
    svc = None
    try:
        cluster.start()
        t0 = time.monotonic()
        prepare_anchors(cluster, a.copy_rows)
        results["anchor_prepare_s"] = round(time.monotonic() - t0, 2)
        if not a.no_service:
            svc, token, ids, office, ledger, load_s = prepare_service(cluster, cluster.base, a.scale)
            results["seed_scale"] = a.scale
            results["seed_load_s"] = round(load_s, 2)
        script = cluster.base / "insert.sql"
        script.write_text(INSERT_SCRIPT)
        os.chmod(script, 0o644)
        for rep in range(a.reps):
            runs["pgbench_select_c8"].append(pgbench(cluster, "anchor", ["-S"], a.duration))
            if svc:
                service_runs.append(scenarios(cluster.base, token, ids, office, ledger, a.duration))
            runs["pgbench_insert_c8"].append(pgbench(cluster, "anchor", ["-f", str(script)], a.duration))
            runs["copy_csv"].append(copy_rows_per_second(
                cluster, "anchor", f"SELECT * FROM anchor_entries ORDER BY created_at, id LIMIT {a.copy_rows}"))
            print(f"rep {rep + 1}: " + ", ".join(f"{k}={v[-1]}" for k, v in runs.items()), file=sys.stderr)
        if svc:
            results["service_peak_rss_mib"] = round(svc.rss_hwm_mib(), 1)
    finally:
        if svc:
            svc.stop()
        cluster.stop()
        if not a.keep and not a.data_dir:
            shutil.rmtree(cluster.base, ignore_errors=True)

    med = lambda xs: statistics.median(xs)
    results["anchors"] = {
        "pgbench_select_c8": {"tps_median": med([r["tps"] for r in runs["pgbench_select_c8"]]), "runs": runs["pgbench_select_c8"]},
        "pgbench_insert_c8": {"tps_median": med([r["tps"] for r in runs["pgbench_insert_c8"]]), "runs": runs["pgbench_insert_c8"]},
        "copy_csv": {"rows_per_s_median": med([r["rows_per_s"] for r in runs["copy_csv"]]), "runs": runs["copy_csv"]},
    }
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"anchors-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    an = results["anchors"]
    md = ["| anchor | median | unit |", "|---|---|---|",
          f"| pgbench -S -M prepared -c 8 -j 2 | {an['pgbench_select_c8']['tps_median']:.0f} | TPS |",
          f"| pgbench insert of one ledger-like row per transaction, c8 | {an['pgbench_insert_c8']['tps_median']:.0f} | TPS |",
          f"| COPY … TO STDOUT (FORMAT csv), {a.copy_rows} rows | {an['copy_csv']['rows_per_s_median']:.0f} | rows/s |"]
    if service_runs:
        sel = an["pgbench_select_c8"]["tps_median"]
        ins = an["pgbench_insert_c8"]["tps_median"]
        anchor_of = {"get_project": ("pgbench -S c8", sel, 0.50), "list_office_projects": ("pgbench -S c8", sel, 0.25),
                     "post_entry": ("pgbench insert c8", ins, 0.50)}
        results["scenarios"] = {}
        md += ["", "| scenario | median req/s | p50 ms | p99 ms | anchor | ratio | target |", "|---|---|---|---|---|---|---|"]
        for name in service_runs[0]:
            rs = [r[name] for r in service_runs]
            row = {"rps_median": med([r["rps"] for r in rs]), "p50_ms_median": med([r["p50_ms"] for r in rs]),
                   "p99_ms_median": med([r["p99_ms"] for r in rs]), "non_2xx": sum(r["non_2xx"] for r in rs),
                   "runs": rs}
            anchor, value, target = anchor_of.get(name, ("-", None, None))
            if value:
                row["ratio"] = row["rps_median"] / value
            results["scenarios"][name] = row
            md.append(f"| {name} | {row['rps_median']:.0f} | {row['p50_ms_median']:.2f} | {row['p99_ms_median']:.2f} | "
                      f"{anchor} | {row.get('ratio', float('nan')):.2f} | {('≥ %.2f' % target) if target else '-'} |")
        (out / f"anchors-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"anchors-{stamp}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
