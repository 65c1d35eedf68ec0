//! `/v1/memoranda`: the Administrative Memoranda the General Secretariat issues to the
//! offices (written by the Coordinating Office), and under
//! `/v1/memoranda/{id}/offices/{office_id}` each office's acknowledgement and compliance
//! (see [`compliance`]).
//!
//! A memorandum applies to every country office (`applies_to_all`: those not closed on
//! its issue date, and any opened since) or to the offices it lists. An office's
//! representative and staff see only the memoranda that apply to their office; the
//! Coordinating Office and auditors see all; HQ departments and viewers none (404).

pub mod compliance;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::MemorandumScope;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::{
    DEFAULT_MAX_CHARS, LocalizedText, LocalizedText500, LocalizedText2000, LocalizedText20000,
};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::{memoranda, memorandum_offices, memorandum_responses, offices};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "memoranda_number_key",
        field: "number",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "memorandum_offices_office_id_fkey",
        field: "office_ids",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "memorandum_responses_memorandum_office_key",
        field: "office_id",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "memoranda_deadline_after_issue",
        field: "deadline",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before the issue date",
                "no puede ser anterior a la fecha de emisión"
            )
        }),
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// Most characters of a memorandum's text, per language.
pub const TEXT_MAX_CHARS: usize = LocalizedText20000::MAX_CHARS;
/// Most offices a memorandum lists.
const MAX_OFFICES: usize = 200;

/// An Administrative Memorandum of the General Secretariat.
#[derive(Clone, Serialize, ToSchema)]
pub struct Memorandum {
    pub id: Uuid,
    /// Unique, e.g. `AM/2026/07`.
    #[schema(example = "AM/2026/07")]
    pub number: String,
    pub title: LocalizedText,
    /// The memorandum's text.
    pub text: LocalizedText,
    pub issued_on: NaiveDate,
    /// `true`: every country office (those not closed on the issue date, and any opened
    /// since); `false`: the offices of `office_ids`.
    pub applies_to_all: bool,
    /// The offices it applies to when `applies_to_all` is false (empty otherwise), in
    /// id order.
    #[schema(max_items = 200)]
    pub office_ids: Vec<Uuid>,
    /// When the offices must have acknowledged it (and given their evidence).
    pub deadline: Option<NaiveDate>,
    /// The evidence of compliance each office must give; absent: an acknowledgement is
    /// all it asks.
    pub evidence_required: Option<LocalizedText>,
    /// The `sub` of whoever issued it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = memoranda)]
struct MemorandumRow {
    id: Uuid,
    number: String,
    title: serde_json::Value,
    body: serde_json::Value,
    issued_on: NaiveDate,
    applies_to_all: bool,
    deadline: Option<NaiveDate>,
    evidence_required: Option<serde_json::Value>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MemorandumRow {
    fn into_memorandum(self, office_ids: Vec<Uuid>) -> Memorandum {
        Memorandum {
            id: self.id,
            number: self.number,
            title: LocalizedText::from_json(self.title),
            text: LocalizedText::from_json(self.body),
            issued_on: self.issued_on,
            applies_to_all: self.applies_to_all,
            office_ids,
            deadline: self.deadline,
            evidence_required: self.evidence_required.map(LocalizedText::from_json),
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A new memorandum.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"number": "AM/2026/31", "title": {"en": "Year-end inventory"}, "text": {"en": "Count every asset before 15 December."}, "issued_on": "2026-11-02", "applies_to_all": true, "deadline": "2026-12-15"}))]
#[serde(deny_unknown_fields)]
pub struct NewMemorandum {
    /// Unique: letters, digits, `/`, `.`, `-` and spaces, at most 40 characters.
    #[schema(example = "AM/2026/07", pattern = "^[A-Za-z0-9][A-Za-z0-9/ .-]{0,39}$")]
    pub number: String,
    #[schema(value_type = LocalizedText500)]
    pub title: LocalizedText,
    #[schema(value_type = LocalizedText20000)]
    pub text: LocalizedText,
    pub issued_on: NaiveDate,
    pub applies_to_all: bool,
    /// Required (at least one office) when `applies_to_all` is false; must be empty or
    /// absent when it is true.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub office_ids: Option<Vec<Uuid>>,
    /// Not before `issued_on`.
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<LocalizedText2000>)]
    pub evidence_required: Option<LocalizedText>,
}

