//! The OpenAPI 3.1 document, generated from the handlers themselves: a route exists in
//! the service exactly when it is in the document.

use std::sync::OnceLock;

use actix_web::App;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, PathItem};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use super::health;
use crate::auth;
use crate::auth::routes::{RouteResources, Routes};
use crate::core::error::{Problem, ProblemField, responses};
use crate::reports::{exports, finance_reports, iati, reconciliation, stats};
use crate::resources::assets;
use crate::resources::changes;
use crate::resources::webhooks;
use crate::resources::{accomplishments, memoranda};
use crate::resources::{
    agencies, audit, departments, exchange_rates, ledgers, mandates, member_states, offices,
    projects, service_accounts,
};

const DESCRIPTION: &str = include_str!("openapi_description.md");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OGSMS API",
        description = DESCRIPTION,
        contact(name = "Coordinating Office for the Offices and Units of the General Secretariat in the Member States"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(
        schemas(Problem, ProblemField),
        responses(
            responses::BadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::Conflict,
            responses::PreconditionFailed,
            responses::Gone,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::Unprocessable,
            responses::PreconditionRequired,
            responses::TooManyRequests,
            responses::Unavailable,
        )
    ),
    tags(
        (name = "Reference data", description = "Member states, Secretariats and Departments"),
        (name = "Offices", description = "Country offices and the Coordinating Office"),
        (name = "Mandates", description = "Mandates from OAS resolutions and declarations, and their assignment to offices"),
        (name = "Executing agencies", description = "Local partners that execute projects"),
        (name = "Projects", description = "Projects the offices monitor, with their mandates and executing agencies"),
        (name = "Monitoring reports", description = "The offices' periodic monitoring of each project"),
        (name = "Authentication", description = "Tokens, service accounts and the caller's identity"),
        (name = "Audit", description = "The audit trail of every write"),
        (name = "Changes", description = "The change feed: every create, update and delete, in order, with tombstones"),
        (name = "Webhooks", description = "Signed pushes of the change feed to subscribers' URLs"),
        (name = "Ledgers", description = "Expense ledgers: append-only, hash-chained entries, balances, closings"),
        (name = "Exchange rates", description = "Operational rates to US dollars"),
        (name = "Assets", description = "The offices' material resources: inventory, custody, transfers, disposals, physical counts and depreciation"),
        (name = "Statistics", description = "Aggregates for dashboards, read from summaries kept with every entry; every role, JSON or CSV"),
        (name = "Exports", description = "Whole filtered sets in one streamed download (NDJSON or CSV), and the IATI 2.03 activity file"),
        (name = "Memoranda", description = "Administrative Memoranda of the General Secretariat, and each office's acknowledgement and compliance"),
        (name = "Accomplishments", description = "The offices' events and accomplishments, and their public feed (JSON and Atom)"),
        (name = "Operations", description = "Health probes"),
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// Declares the bearer scheme.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT from `POST /v1/auth/token` (client credentials of a service account) \
                         or from the deployment's identity provider. Tokens live 15 minutes. \
                         Tokens are checked as RFC8725 (JWT Best Current Practices) asks: one \
                         algorithm pinned per deployment (HS256, or RS256/EdDSA by `kid` from \
                         a JWKS), never `none`; `exp`, `iss`, `aud` and `sub` required and \
                         checked, `nbf` honoured, and revoked `jti`s refused.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Operations that need no token.
const PUBLIC: &[&str] = &[
    "/livez",
    "/readyz",
    "/metrics",
    "/v1/auth/token",
    "/v1/feeds/accomplishments",
    "/v1/feeds/accomplishments.atom",
];

/// Every operation except the public ones requires a bearer token and may answer 401:
/// the rule is applied here, once, as the `Caller` extractor applies it to requests.
fn require_bearer(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{Ref, RefOr};
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            if PUBLIC.contains(&path.as_str()) {
                // Said explicitly: an empty requirement is "no token needed".
                op.security = Some(vec![SecurityRequirement::default()]);
                continue;
            }
            op.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
            op.responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Unauthorized")));
            // The per-caller rate limit applies wherever a token does.
            op.responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name("TooManyRequests")));
        }
    }
}

