//! The change feed: every write of every resource type is one event, deletions are
//! tombstones, readers see what the resources let them see, and a reader paging with the
//! cursor never skips an event while writers commit out of order.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use ogsms::auth::policy::Role;
use ogsms::seed::demo_id;
use serde_json::{Value, json};

use crate::common::TestApp;

/// Reads the feed from `cursor` until `has_more` is false; returns the events and the
/// cursor to read on from.
async fn drain(
    app: &TestApp,
    auth: &str,
    cursor: Option<&str>,
    extra: &str,
) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let mut url = format!("/v1/changes?limit=7{extra}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let res = app.get_with(&url, &[("authorization", auth)]).await;
        assert_eq!(res.status, 200, "{url}: {}", res.text());
        let body = res.json();
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        let next = body["next_cursor"].as_str().unwrap().to_owned();
        cursor = Some(next.clone());
        if !body["has_more"].as_bool().unwrap() {
            assert!(res.header("link").is_none());
            return (items, next);
        }
        assert!(res.header("link").unwrap().contains("rel=\"next\""));
    }
}

/// Reads the feed until `done` holds for what was read (other tests' transactions on the
/// same server may hold the feed's horizon back for a moment).
async fn settle(
    app: &TestApp,
    auth: &str,
    extra: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (items, _) = drain(app, auth, None, extra).await;
        if done(&items) || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bearer(
    app: &TestApp,
    role: Role,
    office: Option<uuid::Uuid>,
    dept: Option<uuid::Uuid>,
) -> String {
    format!("Bearer {}", app.token(role, office, dept))
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let res = app.post(path, body).await;
    assert!(res.status.is_success(), "{path}: {}", res.text());
    res.json()
}

async fn patched(app: &TestApp, path: &str, body: &Value) -> Value {
    let etag = app.get(path).await.header("etag").unwrap();
    let res = app.patch(path, Some(&etag), body).await;
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.json()
}

async fn deleted(app: &TestApp, path: &str) {
    let res = app
        .request(actix_web::http::Method::DELETE, path, &[], None)
        .await;
    assert_eq!(res.status, 204, "{path}: {}", res.text());
}

fn project_body(code: &str, office: uuid::Uuid, dept: uuid::Uuid) -> Value {
    json!({
        "code": code,
        "title": {"en": format!("Project {code}")},
        "office_id": office,
        "department_id": dept,
        "pillar": "democracy",
        "starts_on": "2026-01-01",
        "budget": {"amount": "1000.00", "currency": "USD"},
        "funding_source": "regular_fund"
    })
}

fn mandate_body(n: u32) -> Value {
    json!({
        "reference": format!("AG/RES. {} (LII-O/22)", 7000 + n),
        "adopted_on": "2022-10-07",
        "pillar": "democracy",
        "title": {"en": format!("Mandate {n}")}
    })
}

fn agency_body(n: u32) -> Value {
    json!({
        "name": {"es": format!("Agencia {n}")},
        "member_state": "PE",
        "kind": "ngo",
        "registration_number": format!("RUC-F{n}")
    })
}

#[actix_web::test]
async fn every_resource_type_emits_its_changes_and_readers_see_what_the_resources_show() {
    let app = TestApp::demo().await;
    let pe = demo_id("office", "OGSMS-PE");
    let co = demo_id("office", "OGSMS-CO");
    let deco = demo_id("department", "DECO");
    let sare = demo_id("department", "SARE");

    // Reference data, offices and appointments.
    let dept = created(
        &app,
        "/v1/departments",
        &json!({"code": "FEED", "kind": "secretariat", "name": {"en": "Feed"}}),
    )
    .await;
    patched(
        &app,
        &format!("/v1/departments/{}", dept["id"].as_str().unwrap()),
        &json!({"name": {"en": "Feed renamed"}}),
    )
    .await;
    let office = created(&app, "/v1/offices", &crate::common::new_office("FD", "PE")).await;
    let office_id = office["id"].as_str().unwrap().to_owned();
    patched(
        &app,
        &format!("/v1/offices/{office_id}"),
        &json!({"city": "Cusco"}),
    )
    .await;
    created(
        &app,
        &format!("/v1/offices/{pe}/appointments"),
        &json!({"person_name": "Staff", "email": "staff@oas.org", "position": "staff", "starts_on": "2025-01-01"}),
    )
    .await;
    // Mandates, assignments, agencies: one of each deleted.
    let mandate = created(&app, "/v1/mandates", &mandate_body(1)).await;
    let mandate_id = mandate["id"].as_str().unwrap().to_owned();
    created(
        &app,
        &format!("/v1/mandates/{mandate_id}/assignments"),
        &json!({"office_id": pe, "due_on": "2030-12-31"}),
    )
    .await;
    let gone_mandate = created(&app, "/v1/mandates", &mandate_body(2)).await;
    let gone_mandate_id = gone_mandate["id"].as_str().unwrap().to_owned();
    deleted(&app, &format!("/v1/mandates/{gone_mandate_id}")).await;
    let agency = created(&app, "/v1/executing-agencies", &agency_body(1)).await;
    let agency_id = agency["id"].as_str().unwrap().to_owned();
    deleted(&app, &format!("/v1/executing-agencies/{agency_id}")).await;
    // Projects (one per office and department), a report, a deleted project.
    let project = created(&app, "/v1/projects", &project_body("FD-1", pe, deco)).await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let other_project = created(&app, "/v1/projects", &project_body("FD-2", pe, sare)).await;
    created(
        &app,
        &format!("/v1/projects/{project_id}/monitoring-reports"),
        &json!({"period": "2026-01", "physical_progress": 10, "risk_level": "low", "narrative": {"en": "Started"}}),
    )
    .await;
    let doomed = created(&app, "/v1/projects", &project_body("FD-3", co, deco)).await;
    let doomed_id = doomed["id"].as_str().unwrap().to_owned();
    deleted(&app, &format!("/v1/projects/{doomed_id}")).await;
    // Finance: a ledger in each of two offices, entries, a closing; a rate.
    let mut ledgers = HashMap::new();
    for (office, fund_code) in [(pe, "AG-F1"), (co, "AG-F2")] {
        let ledger = created(
            &app,
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "specific_fund", "fund_code": fund_code}),
        )
        .await;
        let id = ledger["id"].as_str().unwrap().to_owned();
        created(
            &app,
            &format!("/v1/ledgers/{id}/entries"),
            &json!({"kind": "allocation", "entry_date": "2026-06-01", "description": "Budget", "amount": {"amount": "1000.00", "currency": "USD"}}),
        )
        .await;
        ledgers.insert(office, id);
    }
    let pe_ledger = ledgers[&pe].clone();
    let deco_expense = created(
        &app,
        &format!("/v1/ledgers/{pe_ledger}/entries"),
        &json!({"kind": "expense", "category": "travel", "entry_date": "2026-06-15", "description": "Airfare", "project_id": project_id, "amount": {"amount": "10.00", "currency": "USD"}}),
    )
    .await;
    created(
        &app,
        &format!("/v1/ledgers/{pe_ledger}/entries"),
        &json!({"kind": "expense", "category": "travel", "entry_date": "2026-06-15", "description": "Airfare", "project_id": other_project["id"], "amount": {"amount": "5.00", "currency": "USD"}}),
    )
    .await;
    created(
        &app,
        &format!("/v1/ledgers/{pe_ledger}/closings"),
        &json!({"closed_through": "2026-01-31"}),
    )
    .await;
    created(
        &app,
        "/v1/exchange-rates",
        &json!({"currency": "PEN", "effective_on": "2026-01-02", "rate": "0.2671"}),
    )
    .await;
    // A service account, made at the command line.
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    ogsms::resources::service_accounts::create(
        &mut conn,
        &ogsms::db::audit::Actor::cli(),
        "feed-bot",
        "Feed bot",
        Role::Viewer,
        None,
        None,
    )
    .await
    .unwrap();
    // A webhook subscription.
    created(
        &app,
        "/v1/webhooks",
        &json!({"url": "https://hooks.example.org/feed"}),
    )
    .await;
    let audited: usize = app
        .db
        .scalar(
            "SELECT count(*) FROM audit_events WHERE action NOT IN ('token.issue', 'token.revoke')",
        )
        .parse()
        .unwrap();

    let coordinator = bearer(&app, Role::Coordinator, None, None);
    let all = settle(&app, &coordinator, "", |items| items.len() >= audited).await;
    assert_eq!(all.len(), audited, "one event per audited write");
    let types: BTreeSet<&str> = all
        .iter()
        .map(|e| e["resource_type"].as_str().unwrap())
        .collect();
    // The offices' own records (assets, memoranda, accomplishments) have their test
    // below: office_records_in_the_feed_are_seen_only_by_those_who_see_the_records.
    use ogsms::resources::changes::{ACCOMPLISHMENT_TYPES, ASSET_TYPES, MEMORANDUM_TYPES};
    let expected: BTreeSet<&str> = ogsms::resources::changes::RESOURCE_TYPES
        .iter()
        .copied()
        .filter(|t| {
            ![ASSET_TYPES, MEMORANDUM_TYPES, ACCOMPLISHMENT_TYPES]
                .concat()
                .contains(t)
        })
        .collect();
    assert_eq!(types, expected);
    // Distinct ids, and in order of their cursors.
    let ids: BTreeSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
    // Tombstones: the deleted mandate, agency and project.
    for (kind, id) in [
        ("mandate", &gone_mandate_id),
        ("executing_agency", &agency_id),
        ("project", &doomed_id),
    ] {
        let events: Vec<&Value> = all
            .iter()
            .filter(|e| e["resource_type"] == kind && e["resource_id"] == id.as_str())
            .collect();
        assert_eq!(events.first().unwrap()["action"], "created");
        let last = events.last().unwrap();
        assert_eq!(last["action"], "deleted", "{kind}");
        assert!(last["data"].is_null(), "a tombstone carries no data");
    }
    // Updates carry the representation after the change; offices name themselves.
    let office_events: Vec<&Value> = all
        .iter()
        .filter(|e| e["resource_id"] == office_id.as_str())
        .collect();
    assert_eq!(office_events[1]["action"], "updated");
    assert_eq!(office_events[1]["data"]["city"], "Cusco");
    assert_eq!(office_events[1]["office_id"], office_id.as_str());
    assert_eq!(office_events[1]["actor"]["role"], "coordinator");
    let entry = all
        .iter()
        .find(|e| e["resource_id"] == deco_expense["id"])
        .unwrap();
    assert_eq!(entry["office_id"], pe.to_string());
    assert_eq!(entry["data"]["amount"]["amount"], "10.00");
    let closing = all
        .iter()
        .find(|e| e["resource_type"] == "ledger_closing")
        .unwrap();
    assert_eq!(closing["data"]["ledger_id"], pe_ledger.as_str());
    assert_eq!(closing["office_id"], pe.to_string());

    // Filters.
    let (projects, _) = drain(&app, &coordinator, None, "&resource_type=project").await;
    assert_eq!(projects.len(), 4);
    assert!(projects.iter().all(|e| e["resource_type"] == "project"));
    let (of_co, _) = drain(&app, &coordinator, None, &format!("&office_id={co}")).await;
    assert!(!of_co.is_empty());
    assert!(of_co.iter().all(|e| e["office_id"] == co.to_string()));
    let (deletions, _) = drain(&app, &coordinator, None, "&action=deleted").await;
    assert_eq!(deletions.len(), 3);

    // Visibility as on the resources.
    let count =
        |items: &[Value], kind: &str| items.iter().filter(|e| e["resource_type"] == kind).count();
    let (auditor, _) = drain(&app, &bearer(&app, Role::Auditor, None, None), None, "").await;
    assert_eq!(auditor.len(), all.len());
    let (viewer, _) = drain(&app, &bearer(&app, Role::Viewer, None, None), None, "").await;
    for kind in [
        "ledger",
        "ledger_entry",
        "ledger_closing",
        "service_account",
    ] {
        assert_eq!(count(&viewer, kind), 0, "viewer sees no {kind}");
    }
    assert_eq!(count(&viewer, "project"), 4);
    assert_eq!(count(&viewer, "office"), 2);
    let rep = bearer(&app, Role::Representative, Some(pe), None);
    let (rep_items, _) = drain(&app, &rep, None, "").await;
    assert_eq!(count(&rep_items, "service_account"), 0);
    for kind in ["ledger", "ledger_entry", "ledger_closing"] {
        assert!(count(&rep_items, kind) > 0, "{kind}");
        assert!(
            rep_items
                .iter()
                .filter(|e| e["resource_type"] == kind)
                .all(|e| e["office_id"] == pe.to_string()),
            "a representative sees only the own office's {kind}"
        );
    }
    let co_rep = bearer(&app, Role::OfficeStaff, Some(co), None);
    let (co_items, _) = drain(&app, &co_rep, None, "&resource_type=ledger,ledger_entry").await;
    assert_eq!(co_items.len(), 2, "CO's ledger and its allocation");
    let dept_token = bearer(&app, Role::HqDepartment, None, Some(deco));
    let (dept_items, _) = drain(&app, &dept_token, None, "").await;
    let dept_entries: Vec<&Value> = dept_items
        .iter()
        .filter(|e| e["resource_type"] == "ledger_entry")
        .collect();
    assert_eq!(dept_entries.len(), 1, "only the entry of DECO's project");
    assert_eq!(dept_entries[0]["resource_id"], deco_expense["id"]);
    assert_eq!(count(&dept_items, "ledger"), 0);
}