/// Changes to a memorandum (JSON merge patch). `number` and `issued_on` are fixed once
/// issued. An office that has answered cannot be taken off the list, and the evidence
/// cannot be dropped once an office has submitted some (409).
#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"title": {"en": "Year-end inventory (revised)"}}))]
#[serde(deny_unknown_fields)]
pub struct MemorandumPatch {
    #[schema(value_type = LocalizedText500, required = false)]
    pub title: Option<LocalizedText>,
    #[schema(value_type = LocalizedText20000, required = false)]
    pub text: Option<LocalizedText>,
    #[schema(nullable = false)]
    pub applies_to_all: Option<bool>,
    #[schema(nullable = false, max_items = 200)]
    pub office_ids: Option<Vec<Uuid>>,
    /// Not before `issued_on`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub deadline: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LocalizedText2000>)]
    pub evidence_required: Option<Option<LocalizedText>>,
}

const READ_ONLY: &[&str] = &[
    "id",
    "number",
    "issued_on",
    "created_by",
    "created_at",
    "updated_at",
];

fn validate_number(number: &str, errors: &mut Vec<FieldError>) {
    let ok = !number.is_empty()
        && number.chars().count() <= 40
        && number
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | ' ' | '.' | '-'));
    if !ok {
        errors.push(FieldError::new(
            "number",
            "invalid_format",
            text!(
                "must be 1 to 40 letters, digits, '/', '.', '-' or spaces, starting with a letter or digit",
                "debe tener de 1 a 40 letras, dígitos, '/', '.', '-' o espacios, empezando por una letra o un dígito"
            ),
        ));
    }
}

fn validate_deadline(
    deadline: Option<NaiveDate>,
    issued_on: NaiveDate,
    errors: &mut Vec<FieldError>,
) {
    if deadline.is_some_and(|d| d < issued_on) {
        errors.push(FieldError::new(
            "deadline",
            "before_issue",
            text!(
                "must not be before the issue date ({issued_on})",
                "no puede ser anterior a la fecha de emisión ({issued_on})"
            ),
        ));
    }
}

/// Checks the office list against `applies_to_all`, and that every office exists.
async fn validate_offices(
    conn: &mut AsyncPgConnection,
    all: bool,
    ids: &mut Vec<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    ids.sort();
    ids.dedup();
    if all && !ids.is_empty() {
        errors.push(FieldError::new(
            "office_ids",
            "not_allowed",
            text!(
                "must be empty when the memorandum applies to all offices",
                "debe estar vacío cuando el memorándum se aplica a todas las oficinas"
            ),
        ));
    } else if !all && ids.is_empty() {
        errors.push(FieldError::new(
            "office_ids",
            "required",
            text!(
                "needs at least one office when the memorandum does not apply to all",
                "necesita al menos una oficina cuando el memorándum no se aplica a todas"
            ),
        ));
    } else if ids.len() > MAX_OFFICES {
        errors.push(FieldError::new(
            "office_ids",
            "too_many",
            text!(
                "must list at most {MAX_OFFICES} offices",
                "debe enumerar como máximo {MAX_OFFICES} oficinas"
            ),
        ));
    } else if !ids.is_empty() {
        let found: Vec<Uuid> = offices::table
            .filter(offices::id.eq_any(ids.clone()))
            .select(offices::id)
            .load(conn)
            .await?;
        for (i, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(FieldError::new(
                    format!("office_ids[{i}]"),
                    "unknown",
                    text!("no such office", "no existe esa oficina"),
                ));
            }
        }
    }
    Ok(())
}

/// The memoranda the caller sees, as a filter on `memoranda::id` (None: all).
fn visible_to(caller: &Caller) -> Option<Option<Uuid>> {
    match caller.memorandum_scope() {
        MemorandumScope::All => None,
        MemorandumScope::Office(o) => Some(Some(o)),
        MemorandumScope::Nothing => Some(None),
    }
}

/// Whether a memorandum applies to `office` (a country office not closed on its issue
/// date when it applies to all).
pub(crate) async fn applies_to(
    conn: &mut AsyncPgConnection,
    memorandum: &Memorandum,
    office: Uuid,
) -> Result<bool, ApiError> {
    if !memorandum.applies_to_all {
        return Ok(memorandum.office_ids.contains(&office));
    }
    let row: Option<(String, Option<NaiveDate>)> = offices::table
        .find(office)
        .select((offices::kind, offices::closed_on))
        .first(conn)
        .await
        .optional()?;
    Ok(row.is_some_and(|(kind, closed_on)| {
        kind == "country_office" && closed_on.is_none_or(|c| c > memorandum.issued_on)
    }))
}