/// Every list (a GET whose 200 is a `…Page`) also answers CSV, and every list and export
/// takes `format` and `bom` (read by the middleware, see [`crate::formats`]): documented
/// here, once, as the middleware applies it.
fn document_formats(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Required};

    let string = |values: Option<&[&str]>, default: Option<&str>| {
        let mut b = ObjectBuilder::new().schema_type(Type::String);
        if let Some(v) = values {
            b = b.enum_values(Some(v.iter().copied()));
        }
        if let Some(d) = default {
            b = b.default(Some(serde_json::json!(d)));
        }
        b.build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(op) = item.get.as_mut() else {
            continue;
        };
        // The IATI file is XML only; it takes neither `format` nor `bom`.
        let export = path.starts_with("/v1/exports/") && !path.ends_with(".xml");
        let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
            continue;
        };
        let list = ok
            .content
            .get("application/json")
            .and_then(|c| match c {
                RefOr::T(c) => c.schema.as_ref(),
                RefOr::Ref(_) => None,
            })
            .is_some_and(|s| matches!(s, RefOr::Ref(r) if r.ref_location.ends_with("Page")));
        // A report that declares a CSV answer of its own (the statistics) takes them too.
        let report = !list && !export && ok.content.contains_key("text/csv");
        if !list && !export && !report {
            continue;
        }
        if export {
            for (media, text) in [
                (
                    "application/x-ndjson",
                    "One JSON object a line (this schema, as in the list), each line ended by \
                     `\\n`, in the export's stable order.",
                ),
                (
                    "text/csv",
                    "The whole set as CSV, with the columns of the list's CSV (see the \
                     `text/csv` answers of the lists).",
                ),
            ] {
                if let Some(RefOr::T(c)) = ok.content.get_mut(media) {
                    c.description = Some(text.to_owned());
                }
            }
        }
        if list {
            ok.content.insert(
                "text/csv".to_owned(),
                RefOr::T(
                    ContentBuilder::new()
                        .schema(Some(string(None, None)))
                        .description(Some(
                            "The page's items as CSV (RFC 4180, UTF-8): a header row, then one \
                             row per item; nested fields as `parent_child` columns, money as \
                             `x_amount` and `x_currency`, codes followed by `x_label`, localized \
                             texts in the `Accept-Language` language, parents' codes repeated \
                             on child rows. `Link` carries the next page.",
                        ))
                        .build(),
                ),
            );
        }
        let syncs = op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.name == "updated_since",
            RefOr::Ref(_) => false,
        });
        if syncs {
            ok.headers.insert(
                "X-Sync-Watermark".to_owned(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                    utoipa::openapi::KnownFormat::DateTime,
                                )))
                                .build(),
                        ))
                        .description(Some(
                            "With `updated_since`: every change before this instant is in this \
                             answer (or an earlier one) and none at or after it; poll again with \
                             `updated_since` set to it to miss nothing.",
                        ))
                        .build(),
                ),
            );
        }
        let (formats, default, description): (&[&str], &str, &str) = if export {
            (
                &["ndjson", "csv"],
                "ndjson",
                "The representation (overrides `Accept`): NDJSON (one JSON object a line) or CSV.",
            )
        } else if report {
            (
                &["json", "csv"],
                "json",
                "The representation (overrides `Accept`): JSON, or CSV of the rows.",
            )
        } else {
            (
                &["json", "csv"],
                "json",
                "The representation (overrides `Accept`): JSON, or CSV of this page's items.",
            )
        };
        let params = op.parameters.get_or_insert_with(Vec::new);
        params.push(RefOr::T(
            ParameterBuilder::new()
                .name("format")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(string(Some(formats), Some(default))))
                .build(),
        ));
        params.push(RefOr::T(
            ParameterBuilder::new()
                .name("bom")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "`true` starts CSV with a UTF-8 byte order mark, for Excel.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .default(Some(serde_json::json!(false)))
                        .build(),
                ))
                .build(),
        ));
    }
}

/// Every route under `/v1`: each folder registers its own, saying which first path
/// segment they are under and what they write (`auth::routes`), into `table`; they are
/// mounted in one scope per segment, within which the order is the order of matching.
pub fn v1(cfg: &mut ServiceConfig, table: &mut RouteResources) {
    let mut routes = Routes::new(cfg, "/v1", table);
    let r = &mut routes;
    member_states::routes(r);
    departments::routes(r);
    offices::routes(r);
    mandates::routes(r);
    agencies::routes(r);
    projects::routes(r);
    assets::routes(r);
    service_accounts::routes(r);
    r.under("/me").handler_decides().service(auth::me::me);
    audit::routes(r);
    changes::routes(r);
    webhooks::routes(r);
    ledgers::routes(r);
    exchange_rates::routes(r);
    exports::routes(r);
    stats::routes(r);
    iati::routes(r);
    finance_reports::routes(r);
    memoranda::routes(r);
    accomplishments::routes(r);
    reconciliation::routes(r);
    routes.finish();
}

