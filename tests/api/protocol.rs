//! The HTTP contract for malformed requests: every one gets an RFC 9457 problem with a
//! 4xx status, never a 500 or a plain-text body.

use actix_web::http::Method;
use serde_json::json;

use crate::common::{TestApp, new_office};

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::new().await;
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[("content-type", "application/json")],
            b"{\"code\": ".to_vec(),
        )
        .await;
    res.problem(400, "malformed-body");
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[("content-type", "application/json")],
            b"{} trailing".to_vec(),
        )
        .await;
    res.problem(400, "malformed-body");
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[("content-type", "application/json")],
            Vec::new(),
        )
        .await;
    res.problem(400, "malformed-body");
}

#[actix_web::test]
async fn deeply_nested_json_is_rejected_without_harm() {
    let app = TestApp::new().await;
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[("content-type", "application/json")],
            body.into_bytes(),
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/problem+json")
    );
}

#[actix_web::test]
async fn a_wrong_content_type_is_a_415_problem() {
    let app = TestApp::new().await;
    let body = serde_json::to_vec(&new_office("OGSMS-T1", "PE")).unwrap();
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[("content-type", "text/plain")],
            body.clone(),
        )
        .await;
    res.problem(415, "unsupported-media-type");
    let res = app.raw(Method::POST, "/v1/offices", &[], body).await;
    res.problem(415, "unsupported-media-type");
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = TestApp::new().await;
    let mut office = new_office("OGSMS-T1", "PE");
    office["address"] = json!("x".repeat(300 * 1024));
    let res = app.post("/v1/offices", &office).await;
    res.problem(413, "payload-too-large");
}

#[actix_web::test]
async fn a_path_id_that_is_not_a_uuid_is_a_400_problem_naming_it() {
    let app = TestApp::new().await;
    let res = app.get("/v1/offices/not-a-uuid").await;
    let p = res.problem(400, "invalid-parameter");
    assert_eq!(p["errors"][0]["field"], "id");
    let res = app
        .request(
            Method::PATCH,
            "/v1/departments/123",
            &[("if-match", "*")],
            Some(&json!({})),
        )
        .await;
    res.problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::new().await;
    app.get("/v1/nothing-here").await.problem(404, "not-found");
    app.get("/").await.problem(404, "not-found");
    let res = app.request(Method::DELETE, "/v1/offices", &[], None).await;
    res.problem(405, "method-not-allowed");
    assert_eq!(res.header("allow").as_deref(), Some("GET, POST"));
    let res = app
        .request(
            Method::PUT,
            "/v1/offices/0193a6f0-0000-7000-8000-000000000000",
            &[],
            None,
        )
        .await;
    res.problem(405, "method-not-allowed");
    assert_eq!(res.header("allow").as_deref(), Some("GET, PATCH"));
}

#[actix_web::test]
async fn list_parameters_are_validated() {
    let app = TestApp::new().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=abc", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("frobnicate=1", "frobnicate"),
        ("sort=name", "sort"),
        ("status=opened", "status"),
        ("kind=embassy", "kind"),
        ("member_state=Peru", "member_state"),
        ("updated_since=yesterday", "updated_since"),
        ("cursor=garbage", "cursor"),
        ("limit=1&limit=2", "limit"),
    ] {
        let res = app.get(&format!("/v1/offices?{query}")).await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
    // A huge limit is clamped, not refused.
    let res = app.get("/v1/offices?limit=100000").await;
    assert_eq!(res.status, 200);
}

#[actix_web::test]
async fn a_cursor_is_only_valid_for_the_sort_it_was_made_for() {
    let app = TestApp::demo().await;
    let page = app.get("/v1/offices?limit=2&sort=code").await.json();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let res = app
        .get(&format!("/v1/offices?limit=2&sort=-code&cursor={cursor}"))
        .await;
    res.problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn problems_speak_the_callers_language() {
    let app = TestApp::new().await;
    let res = app
        .get_with(
            "/v1/offices/0193a6f0-0000-7000-8000-000000000000",
            &[("accept-language", "es-PE, en;q=0.5")],
        )
        .await;
    let p = res.problem(404, "not-found");
    assert_eq!(p["title"], "No encontrado");
    assert_eq!(res.header("content-language").as_deref(), Some("es"));
    let res = app
        .get_with(
            "/v1/offices/0193a6f0-0000-7000-8000-000000000000",
            &[("accept-language", "de, en;q=0.8")],
        )
        .await;
    assert_eq!(res.problem(404, "not-found")["title"], "Not found");
    assert_eq!(res.header("content-language").as_deref(), Some("en"));
    // Garbage in the header falls back to English, never an error.
    let res = app
        .get_with("/v1/offices", &[("accept-language", ";;;q=abc,,")])
        .await;
    assert_eq!(res.status, 200);
    // Validation messages are localized too.
    let mut office = new_office("OGSMS-T1", "PE");
    office["name"] = json!({"es": "   "});
    let res = app
        .request(
            Method::POST,
            "/v1/offices",
            &[("accept-language", "es")],
            Some(&office),
        )
        .await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(p["errors"][0]["field"], "name.es");
    assert_eq!(p["errors"][0]["message"], "no debe estar vacío");
}

#[actix_web::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::new().await;
    let res = app
        .get_with("/v1/offices", &[("x-request-id", "pull-2026-11-28.001")])
        .await;
    assert_eq!(
        res.header("x-request-id").as_deref(),
        Some("pull-2026-11-28.001")
    );
    let res = app.get("/v1/nothing").await;
    let id = res.header("x-request-id").unwrap();
    assert_eq!(res.json()["request_id"], id);
    // An id with characters that could forge log lines is replaced.
    let res = app
        .get_with("/v1/offices", &[("x-request-id", "evil\tid")])
        .await;
    assert_ne!(res.header("x-request-id").as_deref(), Some("evil\tid"));
}

