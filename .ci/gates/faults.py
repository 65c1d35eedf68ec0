#!/usr/bin/env python3
"""Fault-injection gate: the service under faults loses nothing and answers quickly.

Runs target/debug/ogsms against a PostgreSQL cluster this program owns (so it can stop
and start it behind the service's back), with writers posting ledger entries, each with
its own Idempotency-Key and retried with that same key until it gets an answer:

1. PostgreSQL stopped for a few seconds, then started again: during the outage every
   write and /readyz answer 503 problems within OUTAGE_ANSWER_S; afterwards the service
   recovers by itself (no restart) within RECOVERY_S.
2. The service killed with SIGKILL under load and started again: the retries with the
   same keys resolve to exactly one entry per key.
3. SIGTERM under load: every request the service had accepted gets its answer (no
   connection cut), the process exits within the shutdown grace with status 0 (SIGKILL:
   killed by the signal), nothing is half written.
4. The pool exhausted by requests stuck behind a lock held outside the service: /livez
   keeps answering within LIVEZ_S, and the statement timeout turns the stuck reads into
   503/504 problems within STATEMENT_TIMEOUT_S + OUTAGE_ANSWER_S.
5. Abusive requests (huge bodies, deep JSON, long query strings): 4xx problems, no
   memory blow-up.
6. Two instances on the same database, with the same signing key, behind nginx with
   deploy/nginx-scale.conf (the compose profile `scale`'s balancer; the instances on
   127.0.0.2 and 127.0.0.3, the balancer on 127.0.0.1, all on OGSMS_FAULTS_PORT): one
   killed with SIGKILL under keyed writes through the balancer, each retried with its
   key after a 502 or no answer; the survivor answers every write after the kill.

After each phase: every entry acknowledged with 201 is in the database once, every key
has at most one entry (exactly one when acknowledged), and the ledger's hash chain
verifies (GET /v1/ledgers/{id}/verification). In every phase, a write that hangs until
the client's timeout (WRITE_TIMEOUT_S) is a failure, not a retry: the service answers,
even under faults, within its own limits.

Python 3 standard library only, and nginx for phase 6 (.ci/run installs Debian's
package). Usage: .ci/gates/faults.py  (from the repository root
or anywhere; set OGSMS_FAULTS_PORT / OGSMS_FAULTS_PG_PORT to move its ports).
"""

import concurrent.futures
import datetime
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

# The day the gate runs (UTC): its entries are dated today.
TODAY = datetime.datetime.now(datetime.timezone.utc).date().isoformat()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(ROOT, ".ci", "gates", ".work", "faults")
BIN = os.path.join(ROOT, "target", "debug", "ogsms")
PORT = int(os.environ.get("OGSMS_FAULTS_PORT", "18190"))
PG_PORT = int(os.environ.get("OGSMS_FAULTS_PG_PORT", "5544"))
BASE = f"http://127.0.0.1:{PORT}"
SECRET = "faults-gate-secret-of-at-least-32-bytes!"

# The limits this gate asserts (seconds).
OUTAGE_ANSWER_S = 10.0  # an answer while the database is down: pool wait 5 s + connect 3 s
RECOVERY_S = 15.0  # from PostgreSQL back to /readyz 200 and a write going through
LIVEZ_S = 0.5  # /livez while every pool connection is stuck
STATEMENT_TIMEOUT_S = 2.0  # the service's statement timeout in phase 4
SHUTDOWN_S = 35.0  # SIGTERM to exit (actix grants in-flight requests 30 s)
WRITE_TIMEOUT_S = 40.0  # the writers' client timeout: reaching it is a hang
# The status request() gives a request that got no answer within its timeout.
TIMED_OUT = -2
MAX_LIMIT = 500  # the service's largest page (api/pagination.rs MAX_LIMIT)

failures: list[str] = []
ALL_KEYS: set[str] = set()  # every key any writer sent


