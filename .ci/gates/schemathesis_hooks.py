"""Schemathesis hooks of the contract gate (.ci/gates/contract.sh), loaded through
SCHEMATHESIS_HOOKS.

1. Real ids. A generated case whose path parameters are valid (not a negative case) gets
   the ids of a resource that exists, taken from $OGSMS_GATES_IDS (written by
   schemathesis_fixtures.py) and chosen by a hash of the generated values, so that the
   cases of an operation spread over its resources, the same ones on every run.
2. Valid preconditions. A case with an `If-Match` header sends the resource's current
   ETag (read just before with the same token), so that the body is what decides the
   answer, not a stale entity tag.
3. Real references. Id fields of a body generated valid (`office_id`, `project_id`,
   `mandate_ids` …) get ids that exist, so that a body is judged on its other fields;
   a third of the valid merge patches keep one field only (see before_call).
4. No false "schema-violating request accepted". Schemathesis 4.32's coverage phase
   makes every property of a nested or optional-only object required when it builds a
   template, then sends the object without one of them as "Missing required property"
   (e.g. a merge patch without `starts_on`, a localized text without `en`, where the
   document requires neither). Such a failure is dropped only when the body sent is
   valid against the operation's request schema in the document; every other failure
   stands.
5. Dates in the ledger's year. A valid `closed_through` of a period closing, and the
   `entry_date` of an entry or a reversal, moves into the fiscal year of the ledger in
   the path (month and day kept), read with the same
   token: the year is stored in the ledger, so no schema can generate it, and without it
   no generated closing could ever succeed.
6. A new office that can exist. A third of the valid bodies of `POST /v1/offices` get a
   fresh code and `country_office`: the demo data already has the one Coordinating
   Office, and a generated code often repeats one of the run's earlier offices (409).
7. A new asset that can exist: a third of the valid bodies of
   `POST /v1/offices/{id}/assets` get a fresh tag, a past date, a USD cost and no
   funding or custodian (see possible_asset).
8. IATI fields. In two thirds of the valid bodies, `sectors` get real DAC codes with
   percentages summing to 100, `budget_lines` are emptied (they must sum to the budget
   and fit the dates, which no schema expresses), organisation identifiers get a real
   registration agency prefix (the codelists are in the descriptions, not the schema),
   and a project of a fund without a donor gets no donor fields.
9. Answers that can be accepted: a third of the valid compliances, asset transfers and
   returns get a plain text and a date that fits (see possible_answer).
10. Plausible dates and dependent fields: in every valid body of the writes, the dates fall in the last year and a half, in order (see plausible_dates),
   and fields that depend on each other agree (see possible_rules).
11. Reach. Every answer's status is appended to $OGSMS_GATES_STATUSES as
   `METHOD /path/{template} STATUS`; schemathesis_reach.py counts the 2xx per operation.
12. One third for all. The hooks that rewrite a third of the cases take the third from
   one hash of the case as generated (case_hash), so those cases are plausible in every
   respect at once. Schemathesis warns that an operation "mostly rejected generated data"
   when a phase of it got no 2xx and its other refusals are mostly 400/412/422 (401, 403,
   404, 409 and 429 aside): a phase may have a single valid case (examples), so a rule
   between fields of one body is applied to every valid body (possible_rules,
   project_rules, fit_amounts), and a rule about stored rows or the caller to a third.
13. The caller's own office or department in a third of the valid bodies that name one
   (own_refs), and in a third of the cases a resource the caller can see (choose_ids).
14. Credentials of the gate's service account ($OGSMS_GATES_CLIENT, made by contract.sh)
   in a third of the valid token requests; an `Idempotency-Key` made unique per request;
   amounts with their currency's decimals; a third of the valid entries in USD without a
   project or payee.
15. Optional: every valid case Schemathesis counts as rejected, with its phase and the
   fields the problem names, in $OGSMS_GATES_REJECTIONS (contract.sh keeps one file per
   role), to tell why an operation warns.
"""

import datetime
import hashlib
import json
import os
import threading
import urllib.error
import urllib.request

import jsonschema_rs
import schemathesis
from schemathesis.core.parameters import ParameterLocation