#[actix_web::test]
async fn docs_and_document_are_served_offline() {
    let app = TestApp::new().await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::from_str::<serde_json::Value>(&ogsms::app::openapi::document_json()).unwrap()
    );
    let res = app.get("/docs/").await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("swagger-ui"), "{}", res.text());
    let res = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(res.status, 200);
    assert!(
        res.text().contains("\"/openapi.json\""),
        "Swagger UI reads the served document: {}",
        res.text()
    );
    let res = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(res.status, 200);
    assert!(
        res.body.len() > 100_000,
        "the bundle is served from the binary"
    );
}

/// NUL cannot be stored or compared by PostgreSQL: in a query or a body it is a 4xx
/// problem, never a 500 (found by schemathesis in `actor=%00` of the audit export).
#[actix_web::test]
async fn nul_characters_are_client_errors() {
    let app = TestApp::new().await;
    for path in [
        "/v1/audit-events?actor=a%00b",
        "/v1/exports/audit-events?actor=%00",
        "/v1/projects?q=x%00",
        "/v1/offices?sort=code%00",
    ] {
        app.get(path).await.problem(400, "invalid-parameter");
    }
    let mut office = crate::common::new_office("OGSMS-NU", "PE");
    office["city"] = serde_json::json!("Li\u{0}ma");
    let res = app.post("/v1/offices", &office).await;
    assert!(
        res.status.is_client_error(),
        "{}: {}",
        res.status,
        res.text()
    );
}

/// `fiscal_year` beyond int32 is a 400 in the export as in the list.
#[actix_web::test]
async fn export_fiscal_year_beyond_int32_is_400() {
    let app = TestApp::new().await;
    app.get("/v1/exports/ledger-entries?fiscal_year=-2147483649")
        .await
        .problem(400, "invalid-parameter");
}

/// Resource limits: a query string over 16 KiB (thousands of filter values) is a 400
/// problem before anything parses it; a long list under the limit works.
#[actix_web::test]
async fn long_queries_and_thousands_of_filter_values_are_400() {
    let app = TestApp::new().await;
    let ids = vec!["0193a6f0-0000-7000-8000-000000000000"; 1500].join(",");
    let res = app.get(&format!("/v1/projects?office_id={ids}")).await;
    let p = res.problem(400, "invalid-parameter");
    assert_eq!(p["errors"][0]["field"], "query", "{p}");
    let res = app
        .get(&format!("/v1/offices?q={}", "x".repeat(20_000)))
        .await;
    res.problem(400, "invalid-parameter");
    // 300 ids fit.
    let ids = vec!["0193a6f0-0000-7000-8000-000000000000"; 300].join(",");
    let res = app.get(&format!("/v1/projects?office_id={ids}")).await;
    assert_eq!(res.status, 200, "{}", res.text());
}

/// Sends `request` on a new connection and reads the answer to the end: its status, its
/// head and its body.
async fn exchange(app: &TestApp, request: &[u8]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    // The service closes after a refused head; for the others read one response.
    let mut chunk = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut chunk))
            .await
            .expect("an answer within 20 s")
            .unwrap();
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if n == 0 {
            break;
        }
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            });
            if length.is_some_and(|l| body.len() >= l) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {text}"));
    let status = head[9..12].parse().unwrap();
    (status, head.to_owned(), body.as_bytes().to_vec())
}

