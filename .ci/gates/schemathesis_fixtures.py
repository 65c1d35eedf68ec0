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

import datetime
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
office_ids = [o["id"] for o in offices]
# An office closes only with no active or approved project and no open ledger, which
# every demo office has: the gate closes offices of its own, with nothing running.
offices_to_close = []
for i in range(4):
    code = f"OGSMS-GATE-CLOSE-{i}"
    status, out = call("POST", "/v1/offices", {
        "code": code, "kind": "country_office", "member_state": "PE",
        "name": {"en": f"Gate office {i}", "es": f"Oficina de prueba {i}"},
        "city": "Lima", "opened_on": "1990-05-01"})
    if status == 201:
        offices_to_close.append(out["id"])
    else:
        offices_to_close += [o["id"] for o in items(f"/v1/offices?status=open") if o["code"] == code]
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


def ledger(office: str, year: int, fund: str, entries: int, fund_code=None) -> tuple[str, list[str]]:
    """A ledger with an allocation and `entries` expenses (created, or found from an earlier run)."""
    body = {"office_id": office, "fiscal_year": year, "fund": fund}
    if fund_code:
        body["fund_code"] = fund_code
    status, out = call("POST", "/v1/ledgers", body)
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
# The demo data has each office's ledgers of 2025 and 2026 (regular, earmarked and
# development cooperation funds, periods closed): the gate's own are of other funds or
# years. Entries are never dated after today, so the ledgers posted to are of this year.
THIS_YEAR = datetime.date.today().year
for o in office_ids[:6]:
    lid, ids = ledger(o, THIS_YEAR, "indirect_cost_recovery", 3)
    open_ledgers.append(lid)
    open_entries += [{"id": lid, "entry_id": e} for e in ids]
# Ledgers whose periods are closed, ledgers that are closed, entries that are reversed
# (a reversal is dated today by default, so in this year's ledger).
closing_ledgers = [ledger(o, 2024, "regular_fund", 0)[0] for o in office_ids[:6]]
closed_ledgers = [ledger(o, 2023, "regular_fund", 0)[0] for o in office_ids[:6]]
reversible = []
for o in office_ids[:6]:
    lid, ids = ledger(o, THIS_YEAR, "trust_fund", 10, "GATES-REVERSALS")
    reversible += [{"id": lid, "entry_id": e} for e in ids]


# Assets (demo inventory): the ones held and not disposed of, in the roles' offices first;
# some kept for disposal and transfer. Physical counts: the demo's closed ones to read,
# open ones made here (one per office at a time) to record results in and to close, in
# offices apart from those where new counts are opened.
held_assets = []
for o in office_ids[:8]:
    held_assets += [{"id": o, "asset_id": a["id"]}
                    for a in items(f"/v1/offices/{o}/assets?status=in_use,in_storage,under_repair", 40)]