#[actix_web::test]
async fn a_deletion_appears_as_a_tombstone_after_the_cursor_kept_by_a_reader() {
    let app = TestApp::demo().await;
    let coordinator = bearer(&app, Role::Coordinator, None, None);
    let agency = created(&app, "/v1/executing-agencies", &agency_body(9)).await;
    let id = agency["id"].as_str().unwrap().to_owned();
    let items = settle(&app, &coordinator, "", |items| {
        items.iter().any(|e| e["resource_id"] == id.as_str())
    })
    .await;
    assert_eq!(items.len(), 1);
    let (_, cursor) = drain(&app, &coordinator, None, "").await;
    // Nothing new: no events, and a cursor that reads on from where the feed is settled
    // (it may move on past other databases' transactions, never back).
    let (none, next) = drain(&app, &coordinator, Some(&cursor), "").await;
    assert!(none.is_empty());
    let (none, _) = drain(&app, &coordinator, Some(&next), "").await;
    assert!(none.is_empty());
    let cursor = next;
    deleted(&app, &format!("/v1/executing-agencies/{id}")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let (after, _) = drain(&app, &coordinator, Some(&cursor), "").await;
        if !after.is_empty() || Instant::now() > deadline {
            break after;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["action"], "deleted");
    assert_eq!(after[0]["resource_id"], id.as_str());
    assert!(after[0]["data"].is_null());
    // A refused write (a duplicate) and a rolled-back transaction leave no event.
    let res = app.post("/v1/executing-agencies", &agency_body(10)).await;
    assert_eq!(res.status, 201);
    let dup = app.post("/v1/executing-agencies", &agency_body(10)).await;
    assert_eq!(dup.status, 409, "{}", dup.text());
    app.db
        .execute(
            "BEGIN; INSERT INTO audit_events (id, actor_sub, actor_role, action, resource_type, resource_id, after) \
             VALUES (gen_random_uuid(), 'x', 'coordinator', 'create', 'executing_agency', 'rolled-back', '{}'); ROLLBACK;",
        )
        .unwrap();
    let all = settle(&app, &coordinator, "", |items| items.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (all_again, _) = drain(&app, &coordinator, None, "").await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all_again.len(), 3);
    assert!(all_again.iter().all(|e| e["resource_id"] != "rolled-back"));
}

const INSERT_EVENT: &str = "INSERT INTO audit_events (id, actor_sub, actor_role, action, resource_type, resource_id, after) \
     VALUES (gen_random_uuid(), 'writer', 'coordinator', 'create', 'executing_agency', '{id}', '{}')";

#[actix_web::test]
async fn a_reader_never_skips_a_change_of_a_transaction_that_commits_late() {
    let app = TestApp::new().await;
    let coordinator = bearer(&app, Role::Coordinator, None, None);
    let (_, start) = drain(&app, &coordinator, None, "").await;

    // T1 writes first, T2 second; T2 commits, then T1: reverse order of their start.
    let mut t1 = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let mut t2 = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    t1.batch_execute(&format!("BEGIN; {}", INSERT_EVENT.replace("{id}", "t1")))
        .await
        .unwrap();
    t2.batch_execute(&format!(
        "BEGIN; {}; COMMIT",
        INSERT_EVENT.replace("{id}", "t2")
    ))
    .await
    .unwrap();
    // T2 is committed but T1, older, is still running: the feed holds T2 back, so that a
    // reader's cursor cannot pass T1's position.
    let (seen, cursor) = drain(&app, &coordinator, Some(&start), "").await;
    assert!(seen.is_empty(), "{seen:?}");
    t1.batch_execute("COMMIT").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    let mut cursor = cursor;
    while got.len() < 2 && Instant::now() < deadline {
        let (items, next) = drain(&app, &coordinator, Some(&cursor), "").await;
        got.extend(items);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids: Vec<&str> = got
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t1", "t2"], "in the order the transactions wrote");
}

#[actix_web::test]
async fn readers_paging_during_many_out_of_order_commits_get_every_event_once() {
    let app = TestApp::new().await;
    let coordinator = bearer(&app, Role::Coordinator, None, None);
    const WRITERS: usize = 12;
    // Writer i starts (writes) i × 10 ms after the first and commits after
    // (WRITERS - i) × 25 ms: the later a writer starts, the earlier it commits.
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        let url = app.db.url.clone();
        writers.push(tokio::spawn(async move {
            let mut c = AsyncPgConnection::establish(&url).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            c.batch_execute(&format!(
                "BEGIN; {}",
                INSERT_EVENT.replace("{id}", &format!("w{i}"))
            ))
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(25 * (WRITERS - i) as u64)).await;
            c.batch_execute("COMMIT").await.unwrap();
        }));
    }
    // A reader pages with the cursor all the while, one event at a time.
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < WRITERS && Instant::now() < deadline {
        let mut url = "/v1/changes?limit=1".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let res = app.get_with(&url, &[("authorization", &coordinator)]).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let body = res.json();
        for e in body["items"].as_array().unwrap() {
            seen.push(e["resource_id"].as_str().unwrap().to_owned());
        }
        cursor = Some(body["next_cursor"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice: {seen:?}");
    assert_eq!(seen.len(), WRITERS, "no event skipped: {seen:?}");
}

#[actix_web::test]
async fn a_cursor_older_than_the_retention_is_gone_and_bad_cursors_are_400() {
    let app = TestApp::new().await;
    let coordinator = bearer(&app, Role::Coordinator, None, None);
    for i in 0..3 {
        app.db
            .execute(&INSERT_EVENT.replace("{id}", &format!("r{i}")))
            .unwrap();
    }
    let items = settle(&app, &coordinator, "", |items| items.len() >= 3).await;
    assert_eq!(items.len(), 3);
    let first_cursor = items[0]["cursor"].as_str().unwrap().to_owned();
    // From an event's cursor: the events after it.
    let (rest, _) = drain(&app, &coordinator, Some(&first_cursor), "").await;
    assert_eq!(rest.len(), 2);
    // The first two age past the retention and are purged.
    app.db
        .execute(
            "UPDATE change_events SET occurred_at = now() - interval '100 days' \
             WHERE resource_id IN ('r0', 'r1')",
        )
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let purged =
        ogsms::resources::changes::purge(&mut conn, ogsms::resources::changes::retention())
            .await
            .unwrap();
    assert_eq!(purged, 2);
    let res = app
        .get_with(
            &format!("/v1/changes?cursor={first_cursor}"),
            &[("authorization", &coordinator), ("accept-language", "es")],
        )
        .await;
    let problem = res.problem(410, "cursor-expired");
    assert!(problem["detail"].as_str().unwrap().contains("cursor"));
    // Without a cursor the feed starts at what it keeps.
    let (kept, _) = drain(&app, &coordinator, None, "").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["resource_id"], "r2");
    // The second event's cursor is the purge's last position: still readable.
    let second = items[1]["cursor"].as_str().unwrap();
    let (after_second, _) = drain(&app, &coordinator, Some(second), "").await;
    assert_eq!(after_second.len(), 1);

    for bad in ["nonsense", "YzEuMS4y%21", "YzIuMS4y", ""] {
        let res = app
            .get_with(
                &format!("/v1/changes?cursor={bad}"),
                &[("authorization", &coordinator)],
            )
            .await;
        res.problem(400, "invalid-parameter");
    }
    for (param, value) in [
        ("resource_type", "Project"),
        ("office_id", "not-a-uuid"),
        ("action", "removed"),
        ("limit", "x"),
    ] {
        let res = app
            .get_with(
                &format!("/v1/changes?{param}={value}"),
                &[("authorization", &coordinator)],
            )
            .await;
        res.problem(400, "invalid-parameter");
        assert_eq!(res.problem_fields(), [param]);
    }
}

/// Assets, memoranda and unpublished accomplishments are not everyone's: the feed shows
/// their events only to those who see them at their own endpoints.
#[actix_web::test]
async fn office_records_in_the_feed_are_seen_only_by_those_who_see_the_records() {
    let app = TestApp::new().await;
    let office = |code: &'static str, state: &'static str| {
        let app = &app;
        async move {
            let res = app
                .post("/v1/offices", &crate::common::new_office(code, state))
                .await;
            assert_eq!(res.status, 201, "{}", res.text());
            res.json()["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()
        }
    };
    let pe = office("OGSMS-FP", "PE").await;
    let co = office("OGSMS-FC", "CO").await;
    let asset = created(
        &app,
        &format!("/v1/offices/{pe}/assets"),
        &json!({"tag_number": "FEED-1", "category": "furniture", "description": "Desk",
                "acquired_on": "2025-01-01", "cost": {"amount": "250.00", "currency": "USD"}}),
    )
    .await;
    let memo = created(
        &app,
        "/v1/memoranda",
        &json!({"number": "FEED/1", "title": {"en": "Count"}, "text": {"en": "Count."},
                "issued_on": "2026-01-10", "applies_to_all": false, "office_ids": [pe]}),
    )
    .await;
    let item = created(
        &app,
        "/v1/accomplishments",
        &json!({"office_id": pe, "occurred_on": "2026-06-01", "kind": "event",
                "title": {"en": "Fair"}, "text": {"en": "It happened."}}),
    )
    .await;
    created(
        &app,
        &format!("/v1/offices/{pe}/asset-counts"),
        &json!({"counted_on": "2026-01-15"}),
    )
    .await;
    let rep_pe = bearer(&app, Role::Representative, Some(pe), None);
    let res = app
        .request(
            actix_web::http::Method::POST,
            &format!(
                "/v1/memoranda/{}/offices/{pe}/acknowledgement",
                memo["id"].as_str().unwrap()
            ),
            &[("authorization", rep_pe.as_str())],
            None,
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    created(
        &app,
        &format!(
            "/v1/offices/{pe}/assets/{}/transfers",
            asset["id"].as_str().unwrap()
        ),
        &json!({"to_office_id": co, "transferred_on": "2025-06-01", "reason": "Loan"}),
    )
    .await;
    let coordinator = bearer(&app, Role::Coordinator, None, None);
    let all = settle(&app, &coordinator, "", |items| {
        items.iter().any(|e| e["resource_type"] == "asset_transfer")
    })
    .await;
    let count =
        |items: &[Value], kind: &str| items.iter().filter(|e| e["resource_type"] == kind).count();
    for kind in [
        "asset",
        "asset_transfer",
        "asset_count",
        "memorandum",
        "memorandum_response",
        "accomplishment",
    ] {
        assert!(
            count(&all, kind) > 0,
            "the coordinator sees the {kind}: {all:?}"
        );
    }
    let read = |role: Role, office: Option<uuid::Uuid>| {
        let dept = (role == Role::HqDepartment).then(uuid::Uuid::now_v7);
        let token = bearer(&app, role, office, dept);
        let app = &app;
        async move { drain(app, &token, None, "").await.0 }
    };
    let auditor = read(Role::Auditor, None).await;
    assert_eq!(auditor.len(), all.len());
    let own = read(Role::Representative, Some(pe)).await;
    let other = read(Role::OfficeStaff, Some(co)).await;
    let viewer = read(Role::Viewer, None).await;
    let dept = read(Role::HqDepartment, None).await;
    // The asset's own events follow it: the receiving office sees the one of its
    // arrival, the sending office those from before; the transfer itself names two
    // offices, so only the Coordinating Office and auditors see it.
    assert_eq!(count(&own, "asset_transfer"), 0);
    assert_eq!(count(&other, "asset_transfer"), 0);
    assert!(
        count(&other, "asset") > 0,
        "the receiving office sees the asset arrive"
    );
    assert_eq!(count(&own, "asset_count"), 1);
    assert_eq!(count(&own, "memorandum_response"), 1);
    assert_eq!(count(&other, "memorandum_response"), 0);
    for kind in ["asset", "memorandum", "accomplishment"] {
        assert!(count(&own, kind) > 0, "the office sees its {kind}");
        assert_eq!(count(&viewer, "asset_count"), 0);
        if kind != "asset" {
            assert_eq!(count(&other, kind), 0, "another office sees no {kind}");
        }
        assert_eq!(count(&viewer, kind), 0, "a viewer sees no {kind}");
        assert_eq!(count(&dept, kind), 0, "an HQ department sees no {kind}");
    }
    // Once published, the item's events from then on are everyone's.
    let id = item["id"].as_str().unwrap();
    for action in ["submit", "publish"] {
        let res = app
            .post(&format!("/v1/accomplishments/{id}/{action}"), &json!({}))
            .await;
        assert!(res.status.is_success(), "{action}: {}", res.text());
    }
    let viewer = settle(
        &app,
        &bearer(&app, Role::Viewer, None, None),
        "&resource_type=accomplishment",
        |items| !items.is_empty(),
    )
    .await;
    assert_eq!(viewer.len(), 1, "only the publication: {viewer:?}");
    assert_eq!(viewer[0]["data"]["status"], "published");
}
