#!/usr/bin/env python3
"""Real ids for the Schemathesis gate (.ci/gates/contract.sh), written once before the roles run.

A random UUID in `/v1/projects/{id}` is a 404 before the handler reads the body, so an
operation fuzzed with random ids is never reached. This program (as a coordinator)
collects the ids of the demo data, creates what the demo data lacks (ledgers with
entries, an exchange rate), and writes, per operation (`METHOD /path/{template}`), a list
of path-parameter sets that exist. `schemathesis_hooks.py` puts one of them into every
generated case whose path parameters were generated valid.

Operations that destroy or close what they reach (DELETE, /close, /closings, /end,
/suspend, /reversal …) get resources of their own, so that they cannot starve the others:
the last offices of the list are only closed, the ledgers that are closed or have periods
closed are not posted to, DELETE gets copies of demo resources that nothing refers to.
Ids inside bodies (`office_id`, `project_id`, `mandate_ids` …) get pools too.

Usage: schemathesis_fixtures.py BASE_URL OUT.json  (token in $OGSMS_GATES_ADMIN_TOKEN)
"""

import json
import os
import re
import sys
import urllib.error
import urllib.request

BASE, OUT = sys.argv[1], sys.argv[2]
TOKEN = os.environ["OGSMS_GATES_ADMIN_TOKEN"]