def check(cond: bool, message: str) -> None:
    print(("  ok   " if cond else "  FAIL ") + message, flush=True)
    if not cond:
        failures.append(message)


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        sys.exit(f"{name} not found: install PostgreSQL's server binaries")
    return candidates[-1]


def as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


PGDATA = os.path.join(WORK, "pgdata")


def pg_start() -> None:
    as_postgres(
        [pg_bin("pg_ctl"), "-D", PGDATA, "-l", os.path.join(WORK, "pg.log"), "-w",
         "-o", f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {WORK}", "start"]
    )


def pg_stop(mode: str = "fast") -> None:
    as_postgres([pg_bin("pg_ctl"), "-D", PGDATA, "-m", mode, "-w", "stop"])


def psql(sql: str) -> str:
    out = subprocess.run(
        [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
         "-d", "ogsms", "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


class Service:
    """One `ogsms serve` on `host`:PORT (phase 6 runs two, on 127.0.0.2 and 127.0.0.3,
    behind a balancer on 127.0.0.1: loopback addresses, so the gate needs no other port)."""

    def __init__(self, host: str = "127.0.0.1", name: str = "service") -> None:
        self.proc: subprocess.Popen | None = None
        self.host = host
        self.name = name
        self.base = f"http://{host}:{PORT}"
        self.log = open(os.path.join(WORK, f"{name}.log"), "a")

    def start(self, pool_size: int = 8, statement_timeout_ms: int = 30000, wait: bool = True) -> None:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/ogsms",
            "OGSMS_JWT_SECRET": SECRET,
            "OGSMS_RATE_LIMIT_PER_MINUTE": "1000000",
            "OGSMS_RATE_LIMIT_BURST": "100000",
            "RUST_LOG": "warn",
        })
        data = "data" if self.name == "service" else f"data-{self.name}"
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", os.path.join(WORK, data), "serve",
             "--bind", f"{self.host}:{PORT}", "--workers", "2",
             "--pool-size", str(pool_size),
             "--statement-timeout-ms", str(statement_timeout_ms)],
            env=env, stdout=self.log, stderr=self.log,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the service exited with {self.proc.returncode}; see {self.log.name}")
            status, _, _ = request("GET", "/readyz", timeout=2, base=self.base)
            if status == 200:
                return
            time.sleep(0.3)
        sys.exit(f"the service on {self.host} did not become ready")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


TOKEN = ""


