//! `/v1/mandates`: organizational mandates from the resolutions and declarations of the
//! General Assembly, the Permanent Council and CIDI; and `/v1/mandates/{id}/assignments`,
//! a mandate assigned to an office to execute (also listed per office at
//! `/v1/offices/{id}/mandates`).

pub mod assignments;
pub mod reference;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::{LocalizedText, LocalizedText500, LocalizedText4000};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::{mandate_assignments, mandates, offices, project_mandates};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
pub use crate::resources::shared::Pillar;
use crate::resources::shared::{
    delete_error, localized_sql, param_search, search_condition, still_referenced,
};
use crate::state::AppState;
pub use reference::{
    DocumentKind, IssuingBody, ParsedReference, parse_reference, roman_value, shapes,
};

string_enum! {
    /// Whether a mandate still calls for action.
    pub enum MandateStatus {
        InForce = "in_force" ("In force", "Vigente"),
        Fulfilled = "fulfilled" ("Fulfilled", "Cumplido"),
        Superseded = "superseded" ("Superseded", "Reemplazado"),
    }
}

string_enum! {
    /// Progress of an assignment. It moves only forward: `assigned` → `in_progress` →
    /// `fulfilled`, and from `assigned` or `in_progress` to `not_applicable`.
    pub enum AssignmentStatus {
        Assigned = "assigned" ("Assigned", "Asignado"),
        InProgress = "in_progress" ("In progress", "En curso"),
        Fulfilled = "fulfilled" ("Fulfilled", "Cumplido"),
        NotApplicable = "not_applicable" ("Not applicable", "No aplicable"),
    }
}

impl AssignmentStatus {
    /// Whether an assignment may move from `self` to `to` (a different status).
    pub fn may_become(self, to: AssignmentStatus) -> bool {
        use AssignmentStatus::*;
        matches!(
            (self, to),
            (Assigned, InProgress)
                | (InProgress, Fulfilled)
                | (Assigned, NotApplicable)
                | (InProgress, NotApplicable)
        )
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "mandates_reference_key",
        field: "reference",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "mandate_assignments_mandate_office_key",
        field: "office_id",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "mandate_assignments_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

// ---------------------------------------------------------------------------------------
// Mandates
// ---------------------------------------------------------------------------------------

/// An organizational mandate.
#[derive(Serialize, ToSchema)]
pub struct Mandate {
    pub id: Uuid,
    /// The OAS citation, unique.
    #[schema(example = "AG/RES. 2976 (LII-O/22)")]
    pub reference: String,
    /// Derived from the reference.
    pub issuing_body: IssuingBody,
    /// Derived from the reference.
    pub document_kind: DocumentKind,
    /// The day of adoption; its year agrees with the reference's two-digit year.
    pub adopted_on: NaiveDate,
    pub pillar: Pillar,
    pub title: LocalizedText,
    pub summary: Option<LocalizedText>,
    pub status: MandateStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mandates)]
struct MandateRow {
    id: Uuid,
    reference: String,
    issuing_body: String,
    document_kind: String,
    adopted_on: NaiveDate,
    pillar: String,
    title: serde_json::Value,
    summary: Option<serde_json::Value>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<MandateRow> for Mandate {
    fn from(r: MandateRow) -> Self {
        Mandate {
            id: r.id,
            reference: r.reference,
            issuing_body: IssuingBody::from_db(&r.issuing_body),
            document_kind: DocumentKind::from_db(&r.document_kind),
            adopted_on: r.adopted_on,
            pillar: Pillar::from_db(&r.pillar),
            title: LocalizedText::from_json(r.title),
            summary: r.summary.map(LocalizedText::from_json),
            status: MandateStatus::from_db(&r.status),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new mandate.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"reference": "AG/RES. 2999 (LII-O/22)", "adopted_on": "2022-10-07", "pillar": "democracy", "title": {"en": "Strengthening democracy"}}))]
#[serde(deny_unknown_fields)]
pub struct NewMandate {
    /// The OAS citation: `AG/RES. 2976 (LII-O/22)`, `AG/DEC. 74 (XLIV-O/14)`,
    /// `CP/RES. 1234 (2345/22)`, `CIDI/RES. 123 (XX-O/15)`.
    #[schema(
        example = "AG/RES. 2976 (LII-O/22)",
        pattern = "<mandate_reference>",
        max_length = 64
    )]
    pub reference: String,
    /// Optional: derived from the reference, and a 422 when it disagrees.
    #[serde(default)]
    pub issuing_body: Option<IssuingBody>,
    /// Optional: derived from the reference, and a 422 when it disagrees.
    #[serde(default)]
    pub document_kind: Option<DocumentKind>,
    /// Not in the future; in the year the reference names.
    pub adopted_on: NaiveDate,
    pub pillar: Pillar,
    #[schema(value_type = LocalizedText500)]
    pub title: LocalizedText,
    #[serde(default)]
    #[schema(value_type = Option<LocalizedText4000>)]
    pub summary: Option<LocalizedText>,
    /// Default `in_force`.
    #[serde(default)]
    pub status: Option<MandateStatus>,
}