def _plain_description(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


# Hypothesis describes every filter lambda by parsing its source file with ast.parse,
# for reprs only; under the gate's worker threads CPython 3.11's parser sometimes fails
# ("AST constructor recursion depth mismatch"), which Schemathesis reports as a Runtime
# Error of the whole operation. The description becomes the function's name instead.
def _plain_descriptions() -> None:
    import sys

    import hypothesis.internal.reflection  # noqa: F401 (loads the modules patched below)
    import hypothesis.strategies._internal.lazy  # noqa: F401

    for name, module in list(sys.modules.items()):
        if name.startswith("hypothesis") and hasattr(module, "get_pretty_function_description"):
            module.get_pretty_function_description = _plain_description


_plain_descriptions()

BASE_URL = os.environ["OGSMS_GATES_BASE_URL"]
TOKEN = os.environ["OGSMS_GATES_TOKEN"]
with open(os.environ["OGSMS_GATES_IDS"]) as f:
    _FIXTURES = json.load(f)
IDS: dict[str, list[dict]] = _FIXTURES["paths"]
REFS: dict[str, list[str]] = _FIXTURES["bodies"]
# The office and department whose codes the roles' tokens name (keep_codes).
PROTECTED: set[str] = set(_FIXTURES.get("protected", []))
_DEFAULT_DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "openapi", "openapi.json")
with open(os.environ.get("OGSMS_GATES_DOC", _DEFAULT_DOC)) as f:
    DOC = json.load(f)
STATUSES = open(os.environ["OGSMS_GATES_STATUSES"], "a", buffering=1)
LOCK = threading.Lock()
# The suffixes of the actions whose precondition is the ETag of the resource above them
# (a disposal's and a transfer's: the asset's).
ACTIONS = ("/close", "/suspend", "/reactivate", "/end", "/acknowledgement", "/compliance", "/review",
           "/submit", "/publish", "/return", "/disposal", "/transfers")


def etag_path(case) -> str:
    """The resource whose ETag the case's `If-Match` names: the path itself, the resource
    an action is on (ACTIONS), or for a count's item the count (`/items/{asset_id}` has
    no GET of its own: the answer is the whole count)."""
    path = case.formatted_path
    for action in ACTIONS:
        if path.endswith(action):
            return path[: -len(action)]
    if case.operation.path.endswith("/items/{asset_id}"):
        return path.rsplit("/items/", 1)[0]
    return path