/// The probes, outside `/v1`.
pub fn operations(cfg: &mut ServiceConfig) {
    cfg.service(health::livez)
        .service(health::readyz)
        .service(health::metrics_endpoint);
}

/// What every `/v1` route declared it writes, as the app's body gate reads it.
pub fn route_resources() -> RouteResources {
    let mut table = RouteResources::default();
    let _ = App::new()
        .into_utoipa_app()
        .service(utoipa_actix_web::scope("/v1").configure(|cfg| v1(cfg, &mut table)))
        .split_for_parts();
    table
}

/// Builds the document from the routes (no database needed).
fn build() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(operations)
        .service(utoipa_actix_web::scope("/v1").configure(|cfg| {
            v1(cfg, &mut RouteResources::default());
        }))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    require_bearer(&mut doc);
    document_formats(&mut doc);
    link_creations(&mut doc);
    let mut json = serde_json::to_value(&doc).expect("the document serializes");
    document_limits_and_headers(&mut json);
    document_text_patterns(&mut json);
    document_dry_run(&mut json);
    serde_json::from_value(json).expect("the document reads back")
}

/// The grammars of the request fields, each ONE constant shared with the check that
/// applies it, so that the document and the service cannot drift: a field's
/// `#[schema(pattern = "<name>")]` becomes the constant its placeholder names (below),
/// with `minLength: 1` (which each implies, said for generators and readers).
fn document_text_patterns(doc: &mut serde_json::Value) {
    use crate::core::validate::{
        EMAIL_PATTERN, LINE_PATTERN, PHONE_PATTERN, TEXT_PATTERN, URL_PATTERN,
    };
    use serde_json::{Value, json};

    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                let pattern = match m.get("pattern").and_then(Value::as_str) {
                    Some("<line>") => Some(LINE_PATTERN),
                    Some("<text>") => Some(TEXT_PATTERN),
                    Some("<email>") => Some(EMAIL_PATTERN),
                    Some("<phone>") => Some(PHONE_PATTERN),
                    Some("<url>") => Some(URL_PATTERN),
                    Some("<mandate_reference>") => {
                        Some(crate::resources::mandates::reference::REFERENCE_PATTERN)
                    }
                    Some("<percentage>") => {
                        Some(crate::resources::projects::iati_fields::PERCENTAGE_PATTERN)
                    }
                    Some("<period>") => {
                        Some(crate::resources::projects::monitoring_reports::PERIOD_PATTERN)
                    }
                    Some("<webhook_url>") => Some(crate::resources::webhooks::WEBHOOK_URL_PATTERN),
                    Some("<amount>") => Some(crate::core::money::AMOUNT_PATTERN),
                    Some("<rate>") => Some(crate::core::money::rate_pattern()),
                    Some("<org_identifier>") => {
                        Some(crate::resources::shared::iati::org_identifier_pattern())
                    }
                    Some(p) if p.starts_with('<') => panic!("unknown pattern placeholder {p}"),
                    _ => None,
                };
                if let Some(p) = pattern {
                    m.insert("pattern".into(), json!(p));
                    m.entry("minLength").or_insert(json!(1));
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(doc);
}

/// `Prefer: dry-run` on every write (`db::dry_run`), and the `Preference-Applied` that
/// says it was honoured.
fn document_dry_run(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    doc["components"]["parameters"]["PreferDryRun"] = json!({
        "name": "Prefer",
        "in": "header",
        "required": false,
        "description": "`dry-run` (RFC 7240): run the write in full (validation, authorization, \
                        business rules such as insufficient funds, closed periods and \
                        life-cycle transitions, `Idempotency-Key` replays) and answer what it \
                        would answer, status and body, but change nothing: no row, no audit \
                        event, no idempotency key, no change event. The response carries \
                        `Preference-Applied: dry-run` and no `Location`; ids and sequence \
                        numbers in its body are the ones the write would have had at that \
                        moment and are never assigned (a real call gets new ones). Other \
                        preferences are ignored (RFC 7240 §2), so the schema takes any.",
        "schema": {"type": "string"},
        "example": "dry-run",
    });
    let applied = json!({
        "description": "`dry-run` when the request was a dry-run: nothing was changed.",
        "schema": {"type": "string", "enum": ["dry-run"]},
    });
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !matches!(method.as_str(), "post" | "put" | "patch" | "delete") {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let parameters = op.entry("parameters").or_insert_with(|| json!([]));
            if let Some(parameters) = parameters.as_array_mut() {
                parameters.push(json!({"$ref": "#/components/parameters/PreferDryRun"}));
            }
            if let Some(Value::Object(responses)) = op.get_mut("responses") {
                for (status, r) in responses.iter_mut() {
                    if status.starts_with('2')
                        && let Some(r) = r.as_object_mut()
                    {
                        let headers = r.entry("headers").or_insert_with(|| json!({}));
                        headers["Preference-Applied"] = applied.clone();
                    }
                }
            }
        }
    }
}

