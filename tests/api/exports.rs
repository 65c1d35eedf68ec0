//! Exports: whole filtered sets streamed as NDJSON or CSV, with the lists' filters and
//! visibility, in a stable order that resumes with `updated_since`.

use futures_util::StreamExt;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Options, Resp, TestApp, TestDb};
use crate::csv::{Table, bearer, books, csv_of};

fn ndjson(res: &Resp) -> Vec<Value> {
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/x-ndjson")
    );
    let text = res.text();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Adds `n` audit events of about 1.3 kB each, straight into the table.
fn bulk_audit_events(app: &TestApp, n: usize) {
    app.db
        .execute(&format!(
            "INSERT INTO audit_events (id, occurred_at, actor_sub, actor_role, action, resource_type, \
             resource_id, after) SELECT gen_random_uuid(), clock_timestamp(), 'bulk', 'coordinator', \
             'update', 'office', g::text, jsonb_build_object('n', g, 'pad', repeat('x', 1200)) \
             FROM generate_series(1, {n}) g"
        ))
        .unwrap();
}

fn open_exports(app: &TestApp) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ogsms-export' \
             AND datname = current_database()",
        )
        .parse()
        .unwrap()
}

/// Streams an export, checking each line as it comes; returns the lines' count and the
/// bytes. (The service's memory while it streams is measured in its own process, in
/// `crate::service`.)
async fn stream_lines(app: &TestApp, path: &str) -> (usize, usize) {
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .finish();
    let token = bearer(app.token(Role::Auditor, None, None));
    let mut res = client
        .get(format!("{}{path}", app.base))
        .insert_header(("authorization", token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    assert!(res.headers().contains_key("x-sync-watermark"));
    let (mut lines, mut bytes) = (0usize, 0usize);
    let mut partial = Vec::new();
    let mut last: Option<(String, String)> = None;
    let mut first = true;
    while let Some(chunk) = res.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        partial.extend_from_slice(&chunk);
        while let Some(i) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=i).collect();
            let v: Value = serde_json::from_slice(&line).unwrap();
            let key = (
                v["occurred_at"].as_str().unwrap().to_owned(),
                v["id"].as_str().unwrap().to_owned(),
            );
            if let Some(prev) = &last {
                // RFC 3339 UTC with the same precision sorts as text.
                assert!(
                    chrono::DateTime::parse_from_rfc3339(&prev.0).unwrap()
                        < chrono::DateTime::parse_from_rfc3339(&key.0).unwrap()
                        || (prev.0 == key.0 && prev.1 < key.1),
                    "order: {prev:?} then {key:?}"
                );
            }
            last = Some(key);
            lines += 1;
        }
        if first {
            // The first rows are here while the export's transaction still reads: the
            // rows are streamed, not collected first.
            first = false;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert_eq!(open_exports(app), 1, "the export still reads");
        }
    }
    assert!(partial.is_empty(), "the last line ends with a newline");
    (lines, bytes)
}

#[actix_web::test]
async fn ndjson_export_of_20k_audit_events_streams_in_order() {
    let app = TestApp::demo().await;
    bulk_audit_events(&app, 20_000);
    let total: usize = app
        .db
        .scalar("SELECT count(*) FROM audit_events")
        .parse()
        .unwrap();
    let (lines, bytes) = stream_lines(&app, "/v1/exports/audit-events").await;
    assert_eq!(lines, total);
    assert!(bytes > 20_000_000, "{bytes} bytes");
    // The transaction is gone once the export is read.
    for _ in 0..50 {
        if open_exports(&app) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(open_exports(&app), 0);

    // Filters of the audit trail apply.
    let res = app
        .get("/v1/exports/audit-events?resource_id=7&resource_type=office&actor=bulk")
        .await;
    let rows = ndjson(&res);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["after"]["n"], 7);
    let res = app
        .get("/v1/exports/audit-events?resource_id=7&format=csv")
        .await;
    let t = csv_of(&res);
    assert_eq!(t.rows.len(), 1);
    assert_eq!(t.get(&t.rows[0], "actor_sub"), "bulk");
    assert!(
        res.header("content-disposition")
            .unwrap()
            .contains("audit-events-")
    );
}

