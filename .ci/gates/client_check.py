"""What a consumer does with the client openapi-python-client generates from the document:
log in with a service account (client credentials), page through every project, open a
ledger and post an allocation (with an Idempotency-Key, twice), and read its balance;
consume the change feed to its end, delete an executing agency it made, and see the
tombstone appear after its cursor. Run by .ci/gates/contract.sh against the running service with the
demo data; any exception or unexpected answer fails the gate.

Environment: OGSMS_BASE_URL, CLIENT_CREDENTIALS (the JSON `ogsms service-account create`
prints), and PYTHONPATH holding the generated package `python_client`.
"""

import datetime
import json
import os
import sys
import time

from python_client import AuthenticatedClient, Client
from python_client.types import Unset
from python_client.api.authentication import issue_token, me
from python_client.api.changes import list_changes
from python_client.api.executing_agencies import create_agency, delete_agency
from python_client.api.ledgers import create_ledger, get_balance, post_entry
from python_client.api.offices import list_offices
from python_client.api.projects import list_projects
from python_client.models import (
    Balance,
    ChangeAction,
    ChangeFeed,
    CurrencyCode,
    Entry,
    Fund,
    Ledger,
    Me,
    NewEntry,
    NewExecutingAgency,
    NewLedger,
    OfficePage,
    PositiveMonetaryAmount,
    PostableEntryKind,
    Problem,
    ProjectPage,
    TokenRequest,
    TokenResponse,
)


def fail(message: str) -> None:
    print(f"client check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    base_url = os.environ["OGSMS_BASE_URL"]
    creds = json.loads(os.environ["CLIENT_CREDENTIALS"])

    # 1. Log in: the token endpoint needs no token, so the plain client calls it.
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    wrong = issue_token.sync(
        client=anonymous,  # type: ignore[arg-type]
        body=TokenRequest(
            grant_type="client_credentials",
            client_id=creds["client_id"],
            client_secret="not-the-secret",
        ),
    )
    if not isinstance(wrong, Problem) or wrong.status != 401:
        fail(f"a wrong secret should be a 401 problem, got {wrong!r}")
    token = issue_token.sync(
        client=anonymous,  # type: ignore[arg-type]
        body=TokenRequest(
            grant_type="client_credentials",
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
        ),
    )
    if not isinstance(token, TokenResponse) or token.token_type.lower() != "bearer":
        fail(f"no token: {token!r}")
    client = AuthenticatedClient(
        base_url=base_url, token=token.access_token, raise_on_unexpected_status=True
    )
    who = me.sync(client=client)
    if not isinstance(who, Me):
        fail(f"/v1/me: {who!r}")
    print(f"logged in as {creds['client_id']} ({who.to_dict().get('role')})")

    # 2. Page through every project with the cursor.
    seen: set[str] = set()
    pages = 0
    cursor = None
    while True:
        kwargs = {"limit": 100}
        if cursor:
            kwargs["cursor"] = cursor
        page = list_projects.sync(client=client, **kwargs)
        if not isinstance(page, ProjectPage):
            fail(f"projects page {pages + 1}: {page!r}")
        pages += 1
        for p in page.items:
            if str(p.id) in seen:
                fail(f"project {p.id} came twice")
            seen.add(str(p.id))
        cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
        if not cursor:
            break
    if len(seen) < 100 or pages < 2:
        fail(f"expected the demo's projects over several pages, got {len(seen)} in {pages}")
    print(f"paged through {len(seen)} projects in {pages} pages")

    # 3. Open a ledger, post an allocation (a retry with the same key replays it), and
    #    read the balance.
    offices = list_offices.sync(client=client, limit=1)
    if not isinstance(offices, OfficePage) or not offices.items:
        fail(f"no offices: {offices!r}")
    # Entries are never dated after today; the demo data holds the regular funds of
    # 2025 and 2026, so the gate opens this year's indirect cost recovery.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    ledger = create_ledger.sync(
        client=client,
        body=NewLedger(
            office_id=offices.items[0].id,
            fiscal_year=today.year,
            fund=Fund.INDIRECT_COST_RECOVERY,
        ),
    )
    if not isinstance(ledger, Ledger):
        fail(f"creating a ledger: {ledger!r}")
    allocation = NewEntry(
        amount=PositiveMonetaryAmount(amount="1250.50", currency=CurrencyCode.USD),
        description="Contract gate allocation",
        entry_date=today,
        kind=PostableEntryKind.ALLOCATION,
    )
    key = f"contract-gate-{ledger.id}"
    first = post_entry.sync(ledger.id, client=client, body=allocation, idempotency_key=key)
    again = post_entry.sync(ledger.id, client=client, body=allocation, idempotency_key=key)
    if not isinstance(first, Entry) or not isinstance(again, Entry) or first.id != again.id:
        fail(f"posting with one Idempotency-Key twice: {first!r} / {again!r}")
    balance = get_balance.sync(ledger.id, client=client)
    if not isinstance(balance, Balance):
        fail(f"balance of {ledger.id}: {balance!r}")
    if (
        balance.ledger_id != ledger.id
        or balance.entry_count != 1
        or balance.available.to_dict() != {"amount": "1250.50", "currency": "USD"}
    ):
        fail(f"unexpected balance: {balance.to_dict()}")
    print(
        f"ledger {ledger.id}: {balance.entry_count} entry, "
        f"available {balance.available.amount} {balance.available.currency}"
    )

    # 4. Consume the change feed to its end, keep the cursor, delete an agency made for
    #    it, and read on from the cursor until the tombstone appears.
    def drain(cursor):
        events = []
        while True:
            kwargs = {"limit": 500}
            if cursor:
                kwargs["cursor"] = cursor
            page = list_changes.sync(client=client, **kwargs)
            if not isinstance(page, ChangeFeed):
                fail(f"change feed: {page!r}")
            events.extend(page.items)
            cursor = page.next_cursor
            if not page.has_more:
                return events, cursor

    history, cursor = drain(None)
    if not any(e.resource_id == str(ledger.id) for e in history):
        # The ledger's creation may still be behind the feed's horizon for a moment.
        time.sleep(1)
        more, cursor = drain(cursor)
        history += more
    print(f"read {len(history)} change events to the end of the feed")
    agency_body = {
        "name": {"en": f"Contract gate agency {ledger.id}"},
        "member_state": "PE",
        "kind": "ngo",
        "registration_number": f"GATE-{ledger.id}",
    }
    response = create_agency.sync_detailed(
        client=client, body=NewExecutingAgency.from_dict(agency_body)
    )
    agency_id = json.loads(response.content)["id"]
    deleted = delete_agency.sync_detailed(agency_id, client=client)
    if deleted.status_code != 204:
        fail(f"deleting agency {agency_id}: {deleted.status_code} {deleted.content!r}")
    deadline = time.monotonic() + 30
    tombstone = None
    while tombstone is None and time.monotonic() < deadline:
        events, cursor = drain(cursor)
        for e in events:
            if e.resource_id == agency_id and e.action == ChangeAction.DELETED:
                tombstone = e
        if tombstone is None:
            time.sleep(0.2)
    if tombstone is None:
        fail(f"no tombstone for agency {agency_id} in the change feed")
    if tombstone.data is not None and not isinstance(tombstone.data, Unset):
        fail(f"a tombstone carries no data: {tombstone.to_dict()}")
    print(f"agency {agency_id} deleted: tombstone {tombstone.id} in the change feed")


if __name__ == "__main__":
    main()