/// OpenAPI links from every creation (a `POST` on a collection answering 201) to the
/// new resource's read and update (`GET`/`PATCH` on the collection's `/{…}` path): the
/// new id comes from the body, the parents' ids from the request's path, the update's
/// `If-Match` from the `ETag` the creation answered. Clients (and stateful testing)
/// can follow them.
fn link_creations(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;
    let mut links = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        let Some(post) = &item.post else { continue };
        if !post
            .responses
            .responses
            .get("201")
            .is_some_and(|r| matches!(r, RefOr::T(_)))
        {
            continue;
        }
        // The item path: this path and one more `{param}` segment.
        let Some((item_path, target)) = doc.paths.paths.iter().find(|(p, _)| {
            p.strip_prefix(path.as_str())
                .and_then(|rest| rest.strip_prefix("/{"))
                .is_some_and(|rest| rest.ends_with('}') && !rest.contains('/'))
        }) else {
            continue;
        };
        let names: Vec<&str> = item_path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let params: Vec<(String, String)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let value = if i + 1 == names.len() {
                    "$response.body#/id".to_owned()
                } else {
                    format!("$request.path.{name}")
                };
                ((*name).to_owned(), value)
            })
            .collect();
        for (op, name, etag) in [
            (&target.get, "read", false),
            (&target.patch, "update", true),
        ] {
            let Some(id) = op.as_ref().and_then(|o| o.operation_id.clone()) else {
                continue;
            };
            let mut link = LinkBuilder::new()
                .operation_id(id.clone())
                .description(format!("The created resource, by `{id}`."));
            for (n, v) in &params {
                link = link.parameter(format!("path.{n}"), v.clone());
            }
            if etag {
                link = link.parameter("header.If-Match", "$response.header.ETag");
            }
            links.push((path.clone(), name, link.build()));
        }
    }
    for (path, name, link) in links {
        let post = doc
            .paths
            .paths
            .get_mut(&path)
            .and_then(|i| i.post.as_mut())
            .expect("found above");
        if let Some(RefOr::T(created)) = post.responses.responses.get_mut("201") {
            created.links.insert(name.to_owned(), RefOr::T(link));
        }
    }
}