#[actix_web::test]
async fn entry_export_spans_the_ledgers_the_caller_sees() {
    let app = TestApp::demo().await;
    let b = books(&app).await;
    let pe = b.pe.parse().unwrap();
    let co = b.co.parse().unwrap();
    let who = [
        (
            "coordinator",
            bearer(app.token(Role::Coordinator, None, None)),
            4,
        ),
        ("auditor", bearer(app.token(Role::Auditor, None, None)), 4),
        (
            "rep PE",
            bearer(app.token(Role::Representative, Some(pe), None)),
            2,
        ),
        (
            "staff CO",
            bearer(app.token(Role::OfficeStaff, Some(co), None)),
            2,
        ),
        // Only the expense tagged to its project.
        (
            "hq DECO",
            bearer(app.token(Role::HqDepartment, None, Some(b.deco.parse().unwrap()))),
            1,
        ),
        ("viewer", bearer(app.token(Role::Viewer, None, None)), 0),
    ];
    for (name, auth, n) in &who {
        let rows = ndjson(
            &app.get_with("/v1/exports/ledger-entries", &[("authorization", auth)])
                .await,
        );
        assert_eq!(rows.len(), *n, "{name}");
        let t = csv_of(
            &app.get_with(
                "/v1/exports/ledger-entries?format=csv",
                &[("authorization", auth)],
            )
            .await,
        );
        assert_eq!(t.rows.len(), *n, "{name}");
        if *name == "rep PE" {
            assert!(t.column("office_code").iter().all(|c| c == "OGSMS-PE"));
        }
        if *name == "hq DECO" {
            assert_eq!(t.column("project_code"), ["PE-DEM-01"]);
        }
    }
    // Every entry carries its ledger's context in CSV, labels in the caller's language.
    let res = app
        .get_with(
            "/v1/exports/ledger-entries",
            &[("accept", "text/csv"), ("accept-language", "es")],
        )
        .await;
    let t = csv_of(&res);
    assert_eq!(res.header("content-language").as_deref(), Some("es"));
    let expense = t
        .rows
        .iter()
        .find(|r| t.get(r, "kind") == "expense" && t.get(r, "office_code") == "OGSMS-CO")
        .unwrap();
    assert_eq!(t.get(expense, "ledger_id"), b.ledger_co);
    assert_eq!(t.get(expense, "ledger_fund_label"), "Fondo Regular");
    assert_eq!(t.get(expense, "ledger_fiscal_year"), "2026");
    assert_eq!(t.get(expense, "project_id"), b.project_co);
    assert_eq!(t.get(expense, "project_code"), "CO-DEM-01");
    assert_eq!(t.get(expense, "amount"), "250.75");
    assert_eq!(t.get(expense, "kind_label"), "Gasto");

    // The filters.
    for (query, n) in [
        ("kind=expense", 2),
        (&format!("office_id={}", b.co) as &str, 2),
        (&format!("ledger_id={}", b.ledger_pe), 2),
        (&format!("project_id={}", b.project_pe), 1),
        ("fiscal_year=2026", 4),
        ("fiscal_year=2025", 0),
        ("posted_from=2026-03-01", 2),
        ("posted_to=2026-02-28", 2),
        ("category=travel&kind=expense", 2),
        ("category=rent", 0),
    ] {
        let rows = ndjson(
            &app.get(&format!("/v1/exports/ledger-entries?{query}"))
                .await,
        );
        assert_eq!(rows.len(), n, "{query}");
    }
    // Bad filters are a 400 problem, not a broken download.
    for (query, field) in [
        ("kind=gift", "kind"),
        ("fiscal_year=next", "fiscal_year"),
        ("ledger_id=nope", "ledger_id"),
        ("format=json", "format"),
        ("limit=5", "limit"),
    ] {
        let res = app
            .get(&format!("/v1/exports/ledger-entries?{query}"))
            .await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{query}");
    }
}