def value_hash(value) -> int:
    """A stable 64-bit hash of a generated value: the same case decides the same way on
    every run (the gate's seed is fixed)."""
    seed = json.dumps(value, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")


def label(case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def is_negative(case, location: ParameterLocation) -> bool:
    meta = getattr(case, "_meta", None)
    return meta is not None and meta.is_negative_at(location)


def current_etag(path: str) -> str | None:
    req = urllib.request.Request(BASE_URL + path, method="GET")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.headers.get("ETag")
    except (urllib.error.URLError, OSError):
        return None


_YEARS: dict[str, int | None] = {}


def ledger_year(ledger_id: str) -> int | None:
    """The fiscal year of a ledger this token may read (None when it may not)."""
    with LOCK:
        if ledger_id in _YEARS:
            return _YEARS[ledger_id]
    req = urllib.request.Request(f"{BASE_URL}/v1/ledgers/{ledger_id}", method="GET")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            year = json.load(res).get("fiscal_year")
    except (urllib.error.URLError, OSError, ValueError):
        year = None
    year = year if isinstance(year, int) else None
    with LOCK:
        _YEARS[ledger_id] = year
    return year


LEDGER_DATES = {
    "POST /v1/ledgers/{id}/closings": "closed_through",
    "POST /v1/ledgers/{id}/entries": "entry_date",
    "POST /v1/ledgers/{id}/entries/{entry_id}/reversal": "entry_date",
}


def in_ledger_year(case) -> None:
    key = LEDGER_DATES.get(label(case))
    if key is None or not isinstance(case.body, dict):
        return
    if is_negative(case, ParameterLocation.BODY) or is_negative(case, ParameterLocation.PATH):
        return
    through = case.body.get(key)
    ledger_id = (case.path_parameters or {}).get("id")
    if not isinstance(through, str) or len(through) != 10 or not isinstance(ledger_id, str):
        return
    year = ledger_year(ledger_id)
    if year is None:
        return
    moved = f"{year:04d}{through[4:]}"
    try:
        datetime.date.fromisoformat(moved)
    except ValueError:
        return
    case.body = {**case.body, key: moved}


def keep_codes(case) -> None:
    """A patch of the office or department a role's token names by code (OGSMS-PE,
    OGSMS-CO, DECO) keeps the code: the next role's token is made with it, and a
    coordinator's valid patch that renamed DECO once left the HQ department's run without
    a token."""
    if label(case) not in ("PATCH /v1/offices/{id}", "PATCH /v1/departments/{id}") \
            or not isinstance(case.body, dict):
        return
    if (case.path_parameters or {}).get("id") in PROTECTED and "code" in case.body:
        case.body = {k: v for k, v in case.body.items() if k != "code"}


_CASE = threading.local()


def case_hash(case) -> int:
    """The hash of the case as generated (taken before any hook rewrote it): the hooks
    that rewrite a third of the cases agree on which third, so the cases they make
    plausible are plausible in every respect at once (own office, IATI fields, dates …),
    not each in one respect and faulty in another."""
    h = getattr(_CASE, "h", None)
    return value_hash(case.body) if h is None else h


def chosen_third(case, *operations: str) -> int | None:
    """The hash of a schema-valid body of one of `operations` that falls in the third of
    such bodies a `possible_*` hook rewrites (None for every other case)."""
    if label(case) not in operations or not isinstance(case.body, dict):
        return None
    if is_negative(case, ParameterLocation.BODY):
        return None
    h = case_hash(case)
    return h if h % 3 == 0 else None


def possible_office(case) -> None:
    h = chosen_third(case, "POST /v1/offices")
    if h is None:
        return
    case.body = {**case.body, "code": f"GATE-{h:016X}", "kind": "country_office"}


def possible_asset(case) -> None:
    """A third of the valid new assets get a fresh tag, an acquisition in the past, a
    cost in USD and no funding or custodian: the document leaves the cross-checks (a
    custodian appointed in this office, a ledger of this office, no date after today) to
    the descriptions, so a generated asset would otherwise almost never exist."""
    h = chosen_third(case, "POST /v1/offices/{id}/assets")
    if h is None:
        return
    body = {k: v for k, v in case.body.items() if k not in ("ledger_id", "entry_id", "custodian_id", "status")}
    case.body = {**body, "tag_number": f"GATE-{h:016X}", "description": "Gate asset",
                 "acquired_on": "2025-01-02", "cost": {"amount": "100.00", "currency": "USD"}}


def possible_answer(case) -> None:
    """A third of the valid compliances get a plain text and today's date, a third of
    the valid transfers another office, today and a plain reason (the two gate roles of
    a local run saw none accepted in 162 calls), and a third of the valid returns a
    plain reason: a generated `complied_on` almost never falls
    between the memorandum's issue and today (stored and the clock, not in any schema),
    and generated strings mostly carry control characters, which the service refuses;
    without this, the CI run of stop 29 saw no compliance accepted in 910 calls."""
    h = chosen_third(case, COMPLIANCE, RETURN, TRANSFER)
    if h is None:
        return
    op = label(case)
    if op == COMPLIANCE:
        today = datetime.datetime.now(datetime.timezone.utc).date()
        case.body = {"text": f"Done ({h:08x}).", "attachments": [f"ref-{h % 1000}"],
                     "complied_on": today.isoformat()}
    elif op == TRANSFER:
        # Another office than the holder (the path's), today, a plain reason.
        holder = (case.path_parameters or {}).get("id")
        others = [o for o in REFS.get("office_id", []) if o != holder]
        if not others:
            return
        today = datetime.datetime.now(datetime.timezone.utc).date()
        case.body = {"to_office_id": pick(others, h), "transferred_on": today.isoformat(),
                     "reason": f"Moved ({h:08x}).", "location": "Main office"}
    else:
        case.body = {"reason": f"Add the figures ({h:08x})."}


# The dates of a body that open something (the others close it, or are the day of an
# action: not before them, not after today).
OPENING_DATES = {"starts_on", "opened_on", "issued_on", "acquired_on", "adopted_on", "period_start"}
DATE_LENGTH = len("2026-01-31")


def plausible_dates(case) -> None:
    """In every valid body of the writes, the top-level dates fall in the last year and a
    half, in order: the opening dates (OPENING_DATES) 400 to 370 days ago,
    the others today or the day before. Dates are checked against each other, the stored
    resource and the clock (not before `starts_on`, not after today, within a year
    ahead …), which the document says in descriptions but no schema can express; a
    generated date is almost never plausible (years 0001 to 9999), so without this few
    writes with a date would ever succeed. A mandate's reference names its year: it
    follows `adopted_on`."""
    if case.operation.method.upper() not in ("POST", "PATCH", "PUT") or not isinstance(case.body, dict):
        return
    if is_negative(case, ParameterLocation.BODY):
        return
    h = value_hash(case.body)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    body = dict(case.body)
    for key, value in case.body.items():
        if not (isinstance(value, str) and len(value) == DATE_LENGTH and value[4] == "-" and value[7] == "-"):
            continue
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            continue
        days = 370 + (h % 30) if key in OPENING_DATES else h % 2
        body[key] = (today - datetime.timedelta(days=days)).isoformat()
    adopted = body.get("adopted_on")
    reference = body.get("reference")
    if isinstance(adopted, str) and isinstance(reference, str) and reference.endswith(")") \
            and reference[-4:-3] == "/" and reference[-3:-1].isdigit():
        body["reference"] = f"{reference[:-3]}{adopted[2:4]})"
    case.body = body


_SECRETARIATS: list[str] = []


def secretariats() -> list[str]:
    with LOCK:
        if _SECRETARIATS:
            return _SECRETARIATS
    req = urllib.request.Request(f"{BASE_URL}/v1/departments?kind=secretariat&status=active&limit=500",
                                 method="GET")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            ids = [d["id"] for d in json.load(res)["items"]]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        ids = []
    with LOCK:
        _SECRETARIATS[:] = ids
    return ids


def possible_rules(case) -> None:
    """The valid bodies of the writes whose fields depend on each other in ways the
    document states in descriptions and no schema expresses get the dependent field
    right (every one: a phase of Schemathesis may send a single valid body, which must
    have its chance): a Department names an active Secretariat as its parent (a Secretariat
    none); an expense or refund has a category, an adjustment a direction, the others
    neither; a memorandum for some offices lists some; a project of a specific or trust
    fund names its donor and agreement."""
    if not isinstance(case.body, dict) or is_negative(case, ParameterLocation.BODY):
        return
    h = value_hash(case.body)
    op = label(case)
    body = dict(case.body)
    if op == "POST /v1/departments":
        parents = secretariats()
        if body.get("kind") == "department" and parents:
            body["parent_id"] = pick(parents, h)
        elif body.get("kind") == "secretariat":
            body.pop("parent_id", None)
    elif op == "POST /v1/ledgers/{id}/entries":
        kind = body.get("kind")
        if kind in ("expense", "refund") and not body.get("category"):
            body["category"] = "other"
        elif kind not in ("expense", "refund"):
            body.pop("category", None)
        if kind == "adjustment" and not body.get("direction"):
            body["direction"] = "increase"
        elif kind != "adjustment":
            body.pop("direction", None)
    elif op == "POST /v1/memoranda":
        if body.get("applies_to_all") is False and not body.get("office_ids"):
            offices = REFS.get("office_ids") or REFS.get("office_id") or []
            if offices:
                body["office_ids"] = [pick(offices, h)]
        elif body.get("applies_to_all") is True:
            body.pop("office_ids", None)
    elif op in ("POST /v1/projects", "PATCH /v1/projects/{id}"):
        if body.get("funding_source") in ("specific_fund", "trust_fund"):
            body["donor"] = body.get("donor") or "Government of Canada"
            body["donor_agreement"] = body.get("donor_agreement") or f"AGR-{h % 10000}"
        elif body.get("funding_source") is not None:
            for key in ("donor", "donor_agreement", "donor_org_identifier"):
                body.pop(key, None)
        if op.startswith("PATCH") and case_hash(case) % 3 == 0:
            # A third of the valid patches leave the life cycle and the dates alone: a
            # status moves only to the next ones (409 otherwise), and new dates must fit
            # the stored ones and the stored budget lines (stored rows, no schema).
            for key in ("status", "starts_on", "ends_on"):
                body.pop(key, None)
        project_rules(body)
    elif op == "POST /v1/offices/{id}/assets/{asset_id}/disposal":
        if body.get("reason") != "sold":
            body.pop("proceeds", None)
    elif op == "POST /v1/offices/{id}/appointments" and case_hash(case) % 3 == 2:
        # The appointment it replaces must be a current one of this office (stored rows).
        body.pop("replaces", None)
    elif op == TRANSFER:
        # Not before the asset's last transfer, which an earlier case may have made today.
        if isinstance(body.get("transferred_on"), str):
            body["transferred_on"] = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        # Another office than the one holding the asset now (after a transfer, not the
        # path's any more: the asset stays addressable there).
        params = case.path_parameters or {}
        asset = get_json(f"/v1/offices/{params.get('id')}/assets/{params.get('asset_id')}") or {}
        holders = {params.get("id"), asset.get("office_id")}
        others = [o for o in REFS.get("office_id", []) if o not in holders]
        if body.get("to_office_id") in holders and others:
            body["to_office_id"] = pick(others, h)
    elif op == "POST /v1/ledgers":
        if body.get("fund") in ("specific_fund", "trust_fund"):
            body["fund_code"] = body.get("fund_code") or f"AGR-{h % 10000}"
        else:
            body.pop("fund_code", None)
    else:
        return
    case.body = body


def get_json(path: str) -> dict | None:
    """A resource as the caller reads it (None when it may not, or on any error)."""
    req = urllib.request.Request(BASE_URL + path, method="GET")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            found = json.load(res)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


_ME: dict = {}


def me() -> dict:
    """The caller as the service sees it (`GET /v1/me`): its office and department."""
    with LOCK:
        if _ME:
            return _ME
    req = urllib.request.Request(f"{BASE_URL}/v1/me", method="GET")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            found = json.load(res)
    except (urllib.error.URLError, OSError, ValueError):
        found = {}
    with LOCK:
        _ME.update(found or {"sub": None})
    return _ME


def own_refs(case) -> None:
    """A third of the valid bodies that name an office or a department name the caller's
    own (an office role writes only its office's projects, items, appointments …; an HQ
    department only its own projects): which office a role may write to is
    authorization, which no schema expresses, and a generated reference almost never
    falls on it. The coordinator and the auditor have none, and keep what they sent."""
    if not isinstance(case.body, dict) or is_negative(case, ParameterLocation.BODY):
        return
    h = case_hash(case)
    if h % 3 != 1:
        return
    caller = me()
    body = dict(case.body)
    for key in ("office_id", "department_id"):
        if key in body and caller.get(key):
            body[key] = caller[key]
    # An item's projects are of its office: generated ones almost never are.
    if label(case) == "POST /v1/accomplishments" and body.get("project_ids"):
        body["project_ids"] = []
    case.body = body


_VISIBLE: dict[str, bool] = {}


def resource_of(template: str) -> str | None:
    """The deepest prefix of a path template that ends with a parameter and has a GET in
    the document: what a caller must see for the operation to reach its logic."""
    parts = template.split("/")
    for end in range(len(parts), 0, -1):
        prefix = "/".join(parts[:end])
        if prefix.endswith("}") and "get" in DOC["paths"].get(prefix, {}):
            return prefix
    return None


def visible(template: str, params: dict) -> bool:
    path = template
    for k, v in params.items():
        path = path.replace("{" + k + "}", str(v))
    with LOCK:
        if path in _VISIBLE:
            return _VISIBLE[path]
    seen = current_etag(path) is not None
    with LOCK:
        _VISIBLE[path] = seen
    return seen


def choose_ids(case, pool: list[dict], params: dict) -> dict:
    """The ids of an existing resource for the case: chosen by the hash of the generated
    values among all of the operation's resources, except for a third of the cases,
    chosen among those the caller can see (a representative sees its office's ledgers and
    assets only, so most of the pool is a 404 to it: correct, but the operation's own
    rules would then rarely be reached)."""
    h = value_hash(params)
    resource = resource_of(case.operation.path)
    own = me().get("office_id")
    if h % 3 == 2 and own and case.operation.path.startswith("/v1/offices/{id}"):
        # An office role writes in its own office only (every office is visible to it).
        mine = [c for c in pool if c.get("id") == own]
        if mine:
            return pick(mine, params)
    if h % 3 == 2 and resource is not None:
        keys = [k.strip("{}") for k in resource.split("/") if k.startswith("{")]
        seen = [c for c in pool if visible(resource, {k: c[k] for k in keys if k in c})]
        if seen:
            return pick(seen, params)
    return pick(pool, params)


TOKEN_OP = "POST /v1/auth/token"
CLIENT = json.loads(os.environ["OGSMS_GATES_CLIENT"]) if os.environ.get("OGSMS_GATES_CLIENT") else None


def possible_token(case) -> None:
    """A third of the valid token requests carry the credentials of the gate's service
    account (made by contract.sh): a secret cannot be generated, and without it every
    request is a 401 or, without credentials in the form (schema-valid, since HTTP Basic
    may carry them instead), a 400."""
    h = chosen_third(case, TOKEN_OP)
    if h is None or CLIENT is None:
        return
    case.body = {**case.body, "grant_type": "client_credentials", "client_id": CLIENT["client_id"],
                 "client_secret": CLIENT["client_secret"]}


def unique_idempotency_key(case) -> None:
    """A valid `Idempotency-Key` names its request: the generated key gets the hash of the
    path and body appended, so the same request with the same key is still a replay, and
    another request never reuses a key an earlier case stored (a 422
    `idempotency-key-reused`: stored rows, which no schema expresses; generated keys
    repeat, `0` above all)."""
    headers = case.headers or {}
    name = next((k for k in headers if k.lower() == "idempotency-key"), None)
    if name is None or is_negative(case, ParameterLocation.HEADER) or not isinstance(headers[name], str):
        return
    h = value_hash([case.formatted_path, case.body])
    key = f"{headers[name][:200]}-{h:016x}"
    case.headers = {**headers, name: key}


def possible_entry(case) -> None:
    """A third of the valid entries get an amount of 10.00 USD and no project or payee:
    an amount has at most its currency's decimals and needs a rate of its currency on its
    date, a project must be of the ledger's office and a payee active (stored rows and a
    per-currency rule, stated in the descriptions)."""
    h = chosen_third(case, "POST /v1/ledgers/{id}/entries")
    if h is None:
        return
    body = {k: v for k, v in case.body.items() if k not in ("project_id", "payee_agency_id")}
    body["amount"] = {"amount": "10.00", "currency": "USD"}
    case.body = body


def project_rules(body: dict) -> None:
    """A project's sectors are distinct and their percentages sum to 100; its agencies
    name one lead at most, and one while it is active (a list's items depend on each
    other: no schema expresses it); its budget lines sum to the budget within its dates:
    one line, the first year's, holds the budget (no line when the dates or the budget are
    not in the body, as in most merge patches)."""
    sectors = body.get("sectors")
    if isinstance(sectors, list) and sectors and all(isinstance(x, dict) for x in sectors):
        seen, distinct = set(), []
        for x in sectors:
            if x.get("code") not in seen:
                seen.add(x.get("code"))
                distinct.append(x)
        shares = [100 // len(distinct)] * len(distinct)
        shares[0] += 100 - sum(shares)
        body["sectors"] = [{**x, "percentage": str(p)} for x, p in zip(distinct, shares)]
    for key in ("mandate_ids", "agencies"):
        if isinstance(body.get(key), list):
            seen, distinct = set(), []
            for x in body[key]:
                ident = x.get("agency_id") if isinstance(x, dict) else x
                if ident not in seen:
                    seen.add(ident)
                    distinct.append(x)
            body[key] = distinct
    agencies = body.get("agencies")
    if isinstance(agencies, list) and all(isinstance(x, dict) for x in agencies):
        if not agencies:
            body.pop("agencies")
        else:
            body["agencies"] = [{**x, "role": "lead" if i == 0 else "partner"} for i, x in enumerate(agencies)]
    lines = body.get("budget_lines")
    if isinstance(lines, list) and lines:
        start, end, budget = body.get("starts_on"), body.get("ends_on"), body.get("budget")
        try:
            first = datetime.date.fromisoformat(start)
            last = first + datetime.timedelta(days=364)
            if isinstance(end, str):
                last = min(last, datetime.date.fromisoformat(end))
            if not isinstance(budget, dict) or last < first:
                raise ValueError
            status = lines[0].get("status", "original") if isinstance(lines[0], dict) else "original"
            body["budget_lines"] = [{"period_start": first.isoformat(), "period_end": last.isoformat(),
                                     "amount": budget, "status": status}]
        except (TypeError, ValueError):
            body["budget_lines"] = []


# ISO 4217 minor units other than 2 (api/core/money.rs).
EXPONENTS = {**{c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                 "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
             **{c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")}, "CLF": 4, "UYW": 4}


def fit_amounts(value):
    """Every amount with at most its currency's decimals. The schema's pattern allows the
    most any currency has (4); the currency's own minor unit (0 for JPY, 3 for KWD) depends
    on the other field of the object, which a schema could only say with a oneOf over
    groups of currencies, turning every client's `MonetaryAmount` into a union. An amount
    cut to nothing after the point keeps a 1."""
    if isinstance(value, list):
        return [fit_amounts(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: fit_amounts(v) for k, v in value.items()}
    amount, currency = out.get("amount"), out.get("currency")
    if isinstance(amount, str) and isinstance(currency, str) and "." in amount:
        whole, frac = amount.split(".", 1)
        keep = EXPONENTS.get(currency, 2)
        frac = frac[:keep]
        cut = f"{whole}.{frac}" if frac else whole
        # A positive amount must stay positive (0.001 USD would become 0.00).
        if cut.strip("0.") == "" and amount.strip("0.") != "":
            cut = "1"
        out["amount"] = cut
    return out


def plausible_amounts(case) -> None:
    if case.operation.method.upper() in ("POST", "PATCH", "PUT") and isinstance(case.body, dict) \
            and not is_negative(case, ParameterLocation.BODY):
        case.body = fit_amounts(case.body)


TRANSFER = "POST /v1/offices/{id}/assets/{asset_id}/transfers"
COMPLIANCE = "POST /v1/memoranda/{id}/offices/{office_id}/compliance"
RETURN = "POST /v1/accomplishments/{id}/return"


def pick(pool: list, value) -> object:
    return pool[value_hash(value) % len(pool)]


def real_refs(value):
    """The body with each id field (REFS) holding an id that exists."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in REFS and isinstance(v, str):
                out[k] = pick(REFS[k], v)
            elif k in REFS and isinstance(v, list) and all(isinstance(x, str) for x in v):
                out[k] = [pick(REFS[k], x) for x in v]
            else:
                out[k] = real_refs(v)
        return out
    if isinstance(value, list):
        return [real_refs(v) for v in value]
    return value


DAC_CODES = ["15151", "15160", "15130", "43060", "11330", "16063"]


def iati_fields(case) -> None:
    if not isinstance(case.body, dict) or is_negative(case, ParameterLocation.BODY):
        return
    h = case_hash(case)
    if h % 3 == 0:
        return
    body = dict(case.body)
    if isinstance(body.get("sectors"), list) and body["sectors"]:
        n = min(len(body["sectors"]), len(DAC_CODES))
        shares = [100 // n] * n
        shares[0] += 100 - sum(shares)
        body["sectors"] = [{"code": DAC_CODES[(h + i) % len(DAC_CODES)] if n == 1 else DAC_CODES[i], "percentage": str(p)}
                           for i, p in enumerate(shares)]
    if isinstance(body.get("budget_lines"), list):
        body["budget_lines"] = []
    for key in ("org_identifier", "donor_org_identifier"):
        if isinstance(body.get(key), str):
            body[key] = f"XM-DAC-{h % 100000}"
    # Only specific and trust funds have a donor (and its identifier).
    if body.get("funding_source") not in (None, "specific_fund", "trust_fund"):
        for key in ("donor", "donor_agreement", "donor_org_identifier"):
            if key in body:
                body[key] = None
    case.body = body


@schemathesis.hook
def before_call(context, case, **kwargs):
    _CASE.h = value_hash([case.path_parameters, case.body])
    pool = IDS.get(label(case))
    params = case.path_parameters or {}
    # An unpublished item is invisible (404) to another office, so an id that a link of
    # the stateful phase gave (one the caller just created and can read) is kept.
    keep = (case.operation.path.startswith("/v1/accomplishments/{id}") and params
            and current_etag(case.formatted_path.split("/submit")[0].split("/publish")[0]
                             .split("/return")[0]) is not None)
    if pool and params and not keep and not is_negative(case, ParameterLocation.PATH):
        chosen = choose_ids(case, pool, params)
        case.path_parameters = {**params, **{k: v for k, v in chosen.items() if k in params}}
    if isinstance(case.body, dict) and not is_negative(case, ParameterLocation.BODY):
        case.body = real_refs(case.body)
        # Schemathesis fills in every property of a merge patch (its templates make them
        # all required), so one invalid field among many sinks every patch. A third of
        # the valid patches keep one of their fields only: still schema-valid (a merge
        # patch requires nothing), and each field's own validation gets reached.
        if case.operation.method.upper() == "PATCH" and len(case.body) > 1:
            h = value_hash(case.body)
            if h % 3 == 0:
                key = sorted(case.body)[(h // 3) % len(case.body)]
                case.body = {key: case.body[key]}
    keep_codes(case)
    own_refs(case)
    plausible_dates(case)
    possible_rules(case)
    in_ledger_year(case)
    iati_fields(case)
    possible_office(case)
    possible_asset(case)
    possible_answer(case)
    possible_token(case)
    possible_entry(case)
    plausible_amounts(case)
    unique_idempotency_key(case)
    headers = case.headers or {}
    # The stateful phase follows the document's links from a creation to its resource; a
    # `Prefer: dry-run` creation answers with an id that is never assigned (as documented),
    # so a link from it leads to a 404 that Schemathesis reports as "created resource not
    # found" (ST302). Dry-runs are sent in every other phase; the stateful one writes.
    meta = getattr(case, "_meta", None)
    if meta is not None and meta.phase.name == "stateful":
        headers = {k: v for k, v in headers.items() if k.lower() != "prefer"}
        case.headers = headers
    name = next((k for k in headers if k.lower() == "if-match"), None)
    if name is not None and not is_negative(case, ParameterLocation.HEADER):
        etag = current_etag(etag_path(case))
        if etag:
            case.headers = {**headers, name: etag}


# Optional: every schema-valid case that got a 4xx Schemathesis counts as "rejected"
# (not 401, 403, 404, 409 or 429), with its phase and the fields the problem names, for
# finding out why an operation "mostly rejected generated data".
REJECTIONS = open(os.environ["OGSMS_GATES_REJECTIONS"], "a", buffering=1) \
    if os.environ.get("OGSMS_GATES_REJECTIONS") else None


def rejection(case, response) -> str | None:
    meta = getattr(case, "_meta", None)
    status = response.status_code
    if meta is None or meta.generation.mode.is_negative or not 400 <= status < 500 \
            or status in (401, 403, 404, 409, 429):
        return None
    try:
        errors = json.loads(response.content).get("errors") or []
        why = ",".join(f"{e.get('field')}:{e.get('code')}" for e in errors[:4])
    except (ValueError, AttributeError):
        why = ""
    return f"{meta.phase.name} {label(case)} {status} {why}\n"


@schemathesis.hook
def after_call(context, case, response):
    line = rejection(case, response) if REJECTIONS else None
    with LOCK:
        STATUSES.write(f"{label(case)} {response.status_code}\n")
        if line:
            REJECTIONS.write(line)


def body_schema(case) -> dict | None:
    op = DOC["paths"].get(case.operation.path, {}).get(case.operation.method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    media = case.media_type or next(iter(content), None)
    schema = content.get(media, {}).get("schema") if media else None
    return None if schema is None else {**schema, "components": DOC.get("components", {})}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST201" or "Missing required property" not in (failure.message or ""):
        return True
    schema = body_schema(case)
    if schema is None or not isinstance(case.body, (dict, list)):
        return True
    return not jsonschema_rs.Draft202012Validator(schema).is_valid(case.body)