/// What every operation may answer, applied to the document as JSON once the routes made
/// it (the same rules the middleware applies to every response):
/// - `500` and `503` problems on every operation (`503` when the database is out);
/// - the `RateLimit-*` headers on every 2xx and 4xx of an operation that needs a token
///   (the budget is per caller), and `Access-Control-Allow-Origin` on every response;
/// - integer schemas bounded by their format (`int32`, `int64`), the `items` of a page
///   by the page size (500);
/// - a media type's `description` (not allowed there in OpenAPI 3.1) moved to its schema.
fn document_limits_and_headers(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};

    fn walk(v: &mut Value, f: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
        match v {
            Value::Object(m) => {
                f(m);
                m.values_mut().for_each(|c| walk(c, f));
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, f)),
            _ => {}
        }
    }
    let int = |m: &serde_json::Map<String, Value>| match m.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    walk(doc, &mut |m| {
        if int(m) {
            let (lo, hi) = match m.get("format").and_then(Value::as_str) {
                Some("int32") => (json!(i32::MIN), json!(i32::MAX)),
                _ => (json!(i64::MIN), json!(i64::MAX)),
            };
            if !m.contains_key("minimum") && !m.contains_key("exclusiveMinimum") {
                m.insert("minimum".into(), lo);
            }
            if !m.contains_key("maximum") && !m.contains_key("exclusiveMaximum") {
                m.insert("maximum".into(), hi);
            }
        }
    });

    let header = |description: &str| {
        json!({
            "description": description,
            "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX}
        })
    };
    let rate_headers = json!({
        "RateLimit-Limit": header("The caller's burst: requests it may make at once."),
        "RateLimit-Remaining": header("Requests the caller has left in its burst."),
        "RateLimit-Reset": header("Seconds until the caller's whole burst is available again."),
    });
    let cors = json!({
        "description": "The request's `Origin`, when it is one of the deployment's dashboard \
                        origins (`OGSMS_CORS_ORIGINS`); absent otherwise.",
        "schema": {"type": "string", "maxLength": 2048}
    });
    let add_headers = |resp: &mut Value, status: &str, limited: bool| {
        let Some(r) = resp.as_object_mut() else {
            return;
        };
        if r.contains_key("$ref") {
            return;
        }
        let headers = r
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("headers are an object");
        if limited && (status.starts_with('2') || status.starts_with('4')) {
            for (k, v) in rate_headers.as_object().expect("object") {
                headers.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        headers
            .entry("Access-Control-Allow-Origin")
            .or_insert_with(|| cors.clone());
        if let Some(Value::Object(content)) = r.get_mut("content") {
            for media in content.values_mut() {
                let Some(media) = media.as_object_mut() else {
                    continue;
                };
                if let Some(d) = media.remove("description")
                    && let Some(Value::Object(schema)) = media.get_mut("schema")
                {
                    schema.entry("description").or_insert(d);
                }
            }
        }
    };

    // Relative to wherever the document was fetched from: every deployment (local,
    // staging, production) serves its own.
    doc["servers"] = json!([{
        "url": "/",
        "description": "This deployment (local, staging or production): the one that served \
                        this document.",
        "x-internal": false
    }]);
    for name in ["TooManyRequests", "Unavailable"] {
        if let Some(Value::Object(r)) = doc["components"]["responses"].get_mut(name) {
            let headers = r.entry("headers").or_insert_with(|| json!({}));
            headers["Retry-After"] = json!({
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX}
            });
        }
    }
    // The problem every operation may answer when something unexpected fails.
    doc["components"]["responses"]["InternalError"] = json!({
        "description": "An unexpected failure; the problem's `instance` and the `X-Request-Id` \
                        name it in the service's log. Nothing was changed.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    if let Some(Value::Object(responses)) = doc["components"].get_mut("responses") {
        for (status, r) in responses.iter_mut() {
            // Shared responses: the rate limit headers are there when a token was needed.
            let kind = if matches!(status.as_str(), "InternalError" | "Unavailable") {
                "5xx"
            } else {
                "4xx"
            };
            add_headers(r, kind, true);
        }
    }
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            // The public feed is limited per client address, with the same headers.
            let limited =
                !PUBLIC.contains(&path.as_str()) || path.starts_with("/v1/feeds/accomplishments");
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(Value::Object(responses)) = op.get_mut("responses") else {
                    continue;
                };
                responses
                    .entry("500")
                    .or_insert_with(|| json!({"$ref": "#/components/responses/InternalError"}));
                if path != "/livez" && path != "/metrics" {
                    responses
                        .entry("503")
                        .or_insert_with(|| json!({"$ref": "#/components/responses/Unavailable"}));
                }
                for (status, r) in responses.iter_mut() {
                    add_headers(r, status, limited);
                }
            }
        }
    }
    // Parameters: what the handlers check, in the schema, so that clients and fuzzers
    // know it (a sort's fields are the backquoted names of its description).
    const UUID: &str =
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    walk(doc, &mut |m| {
        if !(m.contains_key("in") && m.contains_key("name") && m.contains_key("schema")) {
            return;
        }
        let name = m["name"].as_str().unwrap_or_default().to_owned();
        let in_query = m.get("in") == Some(&json!("query"));
        let required = m.get("required") == Some(&json!(true));
        let description = m
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(schema) = m.get_mut("schema").and_then(Value::as_object_mut) else {
            return;
        };
        let string = match schema.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
            _ => false,
        };
        if !string || schema.contains_key("format") {
            return;
        }
        match name.as_str() {
            "sort" => {
                let mut fields: Vec<String> = Vec::new();
                for (i, part) in description.split('`').enumerate() {
                    let field = part.trim_start_matches('-');
                    if i % 2 == 1 && !field.is_empty() && !fields.iter().any(|f| f == field) {
                        fields.push(field.to_owned());
                    }
                }
                let values: Vec<String> = fields
                    .iter()
                    .flat_map(|f| [f.clone(), format!("-{f}")])
                    .collect();
                schema.insert("enum".into(), json!(values));
            }
            // A cursor is what a list returned: base64url without padding
            // (`Cursor::encode`); any other is a 400 whatever the role, and a NUL in it a
            // 400 before authorization (`formats::prepare`).
            "cursor" => {
                schema.insert("minLength".into(), json!(1));
                schema.insert("maxLength".into(), json!(1024));
                schema.insert(
                    "pattern".into(),
                    json!(crate::core::pagination::CURSOR_PATTERN),
                );
            }
            // Where it is required, an empty one counts as missing (428).
            "If-Match" if required => {
                schema.insert("minLength".into(), json!(1));
            }
            "Idempotency-Key" => {
                schema.insert("pattern".into(), json!("^[!-~]{1,255}$"));
            }
            "actor" => {
                schema.insert("minLength".into(), json!(1));
                schema.insert("maxLength".into(), json!(200));
            }
            n if n.ends_with("_id") && description.contains("comma-separated") => {
                // Empty is the empty set (matches nothing), as for every list filter.
                schema.insert("pattern".into(), json!(format!("^({UUID}(,{UUID})*)?$")));
            }
            _ => {}
        }
        // No query value may hold a NUL (`formats::prepare` refuses it, before any
        // handler authorizes): said where nothing stricter says it already.
        if in_query && !schema.contains_key("pattern") && !schema.contains_key("enum") {
            schema.insert("pattern".into(), json!("^[^\\u0000]*$"));
        }
    });

    // A localized text has at least one language, none blank (what
    // `LocalizedText::validate` checks; field-specific lengths stay in the fields' docs).
    if let Some(Value::Object(t)) = doc["components"]["schemas"].get_mut("LocalizedText") {
        t.insert("minProperties".into(), json!(1));
        if let Some(Value::Object(props)) = t.get_mut("properties") {
            for p in props.values_mut() {
                if let Some(p) = p.as_object_mut() {
                    p.insert("minLength".into(), json!(1));
                    p.insert("pattern".into(), json!("\\S"));
                }
            }
        }
    }

    // A page holds at most 500 items (`limit` ≤ 500).
    if let Some(Value::Object(schemas)) = doc["components"].get_mut("schemas") {
        for (name, schema) in schemas.iter_mut() {
            if name.ends_with("Page")
                && let Some(items) = schema.pointer_mut("/properties/items")
                && let Some(items) = items.as_object_mut()
            {
                items.entry("maxItems").or_insert(json!(500));
            }
        }
    }
}