/// An export of several batches (3,500 entries, four batches) reads a parent once, not
/// once a batch, yet every row, in every batch, carries its own ledger's and project's
/// context, in the export's order.
#[actix_web::test]
async fn a_many_batch_entry_export_gives_every_row_its_parents() {
    let db = TestDb::new();
    ogsms::seed::scale(&db.url, 100).await.expect("scale load");
    ogsms::seed::entries(&db.url, 3500).await.expect("entries");
    let app = TestApp::with(Options {
        url_override: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    let columns = [
        "id",
        "office_code",
        "ledger_fund",
        "ledger_fiscal_year",
        "project_code",
    ];
    let expected = db.scalar(
        "SELECT string_agg(concat_ws('|', e.id, o.code, l.fund, l.fiscal_year, \
         coalesce(p.code, '')), E'\\n' ORDER BY e.created_at, e.id) \
         FROM ledger_entries e JOIN ledgers l ON l.id = e.ledger_id \
         JOIN offices o ON o.id = l.office_id LEFT JOIN projects p ON p.id = e.project_id",
    );
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), 3500);
    let tagged = db.scalar("SELECT count(DISTINCT project_id) FROM ledger_entries");
    assert!(
        tagged.parse::<i64>().unwrap() > 10,
        "projects to look up: {tagged}"
    );
    let t = csv_of(&app.get("/v1/exports/ledger-entries?format=csv").await);
    assert_eq!(t.rows.len(), expected.len());
    for (i, (row, want)) in t.rows.iter().zip(&expected).enumerate() {
        let got = columns.map(|c| t.get(row, c).to_string()).join("|");
        assert_eq!(&got, want, "row {i}");
    }
}

