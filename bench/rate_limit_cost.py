#!/usr/bin/env python3
"""Cost per request of the rate limit counted in the process (OGSMS_RATE_LIMIT_STORE=memory)
and in PostgreSQL (postgres, the default): starts `ogsms serve` with each store on one
database, sends N keep-alive GETs of a cheap authenticated read from C client threads,
and reports the service's CPU per request (utime+stime from /proc/<pid>/stat, robust to
other load on the machine) and the latency percentiles.

usage: bench/rate_limit_cost.py BIN DATABASE_URL PORT [N] [C]
"""
import http.client, os, signal, subprocess, sys, tempfile, threading, time

BIN, URL, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
N = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
C = int(sys.argv[5]) if len(sys.argv) > 5 else 4
SECRET = "bench-secret-of-at-least-thirty-two-bytes"
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def run(store):
    env = dict(os.environ, DATABASE_URL=URL, OGSMS_JWT_SECRET=SECRET, OGSMS_WORKERS="1",
               OGSMS_BIND=f"127.0.0.1:{PORT}", OGSMS_RATE_LIMIT_STORE=store,
               OGSMS_RATE_LIMIT_PER_MINUTE="100000000", OGSMS_RATE_LIMIT_BURST="100000000",
               RUST_LOG="warn", OGSMS_DATA_DIR=tempfile.mkdtemp())
    p = subprocess.Popen([BIN, "serve", "--no-demo"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
                c.request("GET", "/livez"); c.getresponse().read(); break
            except OSError:
                time.sleep(0.1)
        token = subprocess.check_output([BIN, "token", "--role", "coordinator", "--sub", "bench"],
                                        env=env).decode().strip()
        lat, lock = [], threading.Lock()

        def client(n):
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            mine = []
            for _ in range(n):
                t = time.perf_counter()
                c.request("GET", "/v1/member-states/PE", headers={"authorization": f"Bearer {token}"})
                r = c.getresponse(); r.read()
                assert r.status == 200, r.status
                mine.append(time.perf_counter() - t)
            with lock:
                lat.extend(mine)
        client(200)  # warm up
        lat.clear()
        before = cpu(p.pid)
        t0 = time.perf_counter()
        ts = [threading.Thread(target=client, args=(N // C,)) for _ in range(C)]
        [t.start() for t in ts]; [t.join() for t in ts]
        wall = time.perf_counter() - t0
        used = cpu(p.pid) - before
        lat.sort()
        q = lambda x: lat[int(x * (len(lat) - 1))] * 1000
        print(f"{store:8} requests={len(lat)} service_cpu_per_request={used / len(lat) * 1e6:.0f}us "
              f"p50={q(.5):.2f}ms p90={q(.9):.2f}ms p99={q(.99):.2f}ms req/s={len(lat) / wall:.0f}")
    finally:
        p.send_signal(signal.SIGTERM); p.wait()


for store in sys.argv[6:] or ["memory", "postgres", "memory", "postgres"]:
    run(store)
