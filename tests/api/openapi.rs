//! The committed OpenAPI document is the one the code generates.

use std::path::Path;

const COMMITTED: &str = "openapi/openapi.json";

#[test]
fn committed_document_matches_the_code() {
    let generated = ogsms::app::openapi::document_json();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{COMMITTED} differs from the document the code generates; \
         run `UPDATE_OPENAPI=1 cargo test --test api openapi` (or `cargo run -- openapi > {COMMITTED}`) \
         and commit the result"
    );
}

#[test]
fn every_operation_documents_its_errors_as_problems() {
    let doc: serde_json::Value =
        serde_json::from_str(&ogsms::app::openapi::document_json()).unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    assert_eq!(doc["info"]["title"], "OGSMS API");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            // Everything under /v1 reads or writes the database, except the caller's
            // identity, which comes from the token alone.
            if path.starts_with("/v1/") && path != "/v1/me" {
                assert!(
                    responses.contains_key("503"),
                    "{method} {path} does not document 503"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let reference = response["$ref"].as_str().unwrap_or_default();
                    let inline = &response["content"]["application/problem+json"];
                    assert!(
                        reference.starts_with("#/components/responses/") || !inline.is_null(),
                        "{method} {path} {status} is not a problem: {response}"
                    );
                }
            }
            if method != "get" && path.contains('{') {
                assert!(
                    responses.contains_key("404"),
                    "{method} {path} does not document 404"
                );
            }
        }
    }
    assert!(operations >= 13, "only {operations} operations");
}

/// Every `/v1` operation of the document declared, where its folder registers it, what it
/// writes (the body gate reads only that), and the declarations are the role table's:
/// a write route of a resource names the resource some role may write.
#[test]
fn every_route_declares_what_it_writes() {
    use ogsms::auth::routes::Writes;
    let table = ogsms::app::openapi::route_resources();
    let doc: serde_json::Value =
        serde_json::from_str(&ogsms::app::openapi::document_json()).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            if !["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            assert!(
                table.of(method, path).is_some(),
                "{method} {path} was registered without saying what it writes"
            );
        }
    }
    assert_eq!(
        table.iter().count(),
        operations,
        "a declared route is not in the document"
    );
    let res = |r| Some(Writes::Resource(r));
    for (method, path, expected) in [
        ("POST", "/v1/offices/{id}/close", res("offices")),
        ("POST", "/v1/offices", res("offices")),
        ("POST", "/v1/departments", res("departments")),
        ("POST", "/v1/exchange-rates", res("exchange_rates")),
        ("POST", "/v1/projects", res("projects")),
        ("POST", "/v1/ledgers", res("ledgers")),
        ("POST", "/v1/auth/revocations", res("tokens")),
        (
            "POST",
            "/v1/ledgers/{id}/entries",
            Some(Writes::HandlerDecides),
        ),
        ("POST", "/v1/auth/token", Some(Writes::HandlerDecides)),
        ("POST", "/v1/webhooks", Some(Writes::HandlerDecides)),
        ("DELETE", "/v1/nowhere", None),
    ] {
        assert_eq!(table.of(method, path), expected, "{method} {path}");
    }
    // Every child resource's writes are its own, not its parent's.
    for (method, path, writes) in table.iter() {
        let expected = if path.contains("/appointments") {
            "appointments"
        } else if path.contains("/assignments") {
            "mandate_assignments"
        } else if path.contains("/monitoring-reports") {
            "monitoring_reports"
        } else if path.ends_with("/acknowledgement")
            || path.ends_with("/compliance")
            || path.ends_with("/review")
        {
            "memorandum_compliance"
        } else {
            continue;
        };
        assert_eq!(writes, Writes::Resource(expected), "{method} {path}");
    }
}

/// Every declared route is where the router finds it: a request to its pattern (each
/// `{param}` filled in) matches exactly that pattern, the key under which the body gate
/// looks the route up (`HttpRequest::match_pattern`). This holds the handlers'
/// `context_path` and their route macros' paths (relative to the segment's scope,
/// `auth::routes`) to each other: a route the document shows at one path and the
/// router mounts at another fails here.
#[actix_web::test]
async fn every_declared_route_is_matched_at_its_pattern() {
    use actix_web::body::BoxBody;
    use actix_web::dev::ServiceRequest;
    use actix_web::middleware::{Next, from_fn};
    use actix_web::{App, HttpResponse, test};
    use utoipa_actix_web::AppExt;

    let mut table = ogsms::auth::routes::RouteResources::default();
    let (app, _) = App::new()
        .into_utoipa_app()
        .service(
            utoipa_actix_web::scope("/v1")
                .configure(|cfg| ogsms::app::openapi::v1(cfg, &mut table)),
        )
        .split_for_parts();
    // Answers with the pattern actix's resource map (built with the router, from the
    // same definitions) matches, without running the handler.
    let app = test::init_service(app.wrap(from_fn(
        |req: ServiceRequest, _: Next<BoxBody>| async move {
            let pattern = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
            Ok::<_, actix_web::Error>(req.into_response(HttpResponse::Ok().body(pattern)))
        },
    )))
    .await;
    let mut routes = 0;
    for (method, pattern, _) in table.iter() {
        let path = pattern
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "0193a6f0-0000-7000-8000-000000000000"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&path)
            .to_request();
        let matched = test::call_and_read_body(&app, req).await;
        assert_eq!(
            std::str::from_utf8(&matched).unwrap(),
            pattern,
            "{method} {path}"
        );
        routes += 1;
    }
    assert!(routes > 100, "only {routes} routes");
}
