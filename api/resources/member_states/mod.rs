//! `/v1/member-states`: the 35 OAS member states (reference data, seeded by a migration,
//! read-only).

use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::core::error::{ApiError, Problem};
use crate::core::http::Tagged;
use crate::core::i18n::text;
use crate::core::localized::LocalizedText;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::db::schema::member_states;
use crate::formats::page_type;
use crate::state::AppState;

/// An OAS member state.
#[derive(Serialize, ToSchema)]
pub struct MemberState {
    /// ISO 3166-1 alpha-2 code.
    #[schema(example = "PE", pattern = "^[A-Z]{2}$")]
    pub code: String,
    /// ISO 3166-1 alpha-3 code.
    #[schema(example = "PER", pattern = "^[A-Z]{3}$")]
    pub alpha3: String,
    /// ISO 3166-1 numeric code.
    #[schema(example = "604", pattern = "^[0-9]{3}$")]
    pub numeric_code: String,
    /// Short name in the OAS's four official languages.
    pub name: LocalizedText,
    /// ISO 4217 code of the local currency.
    #[schema(example = "PEN", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// When the row last changed (reference data: when it was seeded or last corrected).
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = member_states)]
struct MemberStateRow {
    code: String,
    alpha3: String,
    numeric_code: String,
    name: serde_json::Value,
    currency: String,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<MemberStateRow> for MemberState {
    fn from(r: MemberStateRow) -> Self {
        MemberState {
            code: r.code,
            alpha3: r.alpha3,
            numeric_code: r.numeric_code,
            name: LocalizedText::from_json(r.name),
            currency: r.currency,
            updated_at: r.updated_at,
        }
    }
}

page_type!(MemberStatePage, MemberState, "A page of member states.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum MemberStateSort {
    Code,
    Alpha3,
}

impl SortField for MemberStateSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("code", MemberStateSort::Code),
        ("alpha3", MemberStateSort::Alpha3),
    ];
    const DEFAULT: Self = MemberStateSort::Code;
}

/// Query parameters of the member-state list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberStateQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(minimum = 1, default = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `code` or `alpha3`, prefixed with `-` for descending order.
    #[param(example = "code")]
    pub sort: Option<String>,
    /// Only member states changed at or after this instant (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub updated_since: Option<String>,
}

/// List the member states.
#[utoipa::path(
    context_path = "/member-states",
    tag = "Reference data",
    params(MemberStateQuery),
    responses(
        (status = 200, description = "A page of member states", body = MemberStatePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_member_states(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<MemberStateQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let sort = Sort::<MemberStateSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let updated_since =
        crate::core::validate::param_datetime("updated_since", query.updated_since.as_deref())?;
    let mut conn = state.read_pool().get().await?;
    let mut q = member_states::table
        .select(MemberStateRow::as_select())
        .into_boxed();
    if let Some(t) = updated_since {
        q = q.filter(member_states::updated_at.ge(t));
    }
    // Both sort keys are unique, so each is its own tie-breaker.
    let after = after
        .map(|c| c.value_as::<String>())
        .transpose()?
        .map(|v| (v.clone(), v));
    let q = match sort.field {
        MemberStateSort::Code => keyset!(
            q,
            member_states::code,
            member_states::code,
            sort.desc,
            after
        ),
        MemberStateSort::Alpha3 => {
            keyset!(
                q,
                member_states::alpha3,
                member_states::alpha3,
                sort.desc,
                after
            )
        }
    };
    let rows: Vec<MemberStateRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::Value::String(match sort.field {
            MemberStateSort::Code => r.code.clone(),
            MemberStateSort::Alpha3 => r.alpha3.clone(),
        }),
        id: uuid::Uuid::nil(),
    })
    .map(MemberState::from);
    Ok(MemberStatePage::respond(page, &req))
}

/// Get a member state by its alpha-2 or alpha-3 code.
#[utoipa::path(
    context_path = "/member-states",
    tag = "Reference data",
    params(("code" = String, Path, description = "ISO 3166-1 alpha-2 or alpha-3 code, e.g. `PE` or `PER`")),
    responses(
        (status = 200, description = "The member state", body = MemberState,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such member state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{code}")]
pub async fn get_member_state(
    state: web::Data<AppState>,
    _caller: Caller,
    code: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner().to_ascii_uppercase();
    if !(code.len() == 2 || code.len() == 3) || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::not_found());
    }
    let mut conn = state.pool.get().await?;
    let row: Option<MemberStateRow> = member_states::table
        .filter(
            member_states::code
                .eq(&code)
                .or(member_states::alpha3.eq(&code)),
        )
        .select(MemberStateRow::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    let row = row.ok_or_else(|| {
        ApiError::not_found().with_errors(vec![crate::core::error::FieldError::new(
            "code",
            "unknown",
            text!(
                "is not an OAS member state",
                "no es un estado miembro de la OEA"
            ),
        )])
    })?;
    Ok(Tagged::new(&MemberState::from(row)).ok(&req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    // Reference data no role writes through the API.
    r.under("/member-states")
        .handler_decides()
        .service(list_member_states)
        .service(get_member_state);
}