/// Changes to a mandate (JSON merge patch: an absent field is unchanged, `null` clears
/// `summary`). `issuing_body` and `document_kind` follow the reference; when given they
/// must agree with it.
#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"title": {"en": "Strengthening democracy in the Americas"}}))]
#[serde(deny_unknown_fields)]
pub struct MandatePatch {
    #[schema(nullable = false, pattern = "<mandate_reference>", max_length = 64)]
    pub reference: Option<String>,
    #[schema(value_type = IssuingBody, required = false)]
    pub issuing_body: Option<IssuingBody>,
    #[schema(value_type = DocumentKind, required = false)]
    pub document_kind: Option<DocumentKind>,
    /// Not in the future; in the year the reference (as patched or stored) names.
    #[schema(nullable = false)]
    pub adopted_on: Option<NaiveDate>,
    #[schema(value_type = Pillar, required = false)]
    pub pillar: Option<Pillar>,
    #[schema(value_type = LocalizedText500, required = false)]
    pub title: Option<LocalizedText>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LocalizedText4000>)]
    pub summary: Option<Option<LocalizedText>>,
    #[schema(value_type = MandateStatus, required = false)]
    pub status: Option<MandateStatus>,
}

const MANDATE_READ_ONLY: &[&str] = &["id", "created_at", "updated_at"];

/// Checks a mandate and derives its issuing body and document kind from its reference.
/// `given` are the values the client sent for them (each must agree); `year_field` is the
/// field blamed when the reference's year and `adopted_on` disagree.
fn validate_mandate(
    m: &mut Mandate,
    given: (Option<IssuingBody>, Option<DocumentKind>),
    year_field: &str,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if m.reference.chars().count() > 64 {
        errors.push(FieldError::new("reference", "invalid_format", shapes()));
    } else {
        match parse_reference(&m.reference) {
            Err((code, message)) => errors.push(FieldError::new("reference", code, message)),
            Ok(parsed) => {
                m.issuing_body = parsed.issuing_body;
                m.document_kind = parsed.document_kind;
                if given.0.is_some_and(|b| b != parsed.issuing_body) {
                    let body = parsed.issuing_body;
                    errors.push(FieldError::new(
                        "issuing_body",
                        "contradicts_reference",
                        text!("the reference names {body}", "la referencia indica {body}"),
                    ));
                }
                if given.1.is_some_and(|k| k != parsed.document_kind) {
                    let kind = parsed.document_kind;
                    errors.push(FieldError::new(
                        "document_kind",
                        "contradicts_reference",
                        text!(
                            "the reference names a {kind}",
                            "la referencia indica {kind}"
                        ),
                    ));
                }
                let year = m.adopted_on.year().rem_euclid(100) as u32;
                if year != parsed.year {
                    let (yy, adopted) = (parsed.year, m.adopted_on);
                    errors.push(FieldError::new(
                        year_field,
                        "year_mismatch",
                        text!(
                            "the reference's year /{yy:02} does not match adopted_on {adopted}",
                            "el año /{yy:02} de la referencia no coincide con adopted_on {adopted}"
                        ),
                    ));
                }
            }
        }
    }
    if m.adopted_on > Utc::now().date_naive() {
        errors.push(FieldError::new(
            "adopted_on",
            "in_future",
            text!("must not be in the future", "no puede ser una fecha futura"),
        ));
    }
    m.title
        .validate("title", LocalizedText500::MAX_CHARS, &mut errors);
    if let Some(s) = &m.summary {
        s.validate("summary", LocalizedText4000::MAX_CHARS, &mut errors);
    }
    validate::finish(errors)
}