#[actix_web::test]
async fn project_export_matches_the_list_and_resumes_with_updated_since() {
    let app = TestApp::demo().await;
    let b = books(&app).await;
    let deco = &b.deco;
    for i in 0..25 {
        let res = app
            .post(
                "/v1/projects",
                &json!({"code": format!("PE-X-{i:02}"), "title": {"en": format!("Project {i}")},
                        "office_id": b.pe, "department_id": deco, "pillar": "human_rights",
                        "starts_on": "2026-01-01", "budget": {"amount": "10.00", "currency": "USD"},
                        "funding_source": "regular_fund"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let rows = ndjson(&app.get("/v1/exports/projects").await);
    let listed = app.collect("/v1/projects?limit=500").await;
    assert_eq!(rows.len(), listed.len());
    let mut ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut listed_ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort();
    listed_ids.sort();
    assert_eq!(ids, listed_ids);
    // The same representation as the list.
    let one = listed.iter().find(|p| p["code"] == "PE-DEM-01").unwrap();
    assert!(rows.contains(one));
    // Ordered by (updated_at, id): resume after the 10th with updated_since.
    let key = |r: &Value| {
        (
            chrono::DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap()).unwrap(),
            r["id"].as_str().unwrap().to_owned(),
        )
    };
    assert!(rows.windows(2).all(|w| key(&w[0]) < key(&w[1])));
    let since = rows[9]["updated_at"].as_str().unwrap();
    let url = format!(
        "/v1/exports/projects?updated_since={}",
        percent_encoding::utf8_percent_encode(since, percent_encoding::NON_ALPHANUMERIC)
    );
    let rest = ndjson(&app.get(&url).await);
    assert_eq!(rest, rows[9..].to_vec());
    // Filters of the list.
    let rows = ndjson(&app.get("/v1/exports/projects?pillar=democracy").await);
    assert_eq!(rows.len(), 2);
    let rows = ndjson(
        &app.get(&format!("/v1/exports/projects?office_id={}&q=dem", b.co))
            .await,
    );
    assert_eq!(rows.len(), 1);
    // CSV: the columns of the list's CSV.
    let list = csv_of(&app.get("/v1/projects?format=csv").await);
    let export = csv_of(&app.get("/v1/exports/projects?format=csv&bom=true").await);
    assert_eq!(export.header, list.header);
    assert_eq!(export.rows.len(), 27);
    let res = app.get("/v1/exports/projects?format=csv&bom=true").await;
    assert!(res.body.starts_with(b"\xEF\xBB\xBFid,"));
    let _ = Table::parse(&res.body);
}

#[actix_web::test]
async fn audit_export_is_for_auditors_and_the_coordinator() {
    let app = TestApp::demo().await;
    let pe = Some(ogsms::seed::demo_id("office", "OGSMS-PE"));
    let deco = Some(ogsms::seed::demo_id("department", "DECO"));
    for (role, office, department, status) in [
        (Role::Coordinator, None, None, 200),
        (Role::Auditor, None, None, 200),
        (Role::Viewer, None, None, 403),
        (Role::Representative, pe, None, 403),
        (Role::HqDepartment, None, deco, 403),
    ] {
        let res = app
            .get_with(
                "/v1/exports/audit-events",
                &[(
                    "authorization",
                    &bearer(app.token(role, office, department)),
                )],
            )
            .await;
        assert_eq!(res.status.as_u16(), status, "{role:?}: {}", res.text());
    }
    let res = app
        .get_with("/v1/exports/projects", &[("authorization", "none")])
        .await;
    res.problem(401, "unauthorized");
}

/// Exports beyond `MAX_CONCURRENT` at once are a 503 with `Retry-After`, and a slot
/// frees when an export ends: a download storm neither takes every pooled connection
/// nor starves the workers (and `/livez`).
#[actix_web::test]
async fn exports_beyond_the_concurrent_cap_are_503_with_retry_after() {
    let app = TestApp::new().await;
    let path = "/v1/exports/projects?format=ndjson";
    assert_eq!(app.get(path).await.status, 200);
    // Every slot taken, as by MAX_CONCURRENT long downloads.
    let held = app
        .state
        .exports
        .clone()
        .acquire_many_owned(ogsms::reports::exports::MAX_CONCURRENT as u32)
        .await
        .unwrap();
    // Bad filters are a 400 whatever is running: they take no slot.
    app.get("/v1/exports/ledger-entries?posted_from=null")
        .await
        .problem(400, "invalid-parameter");
    app.get("/v1/exports/projects?active_from=soon")
        .await
        .problem(400, "invalid-parameter");
    app.get("/v1/exports/audit-events?occurred_from=1")
        .await
        .problem(400, "invalid-parameter");
    // One more waits for a slot, SLOT_WAIT at most, then is a 503.
    let started = std::time::Instant::now();
    let res = app.get(path).await;
    res.problem(503, "service-unavailable");
    assert!(started.elapsed() >= ogsms::reports::exports::SLOT_WAIT);
    assert_eq!(res.header("retry-after").as_deref(), Some("5"));
    assert_eq!(app.get("/livez").await.status, 200);
    // A slot freed while it waits is its own.
    let (res, ()) = futures_util::join!(app.get(path), async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(held);
    });
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(app.get(path).await.status, 200);
    // A finished export gives its slot back: more than the cap, one after another.
    for _ in 0..=ogsms::reports::exports::MAX_CONCURRENT {
        assert_eq!(app.get(path).await.status, 200);
    }
    app.stop().await;
}

/// Downloads in progress hold connections of the exports' own pool (opened on the export
/// runtime): a request worker's pool, here of one connection, stays free for requests.
#[actix_web::test]
async fn running_exports_leave_the_request_pool_free() {
    let app = TestApp::with(Options {
        pool: Some(ogsms::db::PoolSettings {
            max_size: 1,
            wait_timeout: std::time::Duration::from_secs(1),
            ..Default::default()
        }),
        ..Options::default()
    })
    .await;
    // ~26 MB of events: more than the socket buffers and the two batches in flight, so
    // an export whose client does not read stays open.
    bulk_audit_events(&app, 20_000);
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    let token = bearer(app.token(Role::Auditor, None, None));
    let mut held = Vec::new();
    for _ in 0..ogsms::reports::exports::MAX_CONCURRENT {
        let res = client
            .get(format!("{}/v1/exports/audit-events", app.base))
            .insert_header(("authorization", token.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    assert_eq!(
        open_exports(&app),
        ogsms::reports::exports::MAX_CONCURRENT as i64,
        "every export still reads"
    );
    // Requests that need the database are answered meanwhile, one after another.
    for _ in 0..3 {
        let res = app.get("/v1/offices").await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    drop(held);
    app.stop().await;
}
