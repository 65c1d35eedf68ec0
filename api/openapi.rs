//! The OpenAPI 3.1 document, generated from the handlers themselves: a route exists in
//! the service exactly when it is in the document.

use std::sync::OnceLock;

use actix_web::App;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, PathItem};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Problem, ProblemField, responses};
use crate::{
    agencies, audit, auth, departments, exchange_rates, finance_reports, health, iati, ledgers,
    mandates, member_states, monitoring_reports, offices, projects, service_accounts, stats,
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
        (name = "Ledgers", description = "Expense ledgers: append-only, hash-chained entries, balances, closings"),
        (name = "Exchange rates", description = "Operational rates to US dollars"),
        (name = "Statistics", description = "Aggregates for dashboards, read from summaries kept with every entry; every role, JSON or CSV"),
        (name = "Exports", description = "Published data formats: IATI 2.03 activities"),
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
                         or from the deployment's identity provider. Tokens live 15 minutes.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Operations that need no token.
const PUBLIC: &[&str] = &["/livez", "/readyz", "/metrics", "/v1/auth/token"];

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
                op.security = None;
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

/// Every route under `/v1`.
pub fn v1(cfg: &mut ServiceConfig) {
    cfg.service(member_states::list_member_states)
        .service(member_states::get_member_state)
        .service(departments::list_departments)
        .service(departments::create_department)
        .service(departments::get_department)
        .service(departments::update_department)
        .service(offices::list_offices)
        .service(offices::create_office)
        .service(offices::get_office)
        .service(offices::update_office)
        .service(offices::close_office)
        .service(mandates::list_office_mandates)
        .service(mandates::list_mandates)
        .service(mandates::create_mandate)
        .service(mandates::get_mandate)
        .service(mandates::update_mandate)
        .service(mandates::delete_mandate)
        .service(mandates::list_assignments)
        .service(mandates::create_assignment)
        .service(mandates::get_assignment)
        .service(mandates::update_assignment)
        .service(agencies::list_agencies)
        .service(agencies::create_agency)
        .service(agencies::get_agency)
        .service(agencies::update_agency)
        .service(agencies::delete_agency)
        .service(agencies::suspend_agency)
        .service(agencies::reactivate_agency)
        .service(projects::list_projects)
        .service(projects::create_project)
        .service(projects::get_project)
        .service(projects::update_project)
        .service(projects::delete_project)
        .service(monitoring_reports::list_monitoring_reports)
        .service(monitoring_reports::create_monitoring_report)
        .service(monitoring_reports::get_monitoring_report)
        .service(monitoring_reports::update_monitoring_report)
        .service(service_accounts::issue_token)
        .service(service_accounts::revoke_token)
        .service(auth::me)
        .service(audit::list_audit_events)
        .service(ledgers::list_ledgers)
        .service(ledgers::create_ledger)
        .service(ledgers::get_ledger)
        .service(ledgers::list_entries)
        .service(ledgers::post_entry)
        .service(ledgers::get_entry)
        .service(ledgers::reverse_entry)
        .service(ledgers::get_balance)
        .service(ledgers::close_period)
        .service(ledgers::close_ledger)
        .service(ledgers::verify_ledger)
        .service(exchange_rates::list_rates)
        .service(exchange_rates::create_rate)
        .service(exchange_rates::get_rate)
        .service(stats::spending)
        .service(stats::budget_execution)
        .service(stats::project_counts)
        .service(iati::iati_activities)
        .service(finance_reports::project_budget_execution)
        .service(finance_reports::mandate_expenditures);
}

/// The probes, outside `/v1`.
pub fn operations(cfg: &mut ServiceConfig) {
    cfg.service(health::livez)
        .service(health::readyz)
        .service(crate::ops::metrics_endpoint);
}

/// Builds the document from the routes (no database needed).
fn build() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(operations)
        .service(utoipa_actix_web::scope("/v1").configure(v1))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    require_bearer(&mut doc);
    doc
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
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
