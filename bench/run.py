#!/usr/bin/env python3
"""OGSMS benchmark harness (issue #8) -- NOT part of `cargo test` or `.ci/run`.

State of this file: the PostgreSQL side only. It starts a private cluster, prepares the
anchors and runs them three times, and writes the medians as JSON and Markdown under
bench/results/. The service scenarios (release build, seed with entries, wrk/oha with
HS256 tokens, interleaved with the anchors) are not written yet; see bench/README.md.

    python3 bench/run.py --duration 10 --reps 3        # anchors, ~2 minutes
    python3 bench/run.py --duration 2 --reps 1 --copy-rows 100000   # quick check
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=5545, help="private PostgreSQL port")
    ap.add_argument("--data-dir", help="cluster directory (default: a new /tmp/bench-*)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per pgbench run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--copy-rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="leave the cluster directory")
    a = ap.parse_args()

    cluster = Cluster(a.port, a.data_dir)
    results = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": os.uname().nodename,
               "cpus": os.cpu_count(), "duration_s": a.duration, "reps": a.reps, "anchors": {}}
    runs = {"pgbench_select_c8": [], "pgbench_insert_c8": [], "copy_csv": []}
    try:
        cluster.start()
        t0 = time.monotonic()
        prepare_anchors(cluster, a.copy_rows)
        results["anchor_prepare_s"] = round(time.monotonic() - t0, 2)
        script = cluster.base / "insert.sql"
        script.write_text(INSERT_SCRIPT)
        os.chmod(script, 0o644)
        for rep in range(a.reps):
            # Service scenarios go between these, once they exist.
            runs["pgbench_select_c8"].append(pgbench(cluster, "anchor", ["-S"], a.duration))
            runs["pgbench_insert_c8"].append(pgbench(cluster, "anchor", ["-f", str(script)], a.duration))
            runs["copy_csv"].append(copy_rows_per_second(
                cluster, "anchor", f"SELECT * FROM anchor_entries ORDER BY created_at, id LIMIT {a.copy_rows}"))
            print(f"rep {rep + 1}: " + ", ".join(f"{k}={v[-1]}" for k, v in runs.items()), file=sys.stderr)
    finally:
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
    (out / f"anchors-{stamp}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
