//! Webhooks: signed deliveries of the change feed to a real HTTP receiver that fails,
//! times out and recovers; in order, at least once, retried, marked failing, resumed;
//! shared by several deliverers, and nothing acknowledged sent again after a restart.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use ogsms::auth::policy::Role;
use ogsms::resources::webhooks::deliverer::{DeliveryConfig, spawn_deliverer};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::TestApp;

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Fail,
    Hang,
    Ok,
}

#[derive(Clone, Debug)]
struct Received {
    signature: String,
    attempt: String,
    subscription: String,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Script {
    next: VecDeque<Behaviour>,
    /// What to do once `next` is empty.
    then_fail: bool,
    received: Vec<Received>,
}

/// A receiver on a free port, answering as its script says.
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

const HANG: Duration = Duration::from_millis(700);

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    script: web::Data<Arc<Mutex<Script>>>,
) -> HttpResponse {
    let behaviour = {
        let mut s = script.lock().unwrap();
        let b = s.next.pop_front().unwrap_or(if s.then_fail {
            Behaviour::Fail
        } else {
            Behaviour::Ok
        });
        let header = |n: &str| {
            req.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        s.received.push(Received {
            signature: header("x-ogsms-signature"),
            attempt: header("x-ogsms-delivery-attempt"),
            subscription: header("x-ogsms-subscription-id"),
            body: body.to_vec(),
            answered: match b {
                Behaviour::Fail => 500,
                _ => 200,
            },
        });
        b
    };
    match behaviour {
        Behaviour::Fail => HttpResponse::InternalServerError().body("down"),
        Behaviour::Hang => {
            actix_web::rt::time::sleep(HANG).await;
            HttpResponse::Ok().finish()
        }
        Behaviour::Ok => HttpResponse::NoContent().finish(),
    }
}

impl Receiver {
    fn start(script: Script) -> Receiver {
        let script = Arc::new(Mutex::new(script));
        let data = web::Data::new(script.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            script,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        poll: Duration::from_millis(20),
        timeout: Duration::from_millis(300),
        retry_base: Duration::from_millis(30),
        retry_max: Duration::from_millis(200),
        retry_window: Duration::from_secs(60),
    }
}

/// Whether `header` carries a valid `v1` signature of `body` under `secret`.
fn signed_with(header: &str, body: &[u8], secret: &str) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.expect("a timestamp");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..120).contains(&age), "a fresh timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    sigs.contains(&expected)
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn subscribe(app: &TestApp, body: Value) -> (String, String) {
    let res = app.post("/v1/webhooks", &body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let hook = res.json();
    (
        hook["id"].as_str().unwrap().to_owned(),
        hook["secret"].as_str().unwrap().to_owned(),
    )
}

async fn agency(app: &TestApp, n: u32) -> String {
    let res = app
        .post(
            "/v1/executing-agencies",
            &json!({"name": {"es": format!("Agencia {n}")}, "member_state": "PE", "kind": "ngo",
                    "registration_number": format!("RUC-W{n}")}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// The agency events of the change feed, in its order.
async fn feed_ids(app: &TestApp) -> Vec<String> {
    let res = app
        .get("/v1/changes?resource_type=executing_agency&limit=500")
        .await;
    assert_eq!(res.status, 200);
    res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn deliveries_are_signed_in_order_retried_through_failures_and_timeouts_and_logged() {
    let app = TestApp::new().await;
    // The first event: two 500s, then an answer slower than the timeout, then a 2xx.
    let receiver = Receiver::start(Script {
        next: VecDeque::from([Behaviour::Fail, Behaviour::Fail, Behaviour::Hang]),
        ..Script::default()
    });
    let (id, secret) = subscribe(
        &app,
        json!({"url": receiver.url, "resource_types": ["executing_agency"], "description": "HQ"}),
    )
    .await;
    let mut agencies = Vec::new();
    for n in 0..3 {
        agencies.push(agency(&app, n).await);
    }
    // A department is not subscribed to.
    let res = app
        .post(
            "/v1/departments",
            &json!({"code": "WHK", "kind": "secretariat", "name": {"en": "Hooks"}}),
        )
        .await;
    assert_eq!(res.status, 201);
    let deliverer = spawn_deliverer(app.state.pool.clone(), fast());
    wait_for("three delivered events", async || {
        let res = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        let items = res.json()["items"].as_array().unwrap().clone();
        items.len() == 3 && items.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    deliverer.abort();

    let received = receiver.received();
    for r in &received {
        assert!(signed_with(&r.signature, &r.body, &secret), "{r:?}");
        assert_eq!(r.subscription, id);
        assert_eq!(r.event()["resource_type"], "executing_agency");
    }
    // In the feed's order, each event until it was acknowledged.
    let feed = feed_ids(&app).await;
    assert_eq!(feed.len(), 3);
    let mut order: Vec<String> = received
        .iter()
        .map(|r| r.event()["id"].as_str().unwrap().to_owned())
        .collect();
    order.dedup();
    assert_eq!(order, feed);
    let first: Vec<&Received> = received
        .iter()
        .filter(|r| r.event()["id"] == feed[0].as_str())
        .collect();
    assert_eq!(
        first.iter().map(|r| r.attempt.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3", "4"],
        "two failures, a timeout, then acknowledged"
    );
    assert_eq!(received.len(), 6);
    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries"))
        .await
        .json();
    let log = log["items"].as_array().unwrap();
    assert_eq!(log[0]["event_id"], feed[0].as_str());
    assert_eq!(log[0]["attempts"], 4);
    assert_eq!(log[0]["last_status_code"], 204);
    assert!(log[0]["last_error"].is_null());
    assert_eq!(log[1]["attempts"], 1);
    assert_eq!(log[2]["resource_id"], agencies[2].as_str());
    let hook = app.get(&format!("/v1/webhooks/{id}")).await;
    let hook = hook.json();
    assert_eq!(hook["status"], "active");
    assert!(
        hook.get("secret").is_none(),
        "the secret is shown only once"
    );
    assert_eq!(hook["pending_attempts"], 0);
}

#[actix_web::test]
async fn a_subscription_failing_for_the_window_stops_and_resumes_signed_with_both_secrets_after_a_rotation()
 {
    let app = TestApp::new().await;
    let receiver = Receiver::start(Script {
        then_fail: true,
        ..Script::default()
    });
    let (id, old_secret) =
        subscribe(&app, json!({"url": receiver.url, "actions": ["created"]})).await;
    agency(&app, 1).await;
    let config = DeliveryConfig {
        retry_window: Duration::from_millis(400),
        ..fast()
    };
    let deliverer = spawn_deliverer(app.state.pool.clone(), config);
    wait_for("the subscription to be failing", async || {
        app.get(&format!("/v1/webhooks/{id}")).await.json()["status"] == "failing"
    })
    .await;
    let tries = receiver.received().len();
    assert!(tries >= 3, "retried before giving up: {tries}");
    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries"))
        .await
        .json();
    assert_eq!(log["items"][0]["status"], "failed");
    assert_eq!(log["items"][0]["last_status_code"], 500);
    // Failing: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), tries);

    // Rotate the secret (the old one stays valid a minute), fix the receiver, resume.
    let res = app
        .post(
            &format!("/v1/webhooks/{id}/secret-rotations"),
            &json!({"overlap_seconds": 60}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let new_secret = res.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    let bad = app
        .post(
            &format!("/v1/webhooks/{id}/secret-rotations"),
            &json!({"overlap_seconds": 10_000_000}),
        )
        .await;
    bad.problem(422, "validation-failed");
    let second_rotation_secret = new_secret; // the rotation above answered 422: unchanged
    receiver.script.lock().unwrap().then_fail = false;
    let res = app
        .request(
            actix_web::http::Method::POST,
            &format!("/v1/webhooks/{id}/reactivation"),
            &[],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "active");
    wait_for("the event delivered after reactivation", async || {
        receiver.received().iter().any(|r| r.answered == 200)
    })
    .await;
    wait_for("the log to say delivered", async || {
        app.get(&format!("/v1/webhooks/{id}/deliveries"))
            .await
            .json()["items"][0]["status"]
            == "delivered"
    })
    .await;
    deliverer.abort();
    let ok = receiver
        .received()
        .into_iter()
        .find(|r| r.answered == 200)
        .unwrap();
    assert_eq!(ok.signature.matches("v1=").count(), 2, "{}", ok.signature);
    assert!(signed_with(
        &ok.signature,
        &ok.body,
        &second_rotation_secret
    ));
    assert!(signed_with(&ok.signature, &ok.body, &old_secret));
}

#[actix_web::test]
async fn several_deliverers_share_the_work_and_a_restart_sends_nothing_acknowledged_again() {
    let app = TestApp::new().await;
    let receiver = Receiver::start(Script::default());
    let (a, _) = subscribe(
        &app,
        json!({"url": receiver.url, "resource_types": ["executing_agency"]}),
    )
    .await;
    let (b, _) = subscribe(
        &app,
        json!({"url": format!("{}?b", receiver.url), "resource_types": ["executing_agency"]}),
    )
    .await;
    for n in 0..8 {
        agency(&app, n).await;
    }
    let first = spawn_deliverer(app.state.pool.clone(), fast());
    let second = spawn_deliverer(app.state.pool.clone(), fast());
    let per_sub = |received: &[Received]| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in received {
            m.entry(r.subscription.clone())
                .or_default()
                .push(r.event()["id"].as_str().unwrap().to_owned());
        }
        m
    };
    // Acknowledged: the delivery log says delivered (a deliverer stopped between the
    // receiver's answer and that record would send the event again: at least once).
    let delivered = async |id: &str| {
        let log = app
            .get(&format!("/v1/webhooks/{id}/deliveries"))
            .await
            .json();
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "delivered")
            .count()
    };
    wait_for("8 events acknowledged to each subscription", async || {
        delivered(&a).await == 8 && delivered(&b).await == 8
    })
    .await;
    // "Restart": both stop; new changes; a new deliverer.
    first.abort();
    second.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 8..11 {
        agency(&app, n).await;
    }
    let third = spawn_deliverer(app.state.pool.clone(), fast());
    wait_for("11 events to each subscription", async || {
        let m = per_sub(&receiver.received());
        m.get(&a).is_some_and(|v| v.len() >= 11) && m.get(&b).is_some_and(|v| v.len() >= 11)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    third.abort();
    let feed = feed_ids(&app).await;
    let m = per_sub(&receiver.received());
    assert_eq!(m[&a], feed, "each event once, in order");
    assert_eq!(m[&b], feed, "each event once, in order");
}

#[actix_web::test]
async fn webhooks_are_for_the_coordinating_office_and_service_accounts_with_checked_urls() {
    let app = TestApp::new().await;
    let viewer = format!("Bearer {}", app.token(Role::Viewer, None, None));
    let res = app
        .request(
            actix_web::http::Method::POST,
            "/v1/webhooks",
            &[("authorization", &viewer)],
            Some(&json!({"url": "https://hooks.example.org/x"})),
        )
        .await;
    res.problem(403, "forbidden");
    for url in [
        "ftp://hooks.example.org/x",
        "https://user:pw@hooks.example.org/x",
        "https://hooks.example.org/x#frag",
        "hooks.example.org/x",
        "javascript:alert(1)",
        "https://hooks example.org/",
    ] {
        let res = app.post("/v1/webhooks", &json!({"url": url})).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), ["url"], "{url}");
    }
    let res = app
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.org/x", "resource_types": ["Project!"]}),
        )
        .await;
    assert_eq!(res.problem_fields(), ["resource_types"]);
    let (coordinators, _) = subscribe(&app, json!({"url": "https://hooks.example.org/c"})).await;

    // A service account of the viewer role: may subscribe, sees only its own.
    let mut conn =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&app.db.url)
            .await
            .unwrap();
    let (_, secret) = ogsms::resources::service_accounts::create(
        &mut conn,
        &ogsms::db::audit::Actor::cli(),
        "hook-bot",
        "Hook bot",
        Role::Viewer,
        None,
        None,
    )
    .await
    .unwrap();
    let res = app
        .raw(
            actix_web::http::Method::POST,
            "/v1/auth/token",
            &[
                ("authorization", "none"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!("grant_type=client_credentials&client_id=hook-bot&client_secret={secret}")
                .into_bytes(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let bot = format!("Bearer {}", res.json()["access_token"].as_str().unwrap());
    let res = app
        .request(
            actix_web::http::Method::POST,
            "/v1/webhooks",
            &[("authorization", &bot)],
            Some(&json!({"url": "https://bot.example.org/hook"})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json()["owner"]["role"], "viewer");
    let bots = res.json()["id"].as_str().unwrap().to_owned();
    let mine = app
        .get_with("/v1/webhooks", &[("authorization", &bot)])
        .await
        .json();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], bots.as_str());
    app.get_with(
        &format!("/v1/webhooks/{coordinators}"),
        &[("authorization", &bot)],
    )
    .await
    .problem(404, "not-found");
    let all = app.get("/v1/webhooks").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    // Deleting: 412 on a stale If-Match, 204 otherwise; then 404.
    let res = app
        .request(
            actix_web::http::Method::DELETE,
            &format!("/v1/webhooks/{bots}"),
            &[("authorization", &bot), ("if-match", "\"stale\"")],
            None,
        )
        .await;
    res.problem(412, "precondition-failed");
    let res = app
        .request(
            actix_web::http::Method::DELETE,
            &format!("/v1/webhooks/{bots}"),
            &[("authorization", &bot)],
            None,
        )
        .await;
    assert_eq!(res.status, 204);
    app.get(&format!("/v1/webhooks/{bots}"))
        .await
        .problem(404, "not-found");
    // Subscriptions are in the feed, for the Coordinating Office and auditors only.
    let auditor = format!("Bearer {}", app.token(Role::Auditor, None, None));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let feed = app
            .get_with(
                "/v1/changes?resource_type=webhook",
                &[("authorization", &auditor)],
            )
            .await
            .json();
        if feed["items"].as_array().unwrap().len() == 3 || Instant::now() > deadline {
            assert_eq!(feed["items"].as_array().unwrap().len(), 3, "{feed}");
            assert!(feed["items"][0]["data"].get("secret").is_none());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen_by_viewer = app
        .get_with(
            "/v1/changes?resource_type=webhook",
            &[("authorization", &viewer)],
        )
        .await
        .json();
    assert!(seen_by_viewer["items"].as_array().unwrap().is_empty());
}
