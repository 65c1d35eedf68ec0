#!/usr/bin/env python3
"""Did the fuzzing reach the code? Per operation of the document, how many of the cases
Schemathesis sent (all roles, all phases) got a 2xx. An operation where none did fails
the gate, unless schemathesis-reach.toml allows it with the reason.

Usage: schemathesis_reach.py openapi.json schemathesis-reach.toml STATUSES...
(each STATUSES file holds `METHOD /path/{template} STATUS` lines, from schemathesis_hooks.py)
"""

import collections
import json
import sys
import tomllib

doc_path, allow_path, *status_files = sys.argv[1:]
with open(doc_path) as f:
    doc = json.load(f)
with open(allow_path, "rb") as f:
    allowed: dict[str, dict] = tomllib.load(f).get("no-2xx", {})

operations = [
    f"{method.upper()} {path}"
    for path, item in doc["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
]
sent: collections.Counter = collections.Counter()
ok: collections.Counter = collections.Counter()
statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
for name in status_files:
    with open(name) as f:
        for line in f:
            op, status = line.rstrip("\n").rsplit(" ", 1)
            sent[op] += 1
            statuses[op][status] += 1
            if status.startswith("2"):
                ok[op] += 1

failed = []
print(f"{'operation':<62} {'cases':>6} {'2xx':>6}  statuses")
for op in operations:
    top = ", ".join(f"{s}:{n}" for s, n in sorted(statuses[op].items()))
    note = ""
    if ok[op] == 0:
        if op in allowed:
            note = f"  (allowed: {allowed[op]['reason']})"
        else:
            note = "  <- no 2xx"
            failed.append(op)
    print(f"{op:<62} {sent[op]:>6} {ok[op]:>6}  {top}{note}")
stale = [op for op in allowed if op not in operations or ok[op] > 0]
for op in stale:
    print(f"the allowance for {op} is stale (the operation {'got a 2xx' if op in operations else 'is not in the document'}): remove it")
missing_reason = [op for op, a in allowed.items() if not str(a.get("reason", "")).strip()]
if failed or stale or missing_reason:
    if failed:
        print(f"{len(failed)} operation(s) never answered 2xx: the gate did not reach their code", file=sys.stderr)
    if missing_reason:
        print(f"allowances without a reason: {missing_reason}", file=sys.stderr)
    sys.exit(1)
print(f"every operation answered 2xx at least once ({len(allowed)} allowed not to, each with its reason)")