held_assets, assets_to_dispose = split(held_assets, max(2, len(held_assets) // 4))
held_assets, assets_to_transfer = split(held_assets, max(2, len(held_assets) // 4))
asset_transfers = []
for o in office_ids:
    asset_transfers += [{"id": o, "transfer_id": t["id"]} for t in items(f"/v1/offices/{o}/asset-transfers", 20)]
closed_counts = []
for o in office_ids[:8]:
    closed_counts += [{"id": o, "count_id": c["id"]} for c in items(f"/v1/offices/{o}/asset-counts?status=closed", 5)]


def open_count(office: str) -> dict:
    """The office's open count (opened here, or found from an earlier run)."""
    status, out = call("POST", f"/v1/offices/{office}/asset-counts", {"counted_on": "2026-12-01"})
    if status != 201:
        found = items(f"/v1/offices/{office}/asset-counts?status=open", 1)
        if not found:
            sys.exit(f"fixtures: cannot open an asset count in {office}: {status} {out}")
        out = must("GET", f"/v1/offices/{office}/asset-counts/{found[0]['id']}")
    return out


count_items = []
for o in office_ids[0:1] + office_ids[2:3]:
    c = open_count(o)
    count_items += [{"id": o, "count_id": c["id"], "asset_id": i["asset_id"]} for i in c["items"]]
counts_to_close = [{"id": o, "count_id": open_count(o)["id"]} for o in office_ids[1:2] + office_ids[3:5]]
count_offices = office_ids[5:]


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

webhooks = [must("POST", "/v1/webhooks", {"url": f"https://hooks.example.org/gate/{i}"})["id"]
            for i in range(15)]
webhooks, webhooks_to_delete = split(webhooks, 10)
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
drafts = [must("POST", "/v1/accomplishments", {"office_id": home[i % len(home)], "occurred_on": "2026-06-01",
                                               "kind": "event", "title": {"en": f"Gate item {i}"},
                                               "text": {"en": "It happened."}})["id"]
          for i in range(30)]
for d in drafts[:20]:
    must("POST", f"/v1/accomplishments/{d}/submit")
# Publishing and returning each take a submitted item out of `submitted`, so each has
# its own ten: otherwise whichever runs first leaves the other nothing but 409s.
to_publish, to_return, drafts = drafts[:10], drafts[10:20], drafts[20:]
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
    "GET /v1/webhooks/{id}": one(webhooks),
    "DELETE /v1/webhooks/{id}": one(webhooks_to_delete),
    "POST /v1/webhooks/{id}/secret-rotations": one(webhooks),
    "POST /v1/webhooks/{id}/reactivation": one(webhooks),
    "GET /v1/webhooks/{id}/deliveries": one(webhooks),
    "GET /v1/offices/{id}/assets": one(office_ids),
    "POST /v1/offices/{id}/assets": one(office_ids),
    "GET /v1/offices/{id}/assets/{asset_id}": held_assets,
    "PATCH /v1/offices/{id}/assets/{asset_id}": held_assets,
    "POST /v1/offices/{id}/assets/{asset_id}/disposal": assets_to_dispose,
    "POST /v1/offices/{id}/assets/{asset_id}/transfers": assets_to_transfer,
    "GET /v1/offices/{id}/asset-transfers": one(office_ids),
    "GET /v1/offices/{id}/asset-transfers/{transfer_id}": asset_transfers,
    "GET /v1/offices/{id}/asset-depreciation": one(office_ids),
    "GET /v1/offices/{id}/reconciliation": one(office_ids),
    "GET /v1/offices/{id}/asset-counts": one(office_ids),
    "POST /v1/offices/{id}/asset-counts": one(count_offices),
    "GET /v1/offices/{id}/asset-counts/{count_id}": closed_counts,
    "PUT /v1/offices/{id}/asset-counts/{count_id}/items/{asset_id}": count_items,
    "POST /v1/offices/{id}/asset-counts/{count_id}/close": counts_to_close,
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
    "POST /v1/accomplishments/{id}/publish": one(to_publish),
    "POST /v1/accomplishments/{id}/return": one(to_return),
}
# Ids inside bodies: a new project's office, a posting's project or payee ...
refs = {
    "office_id": office_ids, "department_id": departments, "project_id": projects,
    "payee_agency_id": agencies, "agency_id": agencies, "mandate_ids": mandates,
    "to_office_id": office_ids,
    "office_ids": office_ids, "project_ids": projects, "agency_ids": agencies,
}
empty = [k for k, v in ids.items() if not v]
if empty:
    sys.exit(f"fixtures: no ids for {empty}")
# The office and department the roles' tokens name by code (contract.sh ROLES): a patch
# may change everything of them but their code, or the next role's token cannot be made.
protected = home + [d["id"] for d in items("/v1/departments") if d["code"] == "DECO"]
with open(OUT, "w") as f:
    json.dump({"paths": ids, "bodies": refs, "protected": protected}, f, indent=1)
print(f"fixtures: real ids for {len(ids)} operations in {OUT}")