page_type!(MandatePage, Mandate, "A page of mandates.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum MandateSort {
    Reference,
    AdoptedOn,
    UpdatedAt,
}

impl SortField for MandateSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("reference", MandateSort::Reference),
        ("adopted_on", MandateSort::AdoptedOn),
        ("updated_at", MandateSort::UpdatedAt),
    ];
    const DEFAULT: Self = MandateSort::Reference;
}

/// Query parameters of the mandate list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MandateQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `reference` (the default), `adopted_on` or `updated_at`, prefixed with `-` for
    /// descending order.
    #[param(example = "-adopted_on")]
    pub sort: Option<String>,
    /// Pillars, comma-separated.
    #[param(example = "democracy")]
    pub pillar: Option<String>,
    /// `in_force`, `fulfilled` and/or `superseded`, comma-separated.
    #[param(example = "in_force")]
    pub status: Option<String>,
    /// `general_assembly`, `permanent_council` and/or `cidi`, comma-separated.
    pub issuing_body: Option<String>,
    /// `resolution` and/or `declaration`, comma-separated.
    pub document_kind: Option<String>,
    /// Only mandates adopted on or after this date.
    #[param(value_type = Option<NaiveDate>)]
    pub adopted_from: Option<String>,
    /// Only mandates adopted on or before this date.
    #[param(value_type = Option<NaiveDate>)]
    pub adopted_to: Option<String>,
    /// Text searched in the reference and the title (every language), ignoring case and
    /// accents.
    #[param(example = "cooperacion")]
    pub q: Option<String>,
    /// Only mandates changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List mandates.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(MandateQuery),
    responses(
        (status = 200, description = "A page of mandates", body = MandatePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_mandates(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<MandateQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<MandateSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let pillars = query
        .pillar
        .as_deref()
        .map(|s| Pillar::parse_filter("pillar", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| MandateStatus::parse_filter("status", s))
        .transpose()?;
    let bodies = query
        .issuing_body
        .as_deref()
        .map(|s| IssuingBody::parse_filter("issuing_body", s))
        .transpose()?;
    let kinds = query
        .document_kind
        .as_deref()
        .map(|s| DocumentKind::parse_filter("document_kind", s))
        .transpose()?;
    let adopted_from = validate::param_date("adopted_from", query.adopted_from.as_deref())?;
    let adopted_to = validate::param_date("adopted_to", query.adopted_to.as_deref())?;
    let search = param_search(query.q.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = mandates::table.select(MandateRow::as_select()).into_boxed();
    if let Some(v) = pillars {
        q = crate::core::pagination::filter_in!(q, mandates::pillar, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, mandates::status, v);
    }
    if let Some(v) = bodies {
        q = crate::core::pagination::filter_in!(q, mandates::issuing_body, v);
    }
    if let Some(v) = kinds {
        q = crate::core::pagination::filter_in!(q, mandates::document_kind, v);
    }
    if let Some(d) = adopted_from {
        q = q.filter(mandates::adopted_on.ge(d));
    }
    if let Some(d) = adopted_to {
        q = q.filter(mandates::adopted_on.le(d));
    }
    if let Some(term) = search {
        let haystack = format!(
            "mandates.reference || ' ' || {}",
            localized_sql("mandates.title")
        );
        q = q.filter(search_condition(&haystack, &term));
    }
    if let Some(t) = updated_since {
        q = q.filter(mandates::updated_at.ge(t));
    }
    let q = match sort.field {
        MandateSort::Reference => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, mandates::reference, mandates::id, sort.desc, after)
        }
        MandateSort::AdoptedOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, mandates::adopted_on, mandates::id, sort.desc, after)
        }
        MandateSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, mandates::updated_at, mandates::id, sort.desc, after)
        }
    };
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<MandateRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            MandateSort::Reference => serde_json::json!(r.reference),
            MandateSort::AdoptedOn => serde_json::json!(r.adopted_on),
            MandateSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Mandate::from);
    Ok(MandatePage::respond(page, &req))
}