def request(method: str, path: str, body=None, headers=None, timeout: float = 30, base: str | None = None):
    """(status, parsed JSON body or None, seconds); status 0 when the connection was
    refused, -1 when it was cut, TIMED_OUT when no answer came within `timeout`."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request((base or BASE) + path, data=data, method=method)
    if TOKEN:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            raw = res.read()
            status, ctype = res.status, res.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raw, status, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
    except urllib.error.URLError as e:
        # 0: refused (nothing listening); -1: cut after it was sent; TIMED_OUT: no answer.
        if isinstance(e.reason, TimeoutError):
            return TIMED_OUT, None, time.monotonic() - started
        refused = isinstance(e.reason, ConnectionRefusedError)
        return (0 if refused else -1), None, time.monotonic() - started
    except TimeoutError:
        return TIMED_OUT, None, time.monotonic() - started
    except (ConnectionError, OSError) as e:
        return (0 if isinstance(e, ConnectionRefusedError) else -1), None, time.monotonic() - started
    elapsed = time.monotonic() - started
    parsed = None
    if "json" in ctype and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
    if status >= 400:
        parsed = {"_ctype": ctype, **(parsed or {})}
    return status, parsed, elapsed


class Writer:
    """Posts small expenses against one ledger, each key retried until it is answered."""

    def __init__(self, ledger_id: str, threads: int = 4, balanced: bool = False) -> None:
        self.ledger_id = ledger_id
        self.threads = threads
        # Behind the balancer a request cut by a killed instance is the balancer's 502.
        self.retry_on = (0, -1, TIMED_OUT, 503, 504) + ((502,) if balanced else ())
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: dict[str, str] = {}  # key -> entry id (201 or replay)
        self.keys: list[str] = []
        # Non-201 answers: (status, body, seconds, when the request was sent).
        self.errors: list[tuple[int, dict | None, float, float]] = []
        self.pool: list[threading.Thread] = []

    def post(self, key: str):
        body = {"kind": "expense", "category": "supplies", "entry_date": TODAY,
                "description": f"fault gate {key}", "amount": {"amount": "0.01", "currency": "USD"}}
        return request("POST", f"/v1/ledgers/{self.ledger_id}/entries", body,
                       {"Idempotency-Key": key}, timeout=WRITE_TIMEOUT_S)

    def run_one(self) -> None:
        while not self.stop.is_set():
            key = f"faults-{uuid.uuid4()}"
            with self.lock:
                self.keys.append(key)
                ALL_KEYS.add(key)
            while True:  # the same key until the service answers it
                sent = time.monotonic()
                status, body, elapsed = self.post(key)
                if status in (200, 201):
                    with self.lock:
                        previous = self.acked.setdefault(key, body["id"])
                    if previous != body["id"]:
                        failures.append(f"key {key} answered two entries")
                    break
                with self.lock:
                    self.errors.append((status, body, elapsed, sent))
                if status == TIMED_OUT:
                    # Retried (the key must still resolve to one entry), but a failure.
                    failures.append(f"a write with key {key} hung {elapsed:.1f} s, until the client's timeout")
                    print(f"  FAIL a write hung until the client's timeout ({elapsed:.1f} s)", flush=True)
                if status == 409:  # the same key still in flight (after a kill): retry
                    time.sleep(0.2)
                    continue
                if status not in self.retry_on:
                    failures.append(f"unexpected answer {status} {body}")
                    break
                time.sleep(0.3)

    def start(self) -> None:
        self.stop.clear()
        self.pool = [threading.Thread(target=self.run_one, daemon=True) for _ in range(self.threads)]
        for t in self.pool:
            t.start()

    def finish(self, timeout: float = 120) -> None:
        self.stop.set()
        for t in self.pool:
            t.join(timeout)
        check(all(not t.is_alive() for t in self.pool), "every writer got its answers")


def verify_ledger(writer: Writer, what: str) -> None:
    rows = psql(
        f"SELECT id, description FROM ledger_entries WHERE ledger_id = '{writer.ledger_id}' "
        "AND description LIKE 'fault gate %'"
    )
    by_key: dict[str, list[str]] = {}
    for line in filter(None, rows.splitlines()):
        entry_id, description = line.split("|", 1)
        by_key.setdefault(description.removeprefix("fault gate "), []).append(entry_id)
    twice = [k for k, ids in by_key.items() if len(ids) > 1]
    check(not twice, f"{what}: no key has two entries ({len(twice)} do)")
    missing = [k for k, i in writer.acked.items() if by_key.get(k) != [i]]
    check(not missing, f"{what}: all {len(writer.acked)} acknowledged entries are in the database ({len(missing)} are not)")
    unknown = [k for k in by_key if k not in ALL_KEYS]
    check(not unknown, f"{what}: no entry the writers never asked for")
    status, v, _ = request("GET", f"/v1/ledgers/{writer.ledger_id}/verification")
    check(status == 200 and v and v.get("ok") is True, f"{what}: the hash chain verifies ({v})")


class Balancer:
    """nginx from the distribution's package with deploy/nginx-scale.conf, the compose
    profile `scale`'s balancer, as it is: only its upstreams' and its own address moved
    to the gate's, and an access log that names the instance each answer came from."""

    def __init__(self, upstreams: list[str]) -> None:
        self.dir = os.path.join(WORK, "nginx")
        self.proc: subprocess.Popen | None = None
        self.upstreams = upstreams
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(ROOT, "deploy", "nginx-scale.conf")) as f:
            site = f.read()
        for i, up in enumerate(upstreams, 1):
            site = site.replace(f"server api-{i}:8080 ", f"server {up} ")
        site = site.replace("listen 8080;", f"listen 127.0.0.1:{PORT};")
        assert all(f"server {up} " in site for up in upstreams) and f"127.0.0.1:{PORT}" in site, \
            "deploy/nginx-scale.conf no longer has the upstreams api-1:8080, api-2:8080 and `listen 8080;`"
        with open(os.path.join(self.dir, "site.conf"), "w") as f:
            f.write(site)
        self.access_log = os.path.join(self.dir, "access.log")
        # Temporary files under the gate's folder (the package's own need root).
        version = subprocess.run([self.binary(), "-V"], capture_output=True, text=True).stderr
        temps = "".join(
            f"    {m}_temp_path {self.dir}/{m};\n" for m in ("fastcgi", "uwsgi", "scgi")
            if f"--without-http_{m}_module" not in version
        )
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(
                "daemon off;\nworker_processes 1;\n"
                f"pid {self.dir}/nginx.pid;\nerror_log {self.dir}/error.log warn;\n"
                "events { worker_connections 512; }\nhttp {\n"
                "    log_format gate '$msec $request_time $request_method $status $upstream_addr|$upstream_status';\n"
                f"    access_log {self.access_log} gate;\n"
                f"    client_body_temp_path {self.dir}/body;\n    proxy_temp_path {self.dir}/proxy;\n{temps}"
                f"    include {self.dir}/site.conf;\n}}\n"
            )

    @staticmethod
    def binary() -> str:
        return shutil.which("nginx") or "/usr/sbin/nginx"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary(), "-e", os.path.join(self.dir, "error.log"), "-p", self.dir,
             "-c", os.path.join(self.dir, "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr.log"), "a"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"nginx exited with {self.proc.returncode}; see {self.dir}/error.log")
            if request("GET", "/livez", timeout=2)[0] == 200:
                return
            time.sleep(0.1)
        sys.exit("nginx did not answer")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def answers(self) -> list[tuple[float, str, int, str]]:
        """(when the request started, method, status, the instance that answered last)."""
        out = []
        with open(self.access_log) as f:
            for line in f:
                msec, took, method, status, upstream = line.split()
                last = upstream.split("|")[0].split(",")[-1].strip()
                out.append((float(msec) - float(took), method, int(status), last))
        return out