/// Loads a memorandum (locking it when `for_update`); 404 when it does not exist or the
/// caller may not see it.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    for_update: bool,
) -> Result<Memorandum, ApiError> {
    let q = memoranda::table.find(id).select(MemorandumRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    }
    .ok_or_else(ApiError::not_found)?;
    let office_ids: Vec<Uuid> = memorandum_offices::table
        .filter(memorandum_offices::memorandum_id.eq(id))
        .select(memorandum_offices::office_id)
        .order(memorandum_offices::office_id)
        .load(conn)
        .await?;
    let memorandum = row.into_memorandum(office_ids);
    match visible_to(caller) {
        None => Ok(memorandum),
        Some(Some(office)) if applies_to(conn, &memorandum, office).await? => Ok(memorandum),
        Some(_) => Err(ApiError::not_found()),
    }
}

page_type!(MemorandumPage, Memorandum, "A page of memoranda.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum MemorandumSort {
    IssuedOn,
    UpdatedAt,
}

impl SortField for MemorandumSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("issued_on", MemorandumSort::IssuedOn),
        ("updated_at", MemorandumSort::UpdatedAt),
    ];
    const DEFAULT: Self = MemorandumSort::IssuedOn;
}

/// Query parameters of the memoranda list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemorandumQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `issued_on` (the default) or `updated_at`, prefixed with `-` for descending order.
    pub sort: Option<String>,
    /// Only memoranda that apply to one of these offices (comma-separated ids).
    pub office_id: Option<String>,
    /// Only memoranda issued on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub issued_from: Option<String>,
    /// Only memoranda issued on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub issued_to: Option<String>,
    /// Only memoranda changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// The memoranda that apply to one of `office_ids` (listed, or to all country offices
/// while the office was not closed on the issue date).
fn applying_to(
    office_ids: Vec<Uuid>,
) -> Box<dyn BoxableExpression<memoranda::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>
{
    use diesel::sql_types::{Array, Uuid as SqlUuid};
    Box::new(
        diesel::dsl::sql::<diesel::sql_types::Bool>(
            "((memoranda.applies_to_all AND EXISTS (SELECT 1 FROM offices o WHERE o.id = ANY(",
        )
        .bind::<Array<SqlUuid>, _>(office_ids.clone())
        .sql(
            ") AND o.kind = 'country_office' AND (o.closed_on IS NULL OR o.closed_on > memoranda.issued_on))) \
             OR memoranda.id IN (SELECT mo.memorandum_id FROM memorandum_offices mo WHERE mo.office_id = ANY(",
        )
        .bind::<Array<SqlUuid>, _>(office_ids)
        .sql(")))"),
    )
}