/// actix-http answers a request line it cannot parse (over 64 KiB) with a bare 400 and an
/// oversized head with a bare 431, below every middleware: the service's guard of
/// request heads answers them with problems instead.
#[actix_web::test]
async fn oversized_request_lines_and_headers_are_problems() {
    let app = TestApp::new().await;
    let token = app.token(ogsms::auth::policy::Role::Coordinator, None, None);
    let target = |len: usize| format!("/v1/offices?q={}", "a".repeat(len));
    let kib = 1024;

    // A 70 KiB request line: 414, in the caller's language.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nAccept-Language: es\r\nAuthorization: Bearer {token}\r\n\r\n",
        target(70 * kib)
    );
    let (status, head, body) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 414, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["type"], "/problems/uri-too-long", "{p}");
    assert_eq!(p["status"], 414);
    assert!(p["detail"].as_str().unwrap().contains("65536"), "{p}");
    // Without the header section's end yet (the line alone is over the limit).
    let request = format!("GET {}", target(70 * kib));
    let (status, _, body) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 414);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"],
        414
    );

    // A 70 KiB header: 431.
    let request = format!(
        "GET /v1/offices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(70 * kib)
    );
    let (status, head, body) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 431, "{head}");
    let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["type"], "/problems/header-fields-too-large", "{p}");
    assert_eq!(p["title"], "Request header fields too large");
    // 97 fields: 431 too (actix's limit of 96 fields, answered as a problem).
    let mut request = String::from("GET /v1/offices HTTP/1.1\r\nHost: x\r\n");
    for i in 0..96 {
        request.push_str(&format!("X-{i}: 1\r\n"));
    }
    request.push_str("\r\n");
    let (status, _, _) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 431);

    // 60 KiB of each: the ordinary answers. A 60 KiB query string is over the service's
    // 16 KiB limit for query strings (a 400 problem of the router, not of the guard); a
    // 60 KiB header does not matter.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
        target(60 * kib)
    );
    let (status, head, body) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 400, "{head}");
    let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["type"], "/problems/invalid-parameter", "{p}");
    let request = format!(
        "GET /v1/offices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(60 * kib)
    );
    let (status, head, body) = exchange(&app, request.as_bytes()).await;
    assert_eq!(status, 200, "{head}");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["items"].is_array());

    // On a persistent connection, the guard finds the next head after a body.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = b"{not json";
    let first = format!(
        "POST /v1/offices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let second = format!(
        "GET /v1/offices HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(70 * kib)
    );
    let mut both = first.into_bytes();
    both.extend_from_slice(body);
    stream.write_all(&both).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    let text = String::from_utf8_lossy(&rest).into_owned();
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(text.contains("header-fields-too-large"), "{text}");
}

/// The edges of routing, as they were before the routes moved into one scope per first
/// segment (`auth::routes`): a path no route has, under a segment or not, is a 404
/// problem; a path with other methods is a 405 with `Allow` (a trailing slash counts as
/// the path without it); a bad path parameter is a 400 naming it; names that only start
/// like a segment, empty segments and the segments' own paths behave as any path.
#[actix_web::test]
async fn routing_edges_are_problems() {
    let app = TestApp::new().await;
    let id = "0193a6f0-0000-7000-8000-000000000000";
    for path in [
        "/v1/nonexistent".to_owned(),
        "/v1".to_owned(),
        "/v1/".to_owned(),
        "/v1/officesx".to_owned(),
        "/v1//offices".to_owned(),
        format!("/v1/offices/{id}/nonexistent"),
        format!("/v1/offices//{id}"),
        format!("/v1/ledgers/{id}/balance/extra"),
    ] {
        app.get(&path).await.problem(404, "not-found");
    }
    for (method, path, allow) in [
        (Method::GET, "/v1/offices/".to_owned(), "GET, POST"),
        (Method::DELETE, "/v1/offices/".to_owned(), "GET, POST"),
        (Method::GET, format!("/v1/offices/{id}/"), "GET, PATCH"),
        (Method::DELETE, format!("/v1/ledgers/{id}/balance"), "GET"),
        (Method::GET, format!("/v1/ledgers/{id}/balance/"), "GET"),
        (Method::POST, "/v1/feeds/accomplishments".to_owned(), "GET"),
        (Method::PUT, "/v1/me".to_owned(), "GET"),
        (Method::GET, "/v1/me/".to_owned(), "GET"),
    ] {
        let res = app.request(method.clone(), &path, &[], None).await;
        res.problem(405, "method-not-allowed");
        assert_eq!(
            res.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    for (path, field) in [
        ("/v1/ledgers/not-a-uuid/balance".to_owned(), "id"),
        (format!("/v1/ledgers/{id}/entries/nope"), "entry_id"),
    ] {
        let p = app.get(&path).await.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{path}: {p}");
    }
    // A segment's own path, a file-like name beside another route, and a route alone in
    // its segment.
    assert_eq!(app.get("/v1/me").await.status, 200);
    assert_eq!(app.get("/v1/offices").await.status, 200);
    assert_eq!(app.get("/v1/feeds/accomplishments.atom").await.status, 200);
    assert_eq!(app.get("/v1/exports/iati-activities.xml").await.status, 200);
}
