//! The Coordinating Office's finance administration: opening ledgers, exchange rates,
//! period closings and ledger closings. Each refusal is checked for its problem and for
//! leaving the database as it was; each change for its row and its audit event.

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

async fn office(app: &TestApp, code: &str) -> String {
    let res = app.post("/v1/offices", &new_office(code, "PE")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// The audit events of a resource type and action, oldest first.
fn events(app: &TestApp, resource_type: &str, action: &str) -> Vec<Value> {
    let json = app.db.scalar(&format!(
        "SELECT coalesce(json_agg(json_build_object('actor_sub', actor_sub, 'actor_role', actor_role, \
         'resource_id', resource_id, 'before', before, 'after', after) ORDER BY occurred_at, id), '[]') \
         FROM audit_events WHERE resource_type = '{resource_type}' AND action = '{action}'"
    ));
    serde_json::from_str::<Value>(&json)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Asserts a 422 naming exactly this field with this code.
#[track_caller]
fn invalid(res: &Resp, field: &str, code: &str) {
    let p = res.problem(422, "validation-failed");
    assert_eq!(
        p["errors"],
        json!([{"field": field, "code": code, "message": p["errors"][0]["message"]}]),
        "{p}"
    );
}

/// Calls `f` and asserts that it changed no row of any table, audit events included.
async fn refused<F: AsyncFnOnce() -> Resp>(app: &TestApp, f: F) -> Resp {
    let before = app.db.table_digests();
    let res = f().await;
    assert_eq!(app.db.table_digests(), before, "{}", res.text());
    res
}

async fn new_ledger(app: &TestApp, body: Value) -> Resp {
    app.post("/v1/ledgers", &body).await
}

#[actix_web::test]
async fn opening_a_ledger_checks_its_year_fund_code_office_and_uniqueness() {
    let app = TestApp::new().await;
    let pe = office(&app, "OGSMS-LDG-PE").await;
    let closed = office(&app, "OGSMS-LDG-CL").await;
    let res = app
        .request(
            Method::POST,
            &format!("/v1/offices/{closed}/close"),
            &[],
            Some(&json!({"closed_on": "2020-01-31"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    let body = |year: i64, fund: &str, code: Option<&str>| {
        let mut b = json!({"office_id": pe, "fiscal_year": year, "fund": fund});
        if let Some(c) = code {
            b["fund_code"] = json!(c);
        }
        b
    };
    for year in [1947, 2201, -1, 100_000] {
        let res = refused(&app, async || {
            new_ledger(&app, body(year, "regular_fund", None)).await
        })
        .await;
        invalid(&res, "fiscal_year", "out_of_range");
    }
    for (fund, code, want) in [
        ("specific_fund", None, "required"),
        ("trust_fund", Some("   "), "empty"),
        ("regular_fund", Some("RF-1"), "not_allowed"),
        ("indirect_cost_recovery", Some("X"), "not_allowed"),
        ("trust_fund", Some(&*"T".repeat(65)), "too_long"),
        ("trust_fund", Some("TF\u{7}1"), "control_characters"),
    ] {
        let res = refused(&app, async || {
            new_ledger(&app, body(2026, fund, code)).await
        })
        .await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(p["errors"][0]["field"], "fund_code", "{fund} {code:?}: {p}");
        if want != "control_characters" {
            assert_eq!(p["errors"][0]["code"], want, "{fund} {code:?}: {p}");
        }
    }
    let unknown = uuid::Uuid::new_v4();
    let res = refused(&app, async || {
        new_ledger(
            &app,
            json!({"office_id": unknown, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
    })
    .await;
    invalid(&res, "office_id", "unknown");
    let res = refused(&app, async || {
        new_ledger(
            &app,
            json!({"office_id": closed, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
    })
    .await;
    res.problem(409, "invalid-state");

    // The year's bounds are accepted, and one ledger per office, year, fund and code.
    let mut ids = Vec::new();
    for (year, fund, code) in [
        (1948, "regular_fund", None),
        (2200, "regular_fund", None),
        (2026, "regular_fund", None),
        (2026, "trust_fund", Some("TF-001")),
        (2026, "trust_fund", Some("TF-002")),
    ] {
        let res = new_ledger(&app, body(year, fund, code)).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let l = res.json();
        assert_eq!(
            res.header("location").unwrap(),
            format!("/v1/ledgers/{}", l["id"].as_str().unwrap())
        );
        assert_eq!(l["fiscal_year"], year);
        assert_eq!(l["fund"], fund);
        assert_eq!(l["fund_code"], json!(code.map(str::trim)));
        assert_eq!(l["status"], "open");
        assert_eq!(l["office_id"], json!(pe));
        ids.push(l);
    }
    for (fund, code) in [
        ("regular_fund", None),
        ("trust_fund", Some("TF-001")),
        ("trust_fund", Some("TF-002")),
    ] {
        let res = refused(&app, async || {
            new_ledger(&app, body(2026, fund, code)).await
        })
        .await;
        let p = res.problem(409, "duplicate");
        assert_eq!(p["errors"][0]["field"], "fund", "{p}");
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM ledgers WHERE office_id = '{pe}'"
        )),
        "5"
    );
    // One audit event per ledger opened, with the ledger as answered.
    let created = events(&app, "ledger", "create");
    assert_eq!(created.len(), 5);
    for (e, l) in created.iter().zip(&ids) {
        assert_eq!(e["resource_id"], l["id"]);
        assert_eq!(e["actor_sub"], "test-coordinator");
        assert_eq!(e["actor_role"], "coordinator");
        assert_eq!(e["before"], Value::Null);
        assert_eq!(e["after"], *l);
    }

    // The year is an integer as JSON Schema counts them, like every integer field of the
    // document: `2027.0` is the year 2027, a fraction is refused naming the field.
    let res = new_ledger(
        &app,
        json!({"office_id": pe, "fiscal_year": 2027.0, "fund": "regular_fund"}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json()["fiscal_year"], 2027);
    for year in [json!(2028.5), json!(1e300), json!("2028")] {
        let res = refused(&app, async || {
            new_ledger(
                &app,
                json!({"office_id": pe, "fiscal_year": year, "fund": "regular_fund"}),
            )
            .await
        })
        .await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(p["errors"][0]["field"], "fiscal_year", "{year}: {p}");
    }
}

#[actix_web::test]
async fn exchange_rates_refuse_usd_unknown_currencies_bad_rates_and_duplicates() {
    let app = TestApp::new().await;
    let rate = |currency: &str, day: &str, rate: &str| json!({"currency": currency, "effective_on": day, "rate": rate});
    for currency in ["USD"] {
        let res = refused(&app, async || {
            app.post("/v1/exchange-rates", &rate(currency, "2026-01-01", "1"))
                .await
        })
        .await;
        invalid(&res, "currency", "is_usd");
    }
    for currency in ["ABC", "PE", "PENN", "", "usd", " USD "] {
        let res = refused(&app, async || {
            app.post("/v1/exchange-rates", &rate(currency, "2026-01-01", "0.27"))
                .await
        })
        .await;
        invalid(&res, "currency", "unknown_currency");
    }
    for bad in [
        "0",
        "0.000000000000",
        "-0.27",
        "abc",
        "",
        "1e-3",
        "0.0000000000001",
        "10000000",
        "0,27",
    ] {
        let res = refused(&app, async || {
            app.post("/v1/exchange-rates", &rate("PEN", "2026-01-01", bad))
                .await
        })
        .await;
        invalid(&res, "rate", "invalid");
    }

    // Created: 12 decimals are kept.
    let res = app
        .post(
            "/v1/exchange-rates",
            &rate("PEN", "2026-01-01", "0.267100000001"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let pen = res.json();
    let pen_id = pen["id"].as_str().unwrap().to_owned();
    assert_eq!(
        res.header("location").unwrap(),
        format!("/v1/exchange-rates/{pen_id}")
    );
    assert_eq!(pen["currency"], "PEN");
    assert_eq!(pen["effective_on"], "2026-01-01");
    assert_eq!(pen["rate"], "0.267100000001");
    assert_eq!(pen["created_by"], "test-coordinator");
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT usd_per_unit_e12 FROM exchange_rates WHERE id = '{pen_id}'"
        )),
        "267100000001"
    );
    let created = events(&app, "exchange_rate", "create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["resource_id"], pen["id"]);
    assert_eq!(created[0]["after"], pen);
    assert_eq!(created[0]["actor_role"], "coordinator");

    // One rate per currency and day, whatever its value.
    let res = refused(&app, async || {
        app.post("/v1/exchange-rates", &rate("PEN", "2026-01-01", "0.30"))
            .await
    })
    .await;
    let p = res.problem(409, "duplicate");
    assert_eq!(p["errors"][0]["field"], "effective_on", "{p}");

    // Read one by id.
    let res = app.get(&format!("/v1/exchange-rates/{pen_id}")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json(), pen);
    assert!(res.header("etag").is_some());
    app.get(&format!("/v1/exchange-rates/{}", uuid::Uuid::new_v4()))
        .await
        .problem(404, "not-found");
    app.get("/v1/exchange-rates/not-a-uuid")
        .await
        .problem(400, "invalid-parameter");

    // The list's filters.
    let t0 = app.db.scalar("to_json(clock_timestamp()) #>> '{}'");
    for (c, d, r) in [
        ("PEN", "2026-03-15", "0.27"),
        ("CLP", "2026-01-01", "0.00105"),
        ("EUR", "2025-12-01", "1.08"),
    ] {
        let res = app.post("/v1/exchange-rates", &rate(c, d, r)).await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let list = async |query: &str| -> Vec<String> {
        app.collect(&format!("/v1/exchange-rates?limit=2&{query}"))
            .await
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["currency"].as_str().unwrap(),
                    r["effective_on"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        list("").await,
        // By date, then in the order they were recorded.
        [
            "EUR 2025-12-01",
            "PEN 2026-01-01",
            "CLP 2026-01-01",
            "PEN 2026-03-15"
        ]
    );
    assert_eq!(
        list("currency=PEN").await,
        ["PEN 2026-01-01", "PEN 2026-03-15"]
    );
    assert_eq!(
        list("currency=PEN,EUR&sort=-effective_on").await,
        ["PEN 2026-03-15", "PEN 2026-01-01", "EUR 2025-12-01"]
    );
    assert_eq!(
        list("effective_from=2026-01-01&effective_to=2026-03-14")
            .await
            .len(),
        2
    );
    assert_eq!(list("effective_from=2026-03-15").await, ["PEN 2026-03-15"]);
    assert_eq!(list("effective_to=2025-12-31").await, ["EUR 2025-12-01"]);
    let since = percent_encoding::utf8_percent_encode(&t0, percent_encoding::NON_ALPHANUMERIC);
    assert_eq!(list(&format!("updated_since={since}")).await.len(), 3);
    for bad in [
        "currency=ZZZ",
        "currency=usdollar",
        "effective_from=2026-13-01",
        "effective_to=yesterday",
        "updated_since=2026-01-01",
        "sort=rate",
    ] {
        app.get(&format!("/v1/exchange-rates?{bad}"))
            .await
            .problem(400, "invalid-parameter");
    }
}

fn closing(app: &TestApp, ledger: &str, through: &str) -> impl Future<Output = Resp> {
    let path = format!("/v1/ledgers/{ledger}/closings");
    let body = json!({"closed_through": through});
    async move { app.post(&path, &body).await }
}

async fn ledger_2026(app: &TestApp) -> String {
    let pe = office(app, "OGSMS-CLOSE").await;
    let res = new_ledger(
        app,
        json!({"office_id": pe, "fiscal_year": 2026, "fund": "regular_fund"}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn periods_close_inside_the_fiscal_year_forward_only_and_not_on_a_closed_ledger() {
    let app = TestApp::new().await;
    let ledger = ledger_2026(&app).await;
    // Outside fiscal year 2026, on either side.
    for through in ["2025-12-31", "2025-06-30", "2027-01-01", "1948-01-01"] {
        let res = refused(&app, async || closing(&app, &ledger, through).await).await;
        invalid(&res, "closed_through", "outside_fiscal_year");
    }
    let res = closing(&app, &ledger, "2026-03-31").await;
    assert_eq!(res.status, 201, "{}", res.text());
    let c = res.json();
    assert_eq!(c["ledger_id"], json!(ledger));
    assert_eq!(c["closed_through"], "2026-03-31");
    assert_eq!(c["created_by"], "test-coordinator");
    assert_eq!(
        app.get(&format!("/v1/ledgers/{ledger}")).await.json()["closed_through"],
        "2026-03-31"
    );
    let e = events(&app, "ledger", "close_period");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["resource_id"], json!(ledger));
    assert_eq!(e[0]["after"], c);
    assert_eq!(e[0]["actor_role"], "coordinator");
    // Only forward.
    for through in ["2026-03-31", "2026-01-31"] {
        refused(&app, async || closing(&app, &ledger, through).await)
            .await
            .problem(409, "invalid-state");
    }
    let res = closing(&app, &ledger, "2026-12-31").await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT string_agg(closed_through::text, ',' ORDER BY closed_through) FROM ledger_closings WHERE ledger_id = '{ledger}'"
        )),
        "2026-03-31,2026-12-31"
    );

    // Closing the ledger: one event with the states before and after.
    let close = async || {
        app.request(
            Method::POST,
            &format!("/v1/ledgers/{ledger}/close"),
            &[],
            None,
        )
        .await
    };
    let before = app.get(&format!("/v1/ledgers/{ledger}")).await.json();
    let res = close().await;
    assert_eq!(res.status, 200, "{}", res.text());
    let after = res.json();
    assert_eq!(after["status"], "closed");
    let e = events(&app, "ledger", "close");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["resource_id"], json!(ledger));
    assert_eq!(e[0]["before"], before);
    assert_eq!(e[0]["after"], after);
    // A closed ledger is not closed again, and takes no period closing.
    refused(&app, close).await.problem(409, "invalid-state");
    refused(&app, async || closing(&app, &ledger, "2026-12-31").await)
        .await
        .problem(409, "period-closed");
    // Nor does a ledger that does not exist.
    refused(&app, async || {
        closing(&app, &uuid::Uuid::new_v4().to_string(), "2026-06-30").await
    })
    .await
    .problem(404, "not-found");
    assert_eq!(events(&app, "ledger", "close_period").len(), 2);
}

#[actix_web::test]
async fn a_period_closed_while_entries_post_freezes_only_what_came_before_it() {
    let app = TestApp::new().await;
    let ledger = ledger_2026(&app).await;
    let entries = format!("/v1/ledgers/{ledger}/entries");
    let res = app
        .post(
            &entries,
            &json!({"kind": "allocation", "entry_date": "2026-01-05", "description": "Allotment",
                    "amount": {"amount": "1000.00", "currency": "USD"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let expense = |day: &str| {
        json!({"kind": "expense", "category": "supplies", "entry_date": day, "description": "Paper",
               "amount": {"amount": "1.00", "currency": "USD"}})
    };
    // 30 expenses in the period being closed and 10 after it, with the closing among them.
    let inside = expense("2026-03-10");
    let outside = expense("2026-04-10");
    let mut posts = Vec::new();
    for i in 0..40 {
        posts.push(app.post(&entries, if i % 4 == 3 { &outside } else { &inside }));
    }
    let (close, posted) = futures_util::join!(
        async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            closing(&app, &ledger, "2026-03-31").await
        },
        join_all(posts)
    );
    assert_eq!(close.status, 201, "{}", close.text());
    let mut accepted = 1;
    for (i, res) in posted.iter().enumerate() {
        if i % 4 == 3 || res.status == 201 {
            assert_eq!(res.status, 201, "{}", res.text());
            accepted += 1;
        } else {
            let p = res.problem(409, "period-closed");
            assert_eq!(p["errors"][0]["field"], "entry_date", "{p}");
        }
    }
    // Every entry in the closed period was written before the closing; the running
    // state agrees with the entries; the chain holds.
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM ledger_entries e JOIN ledger_closings c ON c.ledger_id = e.ledger_id \
              WHERE e.ledger_id = '{ledger}' AND e.entry_date <= c.closed_through \
                AND e.created_at >= c.created_at"
        )),
        "0"
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT entry_count || '/' || available_minor FROM ledgers WHERE id = '{ledger}'"
        )),
        format!("{accepted}/{}", 100_000 - (accepted - 1) * 100)
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM ledger_entries WHERE ledger_id = '{ledger}'"
        )),
        accepted.to_string()
    );
    assert_eq!(
        events(&app, "ledger_entry", "post").len(),
        accepted as usize
    );
    let v = app.get(&format!("/v1/ledgers/{ledger}/verification")).await;
    assert_eq!(v.json()["ok"], true, "{}", v.text());
}

#[actix_web::test]
async fn the_ledger_list_filters_by_office_year_fund_status_and_change() {
    let app = TestApp::new().await;
    let a = office(&app, "OGSMS-LIST-A").await;
    let b = office(&app, "OGSMS-LIST-B").await;
    let mut ids = std::collections::HashMap::new();
    for (name, o, year, fund, code) in [
        ("a25", &a, 2025, "regular_fund", None),
        ("a26", &a, 2026, "regular_fund", None),
        ("a26t", &a, 2026, "trust_fund", Some("TF-1")),
        ("b26s", &b, 2026, "specific_fund", Some("SF-1")),
    ] {
        let mut body = json!({"office_id": o, "fiscal_year": year, "fund": fund});
        if let Some(c) = code {
            body["fund_code"] = json!(c);
        }
        let res = new_ledger(&app, body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        ids.insert(res.json()["id"].as_str().unwrap().to_owned(), name);
    }
    let a25 = ids.iter().find(|(_, n)| **n == "a25").unwrap().0.clone();
    let b26s = ids.iter().find(|(_, n)| **n == "b26s").unwrap().0.clone();
    let res = app
        .request(Method::POST, &format!("/v1/ledgers/{a25}/close"), &[], None)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let t0 = app.db.scalar("to_json(clock_timestamp()) #>> '{}'");
    let res = app
        .post(
            &format!("/v1/ledgers/{b26s}/entries"),
            &json!({"kind": "allocation", "entry_date": "2026-01-05", "description": "Grant",
                    "amount": {"amount": "10.00", "currency": "USD"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());

    let list = async |query: &str| -> Vec<String> {
        let mut names: Vec<String> = app
            .collect(&format!("/v1/ledgers?limit=1&{query}"))
            .await
            .iter()
            .map(|l| ids[l["id"].as_str().unwrap()].to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list("").await, ["a25", "a26", "a26t", "b26s"]);
    assert_eq!(
        list(&format!("office_id={a}")).await,
        ["a25", "a26", "a26t"]
    );
    assert_eq!(
        list(&format!("office_id={a},{b}")).await,
        ["a25", "a26", "a26t", "b26s"]
    );
    assert_eq!(list("fiscal_year=2025").await, ["a25"]);
    assert_eq!(list("fiscal_year=2026").await, ["a26", "a26t", "b26s"]);
    assert!(list("fiscal_year=2027").await.is_empty());
    assert_eq!(
        list("fund=trust_fund,specific_fund").await,
        ["a26t", "b26s"]
    );
    assert_eq!(list("fund=regular_fund").await, ["a25", "a26"]);
    assert_eq!(list("status=closed").await, ["a25"]);
    assert_eq!(
        list(&format!("status=open&office_id={a}&fiscal_year=2026")).await,
        ["a26", "a26t"]
    );
    let since = percent_encoding::utf8_percent_encode(&t0, percent_encoding::NON_ALPHANUMERIC);
    assert_eq!(list(&format!("updated_since={since}")).await, ["b26s"]);
    // Newest first when asked.
    let newest: Vec<String> = app
        .collect("/v1/ledgers?sort=-created_at")
        .await
        .iter()
        .map(|l| ids[l["id"].as_str().unwrap()].to_owned())
        .collect();
    assert_eq!(newest, ["b26s", "a26t", "a26", "a25"]);
    for bad in [
        "office_id=not-a-uuid",
        "fiscal_year=twenty",
        "fund=rainy_day_fund",
        "status=archived",
        "updated_since=soon",
        "sort=fund",
    ] {
        app.get(&format!("/v1/ledgers?{bad}"))
            .await
            .problem(400, "invalid-parameter");
    }
}