/// Loads a mandate, locking its row when `for_update`.
async fn load(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Mandate, ApiError> {
    let q = mandates::table.find(id).select(MandateRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(Mandate::from).ok_or_else(ApiError::not_found)
}

/// Get a mandate.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(("id" = Uuid, Path, description = "The mandate's id")),
    responses(
        (status = 200, description = "The mandate", body = Mandate,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_mandate(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let mandate = load(&mut conn, id.into_inner(), false).await?;
    Ok(Tagged::new(&mandate).ok(&req))
}

/// Create a mandate.
///
/// The issuing body and the document kind are derived from the reference, which is
/// unique (409).
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    request_body = NewMandate,
    responses(
        (status = 201, description = "The mandate was created", body = Mandate,
         headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("")]
pub async fn create_mandate(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewMandate>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_reference_data()?;
    let new = body.0;
    let now = Utc::now();
    let mut mandate = Mandate {
        id: Uuid::now_v7(),
        reference: new.reference,
        issuing_body: IssuingBody::GeneralAssembly,
        document_kind: DocumentKind::Resolution,
        adopted_on: new.adopted_on,
        pillar: new.pillar,
        title: new.title,
        summary: new.summary,
        status: new.status.unwrap_or(MandateStatus::InForce),
        created_at: now,
        updated_at: now,
    };
    validate_mandate(
        &mut mandate,
        (new.issuing_body, new.document_kind),
        "adopted_on",
    )?;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let row: MandateRow = diesel::insert_into(mandates::table)
                .values((
                    mandates::id.eq(mandate.id),
                    mandates::reference.eq(&mandate.reference),
                    mandates::issuing_body.eq(mandate.issuing_body.as_str()),
                    mandates::document_kind.eq(mandate.document_kind.as_str()),
                    mandates::adopted_on.eq(mandate.adopted_on),
                    mandates::pillar.eq(mandate.pillar.as_str()),
                    mandates::title.eq(mandate.title.to_json()),
                    mandates::summary.eq(mandate.summary.as_ref().map(LocalizedText::to_json)),
                    mandates::status.eq(mandate.status.as_str()),
                ))
                .returning(MandateRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Mandate::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "mandate",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/mandates/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update a mandate.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale).
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(
        ("id" = Uuid, Path, description = "The mandate's id"),
        ("If-Match" = String, Header, description = "The ETag of the mandate as last read"),
    ),
    request_body(content = MandatePatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated mandate", body = Mandate, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 428, response = crate::core::error::responses::PreconditionRequired),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[patch("/{id}")]
pub async fn update_mandate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load(conn, id, true).await?;
            caller.may_manage_reference_data()?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, MANDATE_READ_ONLY)?;
            validate::reject_null(
                &body.0,
                &[
                    "reference",
                    "issuing_body",
                    "document_kind",
                    "adopted_on",
                    "pillar",
                    "title",
                    "status",
                ],
            )?;
            let before = Tagged::new(&current);
            let patch: MandatePatch = from_value(body.0.clone())?;
            // A year mismatch is blamed on the field the client changed.
            let year_field = if patch.reference.is_some() && patch.adopted_on.is_none() {
                "reference"
            } else {
                "adopted_on"
            };
            let mut next = current;
            if let Some(v) = patch.reference {
                next.reference = v;
            }
            if let Some(v) = patch.adopted_on {
                next.adopted_on = v;
            }
            if let Some(v) = patch.pillar {
                next.pillar = v;
            }
            if let Some(v) = patch.title {
                next.title = v;
            }
            if let Some(v) = patch.summary {
                next.summary = v;
            }
            if let Some(v) = patch.status {
                next.status = v;
            }
            validate_mandate(
                &mut next,
                (patch.issuing_body, patch.document_kind),
                year_field,
            )?;
            // Nothing changes: no write, no new updated_at, no audit event.
            if Tagged::new(&next).etag == before.etag {
                return Ok(next);
            }
            let row: MandateRow = diesel::update(mandates::table.find(id))
                .set((
                    mandates::reference.eq(&next.reference),
                    mandates::issuing_body.eq(next.issuing_body.as_str()),
                    mandates::document_kind.eq(next.document_kind.as_str()),
                    mandates::adopted_on.eq(next.adopted_on),
                    mandates::pillar.eq(next.pillar.as_str()),
                    mandates::title.eq(next.title.to_json()),
                    mandates::summary.eq(next.summary.as_ref().map(LocalizedText::to_json)),
                    mandates::status.eq(next.status.as_str()),
                ))
                .returning(MandateRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Mandate::from(row);
            if Tagged::new(&after).etag != before.etag {
                let before: serde_json::Value =
                    serde_json::from_slice(&before.bytes).expect("own JSON");
                let after_json = serde_json::to_value(&after).expect("serializes");
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "mandate",
                    id,
                    Some(&before),
                    Some(&after_json),
                )
                .await?;
            }
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

/// Delete a mandate.
///
/// Only a mandate that no project and no assignment refers to (409 `still-referenced`
/// naming them otherwise: mark it `superseded` or `fulfilled` instead). Honours
/// `If-Match` when given.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(
        ("id" = Uuid, Path, description = "The mandate's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the mandate as last read"),
    ),
    responses(
        (status = 204, description = "The mandate was deleted"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[delete("/{id}")]
pub async fn delete_mandate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        // The row lock holds off concurrent links and assignments (their foreign key
        // checks take a share lock on this row).
        let current = load(conn, id, true).await?;
        caller.may_manage_reference_data()?;
        if_match.check_if_present(&Tagged::new(&current).etag)?;
        let projects: i64 = project_mandates::table
            .filter(project_mandates::mandate_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let assignments: i64 = mandate_assignments::table
            .filter(mandate_assignments::mandate_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        let mut referrers = Vec::new();
        if projects > 0 {
            referrers.push("projects");
        }
        if assignments > 0 {
            referrers.push("assignments");
        }
        if !referrers.is_empty() {
            return Err(still_referenced(&referrers));
        }
        diesel::delete(mandates::table.find(id))
            .execute(conn)
            .await
            .map_err(delete_error)?;
        audit::record(
            conn,
            &caller.actor(),
            "delete",
            "mandate",
            id,
            Some(&current),
            None,
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------
// Assignments
// ---------------------------------------------------------------------------------------

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/offices")
        .writes("mandates")
        .service(assignments::list_office_mandates);
    r.under("/mandates")
        .service(list_mandates)
        .service(create_mandate)
        .service(get_mandate)
        .service(update_mandate)
        .service(delete_mandate);
    r.writes("mandate_assignments")
        .service(assignments::list_assignments)
        .service(assignments::create_assignment)
        .service(assignments::get_assignment)
        .service(assignments::update_assignment);
}