// The document lays out the CSV columns of the formats floor, which cannot see it.
inventory::submit! { crate::formats::Document(document) }

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

/// `GET /openapi.json`: the document as compact JSON, serialized once. Swagger UI's own
/// route kept a copy of the document's structure per worker and serialized it again at
/// every request; the copies were ~5 MB each of the service's resident memory (massif of
/// `ogsms serve` at start, issue 19's export memory target).
pub async fn serve_document() -> actix_web::HttpResponse {
    static JSON: OnceLock<actix_web::web::Bytes> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        serde_json::to_vec(document())
            .expect("the document serializes")
            .into()
    });
    actix_web::HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(body.clone())
}

/// The document as committed in `openapi/openapi.json`: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut s = document()
        .to_pretty_json()
        .expect("the document serializes");
    s.push('\n');
    s
}

fn methods(item: &PathItem) -> Vec<&'static str> {
    [
        (HttpMethod::Get, &item.get, "GET"),
        (HttpMethod::Put, &item.put, "PUT"),
        (HttpMethod::Post, &item.post, "POST"),
        (HttpMethod::Delete, &item.delete, "DELETE"),
        (HttpMethod::Patch, &item.patch, "PATCH"),
    ]
    .into_iter()
    .filter(|(_, op, _)| op.is_some())
    .map(|(_, _, name)| name)
    .collect()
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The methods the document has for a concrete path (empty when no template matches).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = document()
        .paths
        .paths
        .iter()
        .filter(|(template, _)| template_matches(template, path))
        .flat_map(|(_, item)| methods(item))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