def call(method: str, path: str, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def must(method: str, path: str, body=None, headers=None):
    status, out = call(method, path, body, headers)
    if status >= 300:
        sys.exit(f"fixtures: {method} {path} answered {status}: {out}")
    return out


def items(path: str, limit: int = 500) -> list[dict]:
    sep = "&" if "?" in path else "?"
    return must("GET", f"{path}{sep}limit={limit}")["items"]


def split(xs: list, reserved: int) -> tuple[list, list]:
    """(the ones every operation may use, the last `reserved` kept for destruction)."""
    return xs[:-reserved], xs[-reserved:]


offices = [o for o in items("/v1/offices") if o.get("status", "open") != "closed"]
by_code = {o["code"]: o["id"] for o in offices}
office_ids, offices_to_close = split([o["id"] for o in offices], 4)
departments = [d["id"] for d in items("/v1/departments")]
mandates = [m["id"] for m in items("/v1/mandates")]
agencies = [a["id"] for a in items("/v1/executing-agencies")]
agencies, agencies_to_suspend = split(agencies, 20)
projects = [p["id"] for p in items("/v1/projects")]
# The offices of the roles the gate runs as come first, so that their writes can succeed.
home = [by_code[c] for c in ("OGSMS-PE", "OGSMS-CO") if c in by_code]
office_ids = home + [o for o in office_ids if o not in home]

reports = []  # (project, report)
for p in projects[:40]:
    reports += [{"id": p, "report_id": r["id"]} for r in items(f"/v1/projects/{p}/monitoring-reports", 50)]
assignments = []
for m in mandates[:20]:
    assignments += [{"id": m, "assignment_id": a["id"]} for a in items(f"/v1/mandates/{m}/assignments", 50)]
appointments = []
for o in office_ids[:20]:
    appointments += [{"id": o, "appointment_id": a["id"]} for a in items(f"/v1/offices/{o}/appointments", 50)]
appointments, appointments_to_end = split(appointments, max(1, len(appointments) // 3))


def ledger(office: str, year: int, fund: str, entries: int) -> tuple[str, list[str]]:
    """A ledger with an allocation and `entries` expenses (created, or found from an earlier run)."""
    status, out = call("POST", "/v1/ledgers", {"office_id": office, "fiscal_year": year, "fund": fund})
    if status == 201:
        lid = out["id"]
    else:
        found = items(f"/v1/ledgers?office_id={office}&fiscal_year={year}&fund={fund}")
        if not found:
            sys.exit(f"fixtures: cannot create ledger {office} {year} {fund}: {status} {out}")
        lid = found[0]["id"]
    must("POST", f"/v1/ledgers/{lid}/entries", {
        "kind": "allocation", "entry_date": f"{year}-01-02", "description": "schemathesis fixture",
        "amount": {"amount": "1000000.00", "currency": "USD"}}, {"Idempotency-Key": f"fixture-{lid}-alloc"})
    ids = []
    for i in range(entries):
        e = must("POST", f"/v1/ledgers/{lid}/entries", {
            "kind": "expense", "category": "supplies", "entry_date": f"{year}-02-{1 + i % 27:02d}",
            "description": f"schemathesis fixture {i}", "amount": {"amount": "1.00", "currency": "USD"}},
            {"Idempotency-Key": f"fixture-{lid}-{i}"})
        ids.append(e["id"])
    return lid, ids


# Ledgers posted to and read: in the roles' own offices first.
open_ledgers, open_entries = [], []
for o in office_ids[:6]:
    lid, ids = ledger(o, 2027, "regular_fund", 3)
    open_ledgers.append(lid)
    open_entries += [{"id": lid, "entry_id": e} for e in ids]
# Ledgers whose periods are closed, ledgers that are closed, entries that are reversed:
# other fiscal years of the same offices (an earmarked fund would need a donor agreement).
closing_ledgers = [ledger(o, 2028, "regular_fund", 0)[0] for o in office_ids[:6]]
closed_ledgers = [ledger(o, 2029, "regular_fund", 0)[0] for o in office_ids[:6]]
reversible = []
for o in office_ids[:6]:
    lid, ids = ledger(o, 2026, "regular_fund", 10)
    reversible += [{"id": lid, "entry_id": e} for e in ids]



def copies(kind: str, unique: str, renamed, n: int) -> list[str]:
    """`n` new resources copied from the demo's first ones with `unique` renamed: nothing
    refers to them, so that a DELETE of them can succeed (the demo's are referenced)."""
    keep = {
        "executing-agencies": ("name", "acronym", "member_state", "kind", "registration_number", "contacts"),
        "mandates": ("reference", "adopted_on", "pillar", "title", "summary"),
        "projects": ("code", "title", "description", "office_id", "department_id", "pillar", "starts_on",
                     "ends_on", "budget", "funding_source", "donor", "donor_agreement", "mandate_ids", "agencies"),
    }[kind]
    out = []
    for i, src in enumerate(items(f"/v1/{kind}", n)):
        body = {k: v for k, v in src.items() if k in keep}
        body[unique] = renamed(body[unique], i)
        out.append(must("POST", f"/v1/{kind}", body)["id"])
    return out


agencies_to_delete = copies("executing-agencies", "registration_number",
                            lambda v, i: f"{v.split('-')[0]}-77{i:05d}", 10)
mandates_to_delete = copies("mandates", "reference",
                            lambda v, i: re.sub(r"\d+", str(9000 + i), v, count=1), 10)
projects_to_delete = copies("projects", "code", lambda v, i: f"{v.rsplit('-', 1)[0]}-{900 + i}", 20)

status, rate = call("POST", "/v1/exchange-rates", {"currency": "EUR", "effective_on": "2027-01-01", "rate": "0.9200"})
rates = [rate["id"]] if status == 201 else [r["id"] for r in items("/v1/exchange-rates")]
if not rates:
    sys.exit(f"fixtures: no exchange rate ({status} {rate})")

# Memoranda: the demo's, and fresh ones to every office with evidence required, so that
# the gate's offices have standings to acknowledge and comply with; the review gets the
# submitted ones (the demo's), the office's answers the gate's offices' open ones.
for i in range(3):
    call("POST", "/v1/memoranda", {"number": f"GATE/{i}", "title": {"en": f"Gate memorandum {i}"},
                                   "text": {"en": "Comply."}, "issued_on": "2026-01-05",
                                   "applies_to_all": True, "evidence_required": {"en": "A report."}})
memoranda = [m["id"] for m in items("/v1/memoranda")]
standings = items("/v1/memorandum-compliance")
pair = lambda s: {"id": s["memorandum_id"], "office_id": s["office_id"]}  # noqa: E731
to_acknowledge = [pair(s) for s in standings if s["office_id"] in home and s["status"] == "pending"]
to_comply = [pair(s) for s in standings if s["office_id"] in home and s["evidence_required"]
             and s["status"] in ("pending", "acknowledged", "returned")]
to_review = [pair(s) for s in standings if s["status"] == "submitted"]
# Accomplishments: drafts of the gate's offices to edit and submit, submitted ones to
# publish or return.
drafts = [must("POST", "/v1/accomplishments", {"office_id": o, "occurred_on": "2026-06-01", "kind": "event",
                                               "title": {"en": f"Gate item {i}"}, "text": {"en": "It happened."}})["id"]
          for i, o in enumerate(home * 15)]
for d in drafts[:10]:
    must("POST", f"/v1/accomplishments/{d}/submit")
accomplishments_submitted, drafts = drafts[:10], drafts[10:]
accomplishments = [a["id"] for a in items("/v1/accomplishments")]

one = lambda ids: [{"id": i} for i in ids]  # noqa: E731
ids: dict[str, list[dict]] = {
    "GET /v1/member-states/{code}": [{"code": m["code"]} for m in must("GET", "/v1/member-states")["items"]],
    "GET /v1/departments/{id}": one(departments),
    "PATCH /v1/departments/{id}": one(departments),
    "GET /v1/offices/{id}": one(office_ids + offices_to_close),
    "PATCH /v1/offices/{id}": one(office_ids),
    "POST /v1/offices/{id}/close": one(offices_to_close),
    "GET /v1/offices/{id}/mandates": one(office_ids),
    "GET /v1/mandates/{id}": one(mandates),
    "PATCH /v1/mandates/{id}": one(mandates),
    "DELETE /v1/mandates/{id}": one(mandates_to_delete),
    "GET /v1/mandates/{id}/assignments": one(mandates),
    "POST /v1/mandates/{id}/assignments": one(mandates),
    "GET /v1/mandates/{id}/assignments/{assignment_id}": assignments,
    "PATCH /v1/mandates/{id}/assignments/{assignment_id}": assignments,
    "GET /v1/mandates/{id}/expenditures": one(mandates),
    "GET /v1/executing-agencies/{id}": one(agencies),
    "PATCH /v1/executing-agencies/{id}": one(agencies),
    "POST /v1/executing-agencies/{id}/suspend": one(agencies_to_suspend),
    "POST /v1/executing-agencies/{id}/reactivate": one(agencies_to_suspend),
    "DELETE /v1/executing-agencies/{id}": one(agencies_to_delete),
    "GET /v1/projects/{id}": one(projects),
    "PATCH /v1/projects/{id}": one(projects),
    "DELETE /v1/projects/{id}": one(projects_to_delete),
    "GET /v1/projects/{id}/budget-execution": one(projects),
    "GET /v1/projects/{id}/monitoring-reports": one(projects),
    "POST /v1/projects/{id}/monitoring-reports": one(projects),
    "GET /v1/projects/{id}/monitoring-reports/{report_id}": reports,
    "PATCH /v1/projects/{id}/monitoring-reports/{report_id}": reports,
    "GET /v1/offices/{id}/appointments": one(office_ids),
    "POST /v1/offices/{id}/appointments": one(office_ids),
    "GET /v1/offices/{id}/appointments/{appointment_id}": appointments,
    "PATCH /v1/offices/{id}/appointments/{appointment_id}": appointments,
    "POST /v1/offices/{id}/appointments/{appointment_id}/end": appointments_to_end,
    "GET /v1/ledgers/{id}": one(open_ledgers),
    "GET /v1/ledgers/{id}/entries": one(open_ledgers),
    "POST /v1/ledgers/{id}/entries": one(open_ledgers),
    "GET /v1/ledgers/{id}/entries/{entry_id}": open_entries,
    "POST /v1/ledgers/{id}/entries/{entry_id}/reversal": reversible,
    "GET /v1/ledgers/{id}/balance": one(open_ledgers),
    "POST /v1/ledgers/{id}/closings": one(closing_ledgers),
    "POST /v1/ledgers/{id}/close": one(closed_ledgers),
    "GET /v1/ledgers/{id}/verification": one(open_ledgers),
    "GET /v1/exchange-rates/{id}": one(rates),
    "GET /v1/memoranda/{id}": one(memoranda),
    "PATCH /v1/memoranda/{id}": one(memoranda),
    "GET /v1/memoranda/{id}/offices": one(memoranda),
    "GET /v1/memoranda/{id}/offices/{office_id}": [pair(s) for s in standings],
    "POST /v1/memoranda/{id}/offices/{office_id}/acknowledgement": to_acknowledge,
    "POST /v1/memoranda/{id}/offices/{office_id}/compliance": to_comply,
    "POST /v1/memoranda/{id}/offices/{office_id}/review": to_review,
    "GET /v1/accomplishments/{id}": one(accomplishments),
    "PATCH /v1/accomplishments/{id}": one(drafts),
    "POST /v1/accomplishments/{id}/submit": one(drafts),
    "POST /v1/accomplishments/{id}/publish": one(accomplishments_submitted),
    "POST /v1/accomplishments/{id}/return": one(accomplishments_submitted),
}
# Ids inside bodies: a new project's office, a posting's project or payee ...
refs = {
    "office_id": office_ids, "department_id": departments, "project_id": projects,
    "payee_agency_id": agencies, "agency_id": agencies, "mandate_ids": mandates,
    "office_ids": office_ids, "project_ids": projects, "agency_ids": agencies,
}
empty = [k for k, v in ids.items() if not v]
if empty:
    sys.exit(f"fixtures: no ids for {empty}")
with open(OUT, "w") as f:
    json.dump({"paths": ids, "bodies": refs}, f, indent=1)
print(f"fixtures: real ids for {len(ids)} operations in {OUT}")