def vm_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def raw_request(method: str, path: str, raw: bytes | None):
    """A request with a raw body (which need not be valid JSON): (status, parsed body)."""
    req = urllib.request.Request(BASE + path, data=raw, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if raw is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            try:
                return res.status, json.loads(res.read())
            except ValueError:
                return res.status, None
    except urllib.error.HTTPError as e:
        ctype = e.headers.get("Content-Type", "")
        try:
            body = json.loads(e.read())
        except ValueError:
            body = {}
        return e.code, {"_ctype": ctype, **body}
    except (urllib.error.URLError, OSError):
        return -1, None


def is_problem(body) -> bool:
    return bool(body) and "application/problem+json" in body.get("_ctype", "") and "type" in body


# Processes of phase 6 left running by a failure, killed at the end.
EXTRA: list[subprocess.Popen] = []


def two_instances(svc: Service, lid: str) -> None:
    """Two `ogsms serve` on the gate's database, with the same signing key, behind
    nginx with deploy/'s configuration; writers retry with the same key through the
    balancer; one instance is killed with SIGKILL mid-run. Every acknowledged entry is
    in the database once, the chain verifies, and the survivor answered the rest."""
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        check(False, "nginx is installed (phase 6's balancer; .ci/run installs Debian's `nginx`)")
        return
    # The single instance leaves the balancer its address.
    svc.signal(signal.SIGTERM)
    code = svc.wait(SHUTDOWN_S)
    check(code == 0, f"the single instance exited with status 0 after SIGTERM (status {code})")
    a, b = Service("127.0.0.2", "instance-a"), Service("127.0.0.3", "instance-b")
    for s in (a, b):
        s.start(wait=False)
        EXTRA.append(s.proc)
    for s in (a, b):
        s.wait_ready()
    lb = Balancer([f"{a.host}:{PORT}", f"{b.host}:{PORT}"])
    lb.start()
    EXTRA.append(lb.proc)
    w = Writer(lid, balanced=True)
    w.start()
    time.sleep(2)
    kill_sent = time.time()
    a.signal(signal.SIGKILL)
    code = a.wait(10)
    killed_at = time.time()  # dead: nothing it answers can start after this
    check(code == -signal.SIGKILL, f"instance a was killed by SIGKILL (status {code})")
    acked_at_kill = len(w.acked)
    time.sleep(3)
    w.finish()
    check(len(w.acked) == len(w.keys), f"every key was answered in the end ({len(w.acked)}/{len(w.keys)})")
    check(len(w.acked) > acked_at_kill, f"writes went on after the kill ({acked_at_kill} before it, {len(w.acked)} in all)")
    cut = sorted({e[0] for e in w.errors})
    print(f"  ..   answers retried with the same key: {len(w.errors)} {cut}", flush=True)
    verify_ledger(w, "after SIGKILL of one instance")
    answers = [x for x in lb.answers() if x[1] == "POST" and x[2] in (200, 201)]
    before = {up for t, _, _, up in answers if t < kill_sent}
    after = [up for t, _, _, up in answers if t > killed_at]
    check(before == {a.host + f":{PORT}", b.host + f":{PORT}"},
          f"before the kill both instances answered writes ({sorted(before)})")
    check(bool(after) and set(after) == {b.host + f":{PORT}"},
          f"after it the surviving instance answered every write ({len(after)}, from {sorted(set(after))})")
    lb.stop()
    b.signal(signal.SIGTERM)
    code = b.wait(SHUTDOWN_S)
    check(code == 0, f"the surviving instance exited with status 0 after SIGTERM (status {code})")


def main() -> None:
    global TOKEN
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--bin", "ogsms"], cwd=ROOT, check=True)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if os.geteuid() == 0:
        shutil.chown(WORK, "postgres", "postgres")
    as_postgres([pg_bin("initdb"), "-D", PGDATA, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    pg_start()
    subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "ogsms"], check=True)
    svc = Service()
    try:
        svc.start()
        TOKEN = subprocess.run(
            [BIN, "token", "--role", "coordinator", "--sub", "faults-gate", "--ttl", "3600"],
            env={**os.environ, "OGSMS_JWT_SECRET": SECRET, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/ogsms"},
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        _, offices, _ = request("GET", "/v1/offices?limit=1")
        status, ledger, _ = request("POST", "/v1/ledgers", {
            # Entries are never dated after today, and the demo data has the regular fund's
            # ledgers of 2025 and 2026: this year's indirect cost recovery is the gate's own.
            "office_id": offices["items"][0]["id"], "fiscal_year": int(TODAY[:4]), "fund": "indirect_cost_recovery"})
        assert status == 201, (status, ledger)
        lid = ledger["id"]
        status, _, _ = request("POST", f"/v1/ledgers/{lid}/entries", {
            "kind": "allocation", "entry_date": TODAY, "description": "funds for the fault gate",
            "amount": {"amount": "1000000.00", "currency": "USD"}}, {"Idempotency-Key": "faults-allocation"})
        assert status == 201, status

        print("\n-- 1. PostgreSQL stopped and started under a writer", flush=True)
        w = Writer(lid)
        w.start()
        time.sleep(2)
        before = len(w.acked)
        pg_stop("fast")
        down_at = time.monotonic()
        time.sleep(1)
        status, body, elapsed = request("GET", "/readyz", timeout=OUTAGE_ANSWER_S + 5)
        check(status == 503 and is_problem(body) and elapsed <= OUTAGE_ANSWER_S,
              f"/readyz is a 503 problem while the database is down ({status}, {elapsed:.2f} s)")
        time.sleep(4)
        during = [e for e in list(w.errors) if e[0] > 0]
        check(len(during) > 0 and all(s == 503 and is_problem(b) for s, b, _, _ in during),
              f"writes during the outage are 503 problems ({len(during)}: {sorted({e[0] for e in during})})")
        slowest = max((e[2] for e in during), default=0.0)
        check(slowest <= OUTAGE_ANSWER_S, f"each came within {OUTAGE_ANSWER_S} s (slowest {slowest:.2f} s)")
        pg_start()
        up_at = time.monotonic()
        ready = None
        while time.monotonic() - up_at < RECOVERY_S:
            if request("GET", "/readyz", timeout=2)[0] == 200:
                ready = time.monotonic() - up_at
                break
            time.sleep(0.2)
        check(ready is not None, f"ready again {ready and round(ready, 2)} s after PostgreSQL came back (down {up_at - down_at:.1f} s), without a restart")
        acked_at_restart = len(w.acked)
        time.sleep(3)
        check(len(w.acked) > acked_at_restart, f"writes go through again ({before} before, {len(w.acked)} now)")
        w.finish()
        verify_ledger(w, "after the outage")

        print("\n-- 2. SIGKILL under load, then a restart; retries keep their keys", flush=True)
        w = Writer(lid)
        w.start()
        time.sleep(2)
        svc.signal(signal.SIGKILL)
        code = svc.wait(10)
        check(code == -signal.SIGKILL, f"the service was killed by SIGKILL (status {code})")
        time.sleep(1)
        svc.start()
        time.sleep(3)
        w.finish()
        check(len(w.acked) == len(w.keys), f"every key was answered in the end ({len(w.acked)}/{len(w.keys)})")
        verify_ledger(w, "after SIGKILL")

        print("\n-- 3. SIGTERM under load: in-flight requests finish", flush=True)
        w = Writer(lid, threads=8)
        w.start()
        time.sleep(2)
        svc.signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = svc.wait(SHUTDOWN_S)
        check(code == 0, f"the service exited with status 0 {time.monotonic() - t0:.2f} s after SIGTERM (status {code})")
        w.stop.set()
        # Every request sent before SIGTERM (50 ms before, so that it reached the
        # service) got its answer; only those sent afterwards may be refused or reset.
        in_flight = [e for e in w.errors if e[3] < t0 - 0.05]
        check(not in_flight, f"no request in flight at SIGTERM was cut or failed ({[e[0] for e in in_flight]})")
        svc.start()
        w.finish()
        check(len(w.acked) == len(w.keys), f"every key was answered in the end ({len(w.acked)}/{len(w.keys)})")
        verify_ledger(w, "after SIGTERM")

        print("\n-- 4. Pool exhausted behind a lock; statement timeout", flush=True)
        svc.signal(signal.SIGTERM)
        code = svc.wait(SHUTDOWN_S)
        check(code == 0, f"the service exited with status 0 after SIGTERM when idle (status {code})")
        svc.start(pool_size=4, statement_timeout_ms=int(STATEMENT_TIMEOUT_S * 1000))
        locker = subprocess.Popen(
            [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-d", "ogsms", "-X",
             "-c", "BEGIN; LOCK TABLE projects IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            stuck = [ex.submit(request, "GET", "/v1/projects?limit=5", None, None, 30) for _ in range(16)]
            time.sleep(0.5)
            livez = []
            for _ in range(20):
                status, _, elapsed = request("GET", "/livez", timeout=5)
                livez.append((status, elapsed))
                time.sleep(0.05)
            answers = [f.result() for f in stuck]
        locker.wait(30)
        worst = max(e for _, e in livez)
        check(all(s == 200 for s, _ in livez) and worst <= LIVEZ_S,
              f"/livez answers within {LIVEZ_S} s while the pool is stuck (worst {worst * 1000:.0f} ms)")
        statuses = sorted({s for s, _, _ in answers})
        check(all(s in (503, 504) and is_problem(b) for s, b, _ in answers),
              f"stuck reads become 503/504 problems ({statuses})")
        slowest = max(e for _, _, e in answers)
        check(slowest <= STATEMENT_TIMEOUT_S + OUTAGE_ANSWER_S,
              f"within the statement timeout plus the pool wait (slowest {slowest:.2f} s)")
        status, _, _ = request("GET", "/v1/projects?limit=5")
        check(status == 200, "reads work again once the lock is gone")

        print("\n-- 5. Abusive requests: 4xx problems, no memory blow-up", flush=True)
        # The demo has exactly MAX_LIMIT projects: one more, so that a page of MAX_LIMIT
        # with a next cursor can only be a clamped one.
        _, some, _ = request("GET", "/v1/projects?limit=1")
        keep = ("code", "title", "description", "office_id", "department_id", "pillar", "starts_on",
                "ends_on", "budget", "funding_source", "donor", "donor_agreement", "mandate_ids", "agencies")
        extra = {k: v for k, v in some["items"][0].items() if k in keep}
        extra["code"] = extra["code"].rsplit("-", 1)[0] + "-999"
        status, created, _ = request("POST", "/v1/projects", extra)
        assert status == 201, (status, created)
        hwm_before = vm_hwm_kib(svc.proc.pid)
        ids = ",".join([str(uuid.uuid4()) for _ in range(1200)])
        abuse = [
            ("8 MiB body", "POST", "/v1/offices", b"{" + b" " * (8 << 20) + b"}", 413),
            ("JSON nested 100000 deep (200 KB, under the body limit)", "POST", "/v1/offices",
             b"[" * 100_000 + b"]" * 100_000, 400),
            ("JSON nested 1000000 deep (2 MB)", "POST", "/v1/offices",
             b"[" * 1_000_000 + b"]" * 1_000_000, 413),
            ("a 30 KB query string", "GET", "/v1/offices?q=" + "x" * 30_000, None, 400),
            ("1200 ids in a filter", "GET", f"/v1/projects?office_id={ids}", None, 400),
            ("limit=10^9", "GET", "/v1/projects?limit=1000000000", None, 200),
        ]
        for name, method, path, raw, expected in abuse:
            statuses = set()
            sizes = set()
            ok = True
            for _ in range(20):
                status, body = raw_request(method, path, raw)
                statuses.add(status)
                ok = ok and status == expected and (expected < 400 or is_problem(body))
                if expected == 200:
                    page = (body or {}).get("items")
                    sizes.add(len(page) if isinstance(page, list) else None)
                    # Clamped, not merely short: exactly MAX_LIMIT items and more beyond.
                    ok = ok and isinstance(page, list) and len(page) == MAX_LIMIT and bool(body.get("next_cursor"))
            shown = f"{expected}{' problem' if expected >= 400 else ''}"
            if expected == 200:
                shown += f", a page of exactly {MAX_LIMIT} items and a next cursor (sizes {sorted(sizes, key=str)})"
            check(ok, f"{name}: {shown} x20 ({sorted(statuses)})")
        hwm_after = vm_hwm_kib(svc.proc.pid)
        growth = (hwm_after - hwm_before) / 1024
        check(growth < 64, f"peak RSS grew {growth:.1f} MiB (from {hwm_before / 1024:.1f} MiB) under 120 abusive requests (limit 64 MiB)")

        print("\n-- 6. Two instances behind the balancer: SIGKILL one under keyed writes", flush=True)
        two_instances(svc, lid)
    finally:
        for proc in EXTRA:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if svc.proc and svc.proc.poll() is None:
            svc.signal(signal.SIGTERM)
            code = svc.wait(SHUTDOWN_S)
            check(code == 0, f"the service exited with status 0 after the last SIGTERM (status {code})")
        try:
            pg_stop("immediate")
        except subprocess.CalledProcessError:
            pass
    print()
    if failures:
        print(f"fault gate FAILED: {len(failures)} check(s)", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        sys.exit(1)
    print("fault gate passed")


if __name__ == "__main__":
    main()