/// List memoranda.
///
/// The Coordinating Office and auditors see every memorandum; an office's
/// representative and staff those that apply to their office; other roles none (an
/// empty page).
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(MemorandumQuery),
    responses(
        (status = 200, description = "A page of memoranda", body = MemorandumPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_memoranda(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<MemorandumQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<MemorandumSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let office_filter = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let issued_from = validate::param_date("issued_from", query.issued_from.as_deref())?;
    let issued_to = validate::param_date("issued_to", query.issued_to.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;
    let mut conn = state.read_pool().get().await?;
    let mut q = memoranda::table
        .select(MemorandumRow::as_select())
        .into_boxed();
    match visible_to(&caller) {
        None => {}
        Some(Some(office)) => q = q.filter(applying_to(vec![office])),
        Some(None) => q = q.filter(memoranda::id.ne(memoranda::id)),
    }
    if let Some(ids) = office_filter {
        q = q.filter(applying_to(ids));
    }
    if let Some(d) = issued_from {
        q = q.filter(memoranda::issued_on.ge(d));
    }
    if let Some(d) = issued_to {
        q = q.filter(memoranda::issued_on.le(d));
    }
    if let Some(t) = updated_since {
        q = q.filter(memoranda::updated_at.ge(t));
    }
    let q = match sort.field {
        MemorandumSort::IssuedOn => {
            let after = after
                .as_ref()
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, memoranda::issued_on, memoranda::id, sort.desc, after)
        }
        MemorandumSort::UpdatedAt => {
            let after = after
                .as_ref()
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, memoranda::updated_at, memoranda::id, sort.desc, after)
        }
    };
    let rows: Vec<MemorandumRow> = q.limit(limit + 1).load(&mut conn).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let listed: Vec<(Uuid, Uuid)> = memorandum_offices::table
        .filter(memorandum_offices::memorandum_id.eq_any(ids))
        .select((
            memorandum_offices::memorandum_id,
            memorandum_offices::office_id,
        ))
        .order((
            memorandum_offices::memorandum_id,
            memorandum_offices::office_id,
        ))
        .load(&mut conn)
        .await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            MemorandumSort::IssuedOn => serde_json::json!(r.issued_on),
            MemorandumSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(|r| {
        let ids = listed
            .iter()
            .filter(|(m, _)| *m == r.id)
            .map(|(_, o)| *o)
            .collect();
        r.into_memorandum(ids)
    });
    Ok(MemorandumPage::respond(page, &req))
}

/// Get a memorandum.
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(("id" = Uuid, Path, description = "The memorandum's id")),
    responses(
        (status = 200, description = "The memorandum", body = Memorandum,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_memorandum(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let m = load(&mut conn, &caller, id.into_inner(), false).await?;
    Ok(Tagged::new(&m).ok(&req))
}

async fn write_offices(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    diesel::delete(memorandum_offices::table.filter(memorandum_offices::memorandum_id.eq(id)))
        .execute(conn)
        .await?;
    if !ids.is_empty() {
        let rows: Vec<_> = ids
            .iter()
            .map(|o| {
                (
                    memorandum_offices::memorandum_id.eq(id),
                    memorandum_offices::office_id.eq(*o),
                )
            })
            .collect();
        diesel::insert_into(memorandum_offices::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Issue a memorandum.
///
/// The Coordinating Office's, for the General Secretariat. `number` is unique (409).
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    request_body = NewMemorandum,
    responses(
        (status = 201, description = "The memorandum was issued", body = Memorandum,
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
pub async fn create_memorandum(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewMemorandum>,
) -> Result<HttpResponse, ApiError> {
    caller.may_issue_memoranda()?;
    let new = body.0;
    let number = new.number;
    let title = new.title;
    let body_text = new.text;
    let evidence = new.evidence_required;
    let mut office_ids = new.office_ids.unwrap_or_default();
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let mut errors = Vec::new();
            validate_number(&number, &mut errors);
            title.validate("title", DEFAULT_MAX_CHARS, &mut errors);
            body_text.validate("text", TEXT_MAX_CHARS, &mut errors);
            if let Some(e) = &evidence {
                e.validate(
                    "evidence_required",
                    LocalizedText2000::MAX_CHARS,
                    &mut errors,
                );
            }
            validate_deadline(new.deadline, new.issued_on, &mut errors);
            validate_offices(conn, new.applies_to_all, &mut office_ids, &mut errors).await?;
            validate::finish(errors)?;
            let id = Uuid::now_v7();
            let row: MemorandumRow = diesel::insert_into(memoranda::table)
                .values((
                    memoranda::id.eq(id),
                    memoranda::number.eq(&number),
                    memoranda::title.eq(title.to_json()),
                    memoranda::body.eq(body_text.to_json()),
                    memoranda::issued_on.eq(new.issued_on),
                    memoranda::applies_to_all.eq(new.applies_to_all),
                    memoranda::deadline.eq(new.deadline),
                    memoranda::evidence_required.eq(evidence.as_ref().map(|e| e.to_json())),
                    memoranda::created_by.eq(&caller.sub),
                ))
                .returning(MemorandumRow::as_returning())
                .get_result(conn)
                .await?;
            write_offices(conn, id, &office_ids).await?;
            let created = row.into_memorandum(office_ids.clone());
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "memorandum",
                id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/memoranda/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update a memorandum.
///
/// The Coordinating Office's. Requires `If-Match` (428 without, 412 when stale).
/// `number` and `issued_on` are fixed (422). Taking an office that has already
/// answered off the memorandum, or dropping the evidence once an office has submitted
/// some, is a 409.
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(
        ("id" = Uuid, Path, description = "The memorandum's id"),
        ("If-Match" = String, Header, description = "The ETag of the memorandum as last read"),
    ),
    request_body(content = MemorandumPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated memorandum", body = Memorandum, headers(("ETag" = String))),
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
pub async fn update_memorandum(
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
            let current = load(conn, &caller, id, true).await?;
            caller.may_issue_memoranda()?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(&body.0, &["title", "text", "applies_to_all", "office_ids"])?;
            let patch: MemorandumPatch = from_value(body.0.clone())?;
            let before = Tagged::new(&current);
            let mut next = current.clone();
            let mut errors = Vec::new();
            if let Some(t) = patch.title {
                next.title = t;
                next.title.validate("title", DEFAULT_MAX_CHARS, &mut errors);
            }
            if let Some(t) = patch.text {
                next.text = t;
                next.text.validate("text", TEXT_MAX_CHARS, &mut errors);
            }
            if let Some(d) = patch.deadline {
                next.deadline = d;
                validate_deadline(d, next.issued_on, &mut errors);
            }
            if let Some(e) = patch.evidence_required {
                next.evidence_required = e;
                if let Some(e) = &next.evidence_required {
                    e.validate("evidence_required", LocalizedText2000::MAX_CHARS, &mut errors);
                }
            }
            let offices_changed = patch.applies_to_all.is_some() || patch.office_ids.is_some();
            if let Some(all) = patch.applies_to_all {
                next.applies_to_all = all;
                if all && patch.office_ids.is_none() {
                    next.office_ids.clear();
                }
            }
            if let Some(ids) = patch.office_ids {
                next.office_ids = ids;
            }
            if offices_changed {
                validate_offices(conn, next.applies_to_all, &mut next.office_ids, &mut errors)
                    .await?;
            }
            validate::finish(errors)?;
            if Tagged::new(&next).etag == before.etag {
                return Ok(current);
            }
            // What the offices have already done must stay true.
            let answered: Vec<(Uuid, String)> = memorandum_responses::table
                .filter(memorandum_responses::memorandum_id.eq(id))
                .select((memorandum_responses::office_id, memorandum_responses::status))
                .load(conn)
                .await?;
            if next.evidence_required.is_none() && answered.iter().any(|(_, s)| s != "acknowledged")
            {
                return Err(ApiError::invalid_state(text!(
                    "Offices have already submitted evidence of compliance; the evidence required cannot be dropped.",
                    "Hay oficinas que ya presentaron evidencia de cumplimiento; la evidencia requerida no se puede suprimir."
                ))
                .with_errors(vec![FieldError::new(
                    "evidence_required",
                    "already_submitted",
                    text!(
                        "offices have submitted evidence",
                        "hay oficinas que presentaron evidencia"
                    ),
                )]));
            }
            if offices_changed {
                let mut dropped = Vec::new();
                for (office, _) in &answered {
                    if !applies_to(conn, &next, *office).await? {
                        dropped.push(*office);
                    }
                }
                if !dropped.is_empty() {
                    let list = dropped
                        .iter()
                        .map(Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ApiError::invalid_state(text!(
                        "These offices have already answered the memorandum and cannot be taken off it: {list}.",
                        "Estas oficinas ya respondieron al memorándum y no se pueden retirar de él: {list}."
                    ))
                    .with_errors(vec![FieldError::new(
                        "office_ids",
                        "already_answered",
                        text!(
                            "offices that answered must stay: {list}",
                            "las oficinas que respondieron deben permanecer: {list}"
                        ),
                    )]));
                }
                write_offices(conn, id, &next.office_ids).await?;
            }
            let row: MemorandumRow = diesel::update(memoranda::table.find(id))
                .set((
                    memoranda::title.eq(next.title.to_json()),
                    memoranda::body.eq(next.text.to_json()),
                    memoranda::applies_to_all.eq(next.applies_to_all),
                    memoranda::deadline.eq(next.deadline),
                    memoranda::evidence_required
                        .eq(next.evidence_required.as_ref().map(|e| e.to_json())),
                    memoranda::version.eq(memoranda::version + 1),
                ))
                .returning(MemorandumRow::as_returning())
                .get_result(conn)
                .await?;
            let after = row.into_memorandum(next.office_ids.clone());
            audit::record(
                conn,
                &caller.actor(),
                "update",
                "memorandum",
                id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/memorandum-compliance")
        .writes("memorandum_compliance")
        .service(compliance::list_compliance);
    r.under("/memoranda")
        .writes("memoranda")
        .service(list_memoranda)
        .service(create_memorandum)
        .service(get_memorandum)
        .service(update_memorandum)
        .service(compliance::list_memorandum_offices)
        .service(compliance::get_office_compliance);
    r.writes("memorandum_compliance")
        .service(compliance::acknowledge)
        .service(compliance::submit_compliance)
        .service(compliance::review_compliance);
}
