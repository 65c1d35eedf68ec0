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
