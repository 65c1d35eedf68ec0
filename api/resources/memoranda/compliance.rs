//! Each office's answer to a memorandum, at `/v1/memoranda/{id}/offices/{office_id}`:
//! the office acknowledges it (who, when) and, where the memorandum requires evidence,
//! records its compliance (text, references of attachments, date); the Coordinating
//! Office accepts it or returns it with a reason, and a returned one is submitted again.
//! `GET /v1/memorandum-compliance` is the whole picture for the Coordinating Office and
//! auditors: memoranda × offices with each status, overdue ones flagged.
//!
//! Statuses: `pending` (no answer yet), `acknowledged`, `submitted`, `accepted`,
//! `returned`. A memorandum without required evidence is complete once acknowledged.
//! Overdue: the deadline has passed and the office has not acknowledged it (without
//! required evidence) or has no submitted or accepted evidence (with it).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Date, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Memorandum, applies_to, load};
use crate::auth::Caller;
use crate::auth::policy::MemorandumScope;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::pagination::{self, Cursor, Page};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{memorandum_responses, offices};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// Where an office stands on a memorandum.
    pub enum ComplianceStatus {
        Pending = "pending" ("Pending", "Pendiente"),
        Acknowledged = "acknowledged" ("Acknowledged", "Acusado recibo"),
        Submitted = "submitted" ("Submitted", "Presentado"),
        Accepted = "accepted" ("Accepted", "Aceptado"),
        Returned = "returned" ("Returned", "Devuelto"),
    }
}

string_enum! {
    /// The Coordinating Office's decision on submitted compliance.
    pub enum ReviewDecision {
        Accepted = "accepted" ("Accepted", "Aceptado"),
        Returned = "returned" ("Returned", "Devuelto"),
    }
}

/// Most attachment references a compliance carries.
const MAX_ATTACHMENTS: usize = 20;

/// The evidence an office submitted.
#[derive(Clone, Serialize, ToSchema)]
pub struct Compliance {
    /// What the office did.
    pub text: String,
    /// References of the attached documents (document numbers, file names or URLs of
    /// the OAS's document system).
    #[schema(max_items = 20)]
    pub attachments: Vec<String>,
    /// The day the office complied.
    pub complied_on: NaiveDate,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
}

/// The Coordinating Office's last decision on the compliance.
#[derive(Clone, Serialize, ToSchema)]
pub struct Review {
    pub decision: ReviewDecision,
    /// Why it was returned (or a note on the acceptance).
    pub reason: Option<String>,
    pub reviewed_by: String,
    pub reviewed_at: DateTime<Utc>,
}

/// Where one office stands on one memorandum.
#[derive(Clone, Serialize, ToSchema)]
pub struct OfficeCompliance {
    pub memorandum_id: Uuid,
    #[schema(example = "AM/2026/07")]
    pub memorandum_number: String,
    pub office_id: Uuid,
    #[schema(example = "OGSMS-PE")]
    pub office_code: String,
    pub issued_on: NaiveDate,
    pub deadline: Option<NaiveDate>,
    /// Whether the memorandum asks for evidence of compliance.
    pub evidence_required: bool,
    pub status: ComplianceStatus,
    /// The deadline has passed without the acknowledgement (or the evidence) it asks.
    pub overdue: bool,
    /// Who acknowledged it, for the office.
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub compliance: Option<Compliance>,
    pub review: Option<Review>,
    /// When the office's answer last changed (absent while pending).
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    memorandum_id: Uuid,
    #[diesel(sql_type = Text)]
    memorandum_number: String,
    #[diesel(sql_type = SqlUuid)]
    office_id: Uuid,
    #[diesel(sql_type = Text)]
    office_code: String,
    #[diesel(sql_type = Date)]
    issued_on: NaiveDate,
    #[diesel(sql_type = Nullable<Date>)]
    deadline: Option<NaiveDate>,
    #[diesel(sql_type = Bool)]
    evidence_required: bool,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Bool)]
    overdue: bool,
    #[diesel(sql_type = Nullable<Text>)]
    acknowledged_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    acknowledged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    compliance_text: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    compliance_attachments: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Date>)]
    complied_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    submitted_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    submitted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    review_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reviewed_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    reviewed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    updated_at: Option<DateTime<Utc>>,
}

impl From<Row> for OfficeCompliance {
    fn from(r: Row) -> Self {
        let status = ComplianceStatus::from_db(&r.status);
        let compliance = match (r.compliance_text, r.complied_on, r.submitted_at) {
            (Some(text), Some(complied_on), Some(submitted_at)) => Some(Compliance {
                text,
                attachments: r
                    .compliance_attachments
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default(),
                complied_on,
                submitted_by: r.submitted_by.unwrap_or_default(),
                submitted_at,
            }),
            _ => None,
        };
        let review = match (status, r.reviewed_by, r.reviewed_at) {
            (ComplianceStatus::Accepted | ComplianceStatus::Returned, Some(by), Some(at)) => {
                Some(Review {
                    decision: if status == ComplianceStatus::Accepted {
                        ReviewDecision::Accepted
                    } else {
                        ReviewDecision::Returned
                    },
                    reason: r.review_reason,
                    reviewed_by: by,
                    reviewed_at: at,
                })
            }
            _ => None,
        };
        OfficeCompliance {
            memorandum_id: r.memorandum_id,
            memorandum_number: r.memorandum_number,
            office_id: r.office_id,
            office_code: r.office_code,
            issued_on: r.issued_on,
            deadline: r.deadline,
            evidence_required: r.evidence_required,
            status,
            overdue: r.overdue,
            acknowledged_by: r.acknowledged_by,
            acknowledged_at: r.acknowledged_at,
            compliance,
            review,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT c.memorandum_id, m.number AS memorandum_number, c.office_id, \
     o.code AS office_code, m.issued_on, m.deadline, (m.evidence_required IS NOT NULL) AS evidence_required, \
     c.status, c.overdue, r.acknowledged_by, r.acknowledged_at, r.compliance_text, \
     r.compliance_attachments, r.complied_on, r.submitted_by, r.submitted_at, r.review_reason, \
     r.reviewed_by, r.reviewed_at, r.updated_at \
     FROM memorandum_compliance c JOIN memoranda m ON m.id = c.memorandum_id \
     JOIN offices o ON o.id = c.office_id \
     LEFT JOIN memorandum_responses r ON r.id = c.response_id WHERE true";

/// The filters of a compliance list.
#[derive(Default)]
struct Filter {
    memoranda: Option<Vec<Uuid>>,
    offices: Option<Vec<Uuid>>,
    statuses: Option<Vec<&'static str>>,
    overdue: Option<bool>,
    /// After (issued_on, memorandum_id, office_id), in the list's order.
    after: Option<(NaiveDate, Uuid, Uuid)>,
    limit: i64,
}

/// Rows in the order issued_on descending, then memorandum and office id.
async fn rows(conn: &mut AsyncPgConnection, f: Filter) -> Result<Vec<Row>, ApiError> {
    let mut sql = SELECT.to_owned();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if f.memoranda.is_some() {
        sql += &format!(" AND c.memorandum_id = ANY(${})", next());
    }
    if f.offices.is_some() {
        sql += &format!(" AND c.office_id = ANY(${})", next());
    }
    if f.statuses.is_some() {
        sql += &format!(" AND c.status = ANY(${})", next());
    }
    if f.overdue.is_some() {
        sql += &format!(" AND c.overdue = ${}", next());
    }
    if f.after.is_some() {
        let (a, b, c) = (next(), next(), next());
        sql += &format!(
            " AND (m.issued_on < ${a} OR (m.issued_on = ${a} AND (c.memorandum_id, c.office_id) > (${b}, ${c})))"
        );
    }
    sql += &format!(
        " ORDER BY m.issued_on DESC, c.memorandum_id, c.office_id LIMIT ${}",
        next()
    );
    let mut q = diesel::sql_query(sql).into_boxed::<Pg>();
    if let Some(v) = f.memoranda {
        q = q.bind::<Array<SqlUuid>, _>(v);
    }
    if let Some(v) = f.offices {
        q = q.bind::<Array<SqlUuid>, _>(v);
    }
    if let Some(v) = f.statuses {
        q = q.bind::<Array<Text>, _>(v.into_iter().map(str::to_owned).collect::<Vec<_>>());
    }
    if let Some(v) = f.overdue {
        q = q.bind::<Bool, _>(v);
    }
    if let Some((d, m, o)) = f.after {
        q = q
            .bind::<Date, _>(d)
            .bind::<SqlUuid, _>(m)
            .bind::<SqlUuid, _>(o);
    }
    q = q.bind::<diesel::sql_types::BigInt, _>(f.limit);
    Ok(q.load(conn).await?)
}

/// One office's standing on one memorandum (404 when it does not apply to the office).
async fn one(
    conn: &mut AsyncPgConnection,
    memorandum_id: Uuid,
    office_id: Uuid,
) -> Result<OfficeCompliance, ApiError> {
    rows(
        conn,
        Filter {
            memoranda: Some(vec![memorandum_id]),
            offices: Some(vec![office_id]),
            limit: 1,
            ..Filter::default()
        },
    )
    .await?
    .into_iter()
    .next()
    .map(OfficeCompliance::from)
    .ok_or_else(ApiError::not_found)
}

page_type!(
    OfficeCompliancePage,
    OfficeCompliance,
    "A page of offices' standing on memoranda."
);

/// Query parameters of the compliance lists.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComplianceQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only these memoranda (comma-separated ids).
    pub memorandum_id: Option<String>,
    /// Only these offices (comma-separated ids).
    pub office_id: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "pending,returned")]
    pub status: Option<String>,
    /// `true`: only the overdue ones; `false`: only those not overdue.
    #[param(value_type = Option<bool>)]
    pub overdue: Option<String>,
}

/// The cursor's sort name (the order is fixed).
const ORDER: &str = "-issued_on";

fn parse(query: &ComplianceQuery) -> Result<Filter, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            let c = Cursor::decode(c, ORDER)?;
            let (d, m): (NaiveDate, Uuid) = c.value_as()?;
            Ok::<_, ApiError>((d, m, c.id))
        })
        .transpose()?;
    let overdue = match query.overdue.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "overdue",
                text!("must be true or false", "debe ser true o false"),
            ));
        }
    };
    Ok(Filter {
        memoranda: validate::param_uuids("memorandum_id", query.memorandum_id.as_deref())?,
        offices: validate::param_uuids("office_id", query.office_id.as_deref())?,
        statuses: query
            .status
            .as_deref()
            .map(|s| ComplianceStatus::parse_filter("status", s))
            .transpose()?,
        overdue,
        after,
        limit: limit + 1,
    })
}

fn page(rows: Vec<Row>, limit: i64) -> Page<OfficeCompliance> {
    Page::from_rows(rows, limit, |r| Cursor {
        sort: ORDER.to_owned(),
        value: serde_json::json!([r.issued_on, r.memorandum_id]),
        id: r.office_id,
    })
    .map(OfficeCompliance::from)
}

/// The compliance view: memoranda × offices.
///
/// Every office each memorandum applies to, with its status (`pending` when it has not
/// answered) and `overdue` flagged; newest memoranda first. For the Coordinating Office
/// and auditors. JSON or CSV.
#[utoipa::path(
    context_path = "/memorandum-compliance",
    tag = "Memoranda",
    params(ComplianceQuery),
    responses(
        (status = 200, description = "A page of memoranda × offices", body = OfficeCompliancePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ComplianceQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_compliance()?;
    let f = parse(&query)?;
    let limit = f.limit - 1;
    let mut conn = state.read_pool().get().await?;
    let rows = rows(&mut conn, f).await?;
    Ok(OfficeCompliancePage::respond(page(rows, limit), &req))
}

/// List the offices of a memorandum, each with its standing.
///
/// An office's representative and staff see their own office's row only.
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(("id" = Uuid, Path, description = "The memorandum's id"), ComplianceQuery),
    responses(
        (status = 200, description = "A page of the memorandum's offices", body = OfficeCompliancePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/offices")]
pub async fn list_memorandum_offices(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ComplianceQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // The memorandum first: one the caller may not see is a 404 whatever the parameters.
    let mut conn = state.pool.get().await?;
    load(&mut conn, &caller, id, false).await?;
    let mut f = parse(&query)?;
    let limit = f.limit - 1;
    let mine = vec![id];
    f.memoranda = Some(match f.memoranda {
        Some(v) if !v.contains(&id) => vec![],
        _ => mine,
    });
    if let MemorandumScope::Office(own) = caller.memorandum_scope() {
        f.offices = Some(match f.offices {
            Some(v) if !v.contains(&own) => vec![],
            _ => vec![own],
        });
    }
    let rows = rows(&mut conn, f).await?;
    Ok(OfficeCompliancePage::respond(page(rows, limit), &req))
}

/// The memorandum (visible to the caller) and the office's standing; 404 when the
/// memorandum does not apply to the office or the caller may not see the office's.
async fn visible(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    memorandum_id: Uuid,
    office_id: Uuid,
) -> Result<(Memorandum, OfficeCompliance), ApiError> {
    let m = load(conn, caller, memorandum_id, false).await?;
    if let MemorandumScope::Office(own) = caller.memorandum_scope()
        && own != office_id
    {
        return Err(ApiError::not_found());
    }
    if !applies_to(conn, &m, office_id).await? {
        return Err(ApiError::not_found());
    }
    let standing = one(conn, memorandum_id, office_id).await?;
    Ok((m, standing))
}

/// Get an office's standing on a memorandum.
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(
        ("id" = Uuid, Path, description = "The memorandum's id"),
        ("office_id" = Uuid, Path, description = "The office's id"),
    ),
    responses(
        (status = 200, description = "The office's standing", body = OfficeCompliance,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/offices/{office_id}")]
pub async fn get_office_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, office_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (_, standing) = visible(&mut conn, &caller, id, office_id).await?;
    Ok(Tagged::new(&standing).ok(&req))
}

fn invalid_state(status: ComplianceStatus, en: &str, es: &str, field: &'static str) -> ApiError {
    ApiError::invalid_state(text!("{en} (status: {status})", "{es} (estado: {status})"))
        .with_errors(vec![FieldError::new(
            field,
            "invalid_state",
            text!(
                "the office's status is {status}",
                "el estado de la oficina es {status}"
            ),
        )])
}

/// Acknowledge a memorandum, for the office.
///
/// The office's representative or staff (the acknowledgement records who and when).
/// Once per office (409 when it already did). Takes `If-Match` with the standing's
/// ETag when given (412 when stale).
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(
        ("id" = Uuid, Path, description = "The memorandum's id"),
        ("office_id" = Uuid, Path, description = "The office's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the office's standing as last read (optional)"),
    ),
    responses(
        (status = 200, description = "The office's standing, acknowledged", body = OfficeCompliance,
         headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/offices/{office_id}/acknowledgement")]
pub async fn acknowledge(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, office_id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let after = conn
        .transaction(async |conn| {
            // The office row is locked: concurrent answers of one office queue here.
            lock_office(conn, office_id).await?;
            let (_, before) = visible(conn, &caller, id, office_id).await?;
            caller.may_answer_memorandum(office_id)?;
            if_match.check_if_present(&Tagged::new(&before).etag)?;
            if before.status != ComplianceStatus::Pending {
                return Err(invalid_state(
                    before.status,
                    "The office has already acknowledged this memorandum.",
                    "La oficina ya acusó recibo de este memorándum.",
                    "acknowledged_at",
                ));
            }
            let now = Utc::now();
            diesel::insert_into(memorandum_responses::table)
                .values((
                    memorandum_responses::id.eq(Uuid::now_v7()),
                    memorandum_responses::memorandum_id.eq(id),
                    memorandum_responses::office_id.eq(office_id),
                    memorandum_responses::status.eq("acknowledged"),
                    memorandum_responses::acknowledged_by.eq(&caller.sub),
                    memorandum_responses::acknowledged_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let after = one(conn, id, office_id).await?;
            audit::record(
                conn,
                &caller.actor(),
                "acknowledge",
                "memorandum_response",
                format!("{id}/{office_id}"),
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&after).ok(&req))
}

async fn lock_office(conn: &mut AsyncPgConnection, office_id: Uuid) -> Result<(), ApiError> {
    offices::table
        .find(office_id)
        .select(offices::id)
        .for_update()
        .first::<Uuid>(conn)
        .await
        .optional()?;
    Ok(())
}

/// Schema-only type of an attachment's reference: a single-line text of at most 500
/// characters (`validate::line`).
pub struct AttachmentReference;

impl utoipa::PartialSchema for AttachmentReference {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("The reference of an attached document."))
            .max_length(Some(500))
            .pattern(Some("<line>"))
            .into()
    }
}

impl ToSchema for AttachmentReference {}

/// An office's evidence of compliance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompliance {
    /// What the office did, at most 10,000 characters.
    #[schema(pattern = "<text>", max_length = 10000)]
    pub text: String,
    /// References of the attached documents, at most 20, each at most 500 characters.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<AttachmentReference>)]
    pub attachments: Vec<String>,
    /// The day the office complied: not before the memorandum's issue, not after today.
    pub complied_on: NaiveDate,
}

/// Record the office's compliance with a memorandum.
///
/// The office's representative or staff. Only for a memorandum that requires evidence
/// (409 otherwise); acknowledges it too when the office had not yet. Allowed while the
/// office's standing is `pending`, `acknowledged` or `returned` (409 while `submitted`
/// or once `accepted`). Takes `If-Match` when given (412 when stale).
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(
        ("id" = Uuid, Path, description = "The memorandum's id"),
        ("office_id" = Uuid, Path, description = "The office's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the office's standing as last read (optional)"),
    ),
    request_body = NewCompliance,
    responses(
        (status = 200, description = "The office's standing, submitted", body = OfficeCompliance,
         headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/offices/{office_id}/compliance")]
pub async fn submit_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<NewCompliance>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, office_id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let new = body.0;
    let text_value = new.text;
    let attachments = new.attachments;
    let mut conn = state.pool.get().await?;
    let after = conn
        .transaction(async |conn| {
            lock_office(conn, office_id).await?;
            let (m, before) = visible(conn, &caller, id, office_id).await?;
            caller.may_answer_memorandum(office_id)?;
            if_match.check_if_present(&Tagged::new(&before).etag)?;
            let mut errors = Vec::new();
            validate::text("text", &text_value, 10_000, &mut errors);
            if attachments.len() > MAX_ATTACHMENTS {
                errors.push(FieldError::new(
                    "attachments",
                    "too_many",
                    text!(
                        "must list at most {MAX_ATTACHMENTS} references",
                        "debe enumerar como máximo {MAX_ATTACHMENTS} referencias"
                    ),
                ));
            } else {
                for (i, a) in attachments.iter().enumerate() {
                    validate::line(&format!("attachments[{i}]"), a, 500, &mut errors);
                }
            }
            let today = Utc::now().date_naive();
            if new.complied_on > today {
                errors.push(FieldError::new(
                    "complied_on",
                    "in_the_future",
                    text!("must not be after today", "no puede ser posterior a hoy"),
                ));
            } else if new.complied_on < m.issued_on {
                let issued = m.issued_on;
                errors.push(FieldError::new(
                    "complied_on",
                    "before_issue",
                    text!(
                        "must not be before the memorandum's issue ({issued})",
                        "no puede ser anterior a la emisión del memorándum ({issued})"
                    ),
                ));
            }
            validate::finish(errors)?;
            if m.evidence_required.is_none() {
                return Err(ApiError::invalid_state(text!(
                    "This memorandum requires no evidence of compliance; acknowledging it is all it asks.",
                    "Este memorándum no requiere evidencia de cumplimiento; basta con acusar recibo."
                ))
                .with_errors(vec![FieldError::new(
                    "evidence_required",
                    "none",
                    text!("no evidence is required", "no se requiere evidencia"),
                )]));
            }
            if matches!(
                before.status,
                ComplianceStatus::Submitted | ComplianceStatus::Accepted
            ) {
                return Err(invalid_state(
                    before.status,
                    "The office's compliance is awaiting review or already accepted; it can be submitted again only once returned.",
                    "El cumplimiento de la oficina está en revisión o ya fue aceptado; solo puede presentarse de nuevo si se devuelve.",
                    "status",
                ));
            }
            let now = Utc::now();
            let attachments_json = serde_json::json!(attachments);
            if before.status == ComplianceStatus::Pending {
                diesel::insert_into(memorandum_responses::table)
                    .values((
                        memorandum_responses::id.eq(Uuid::now_v7()),
                        memorandum_responses::memorandum_id.eq(id),
                        memorandum_responses::office_id.eq(office_id),
                        memorandum_responses::status.eq("submitted"),
                        memorandum_responses::acknowledged_by.eq(&caller.sub),
                        memorandum_responses::acknowledged_at.eq(now),
                        memorandum_responses::compliance_text.eq(&text_value),
                        memorandum_responses::compliance_attachments.eq(&attachments_json),
                        memorandum_responses::complied_on.eq(new.complied_on),
                        memorandum_responses::submitted_by.eq(&caller.sub),
                        memorandum_responses::submitted_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
            } else {
                diesel::update(
                    memorandum_responses::table
                        .filter(memorandum_responses::memorandum_id.eq(id))
                        .filter(memorandum_responses::office_id.eq(office_id)),
                )
                .set((
                    memorandum_responses::status.eq("submitted"),
                    memorandum_responses::compliance_text.eq(&text_value),
                    memorandum_responses::compliance_attachments.eq(&attachments_json),
                    memorandum_responses::complied_on.eq(new.complied_on),
                    memorandum_responses::submitted_by.eq(&caller.sub),
                    memorandum_responses::submitted_at.eq(now),
                    memorandum_responses::version.eq(memorandum_responses::version + 1),
                ))
                .execute(conn)
                .await?;
            }
            let after = one(conn, id, office_id).await?;
            audit::record(
                conn,
                &caller.actor(),
                "submit_compliance",
                "memorandum_response",
                format!("{id}/{office_id}"),
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&after).ok(&req))
}

/// The Coordinating Office's decision on an office's compliance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    pub decision: ReviewDecision,
    /// Required to return it (what is missing); at most 2000 characters.
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 2000)]
    pub reason: Option<String>,
}

/// Accept or return an office's compliance.
///
/// The Coordinating Office's, while the office's standing is `submitted` (409
/// otherwise). Returning needs a `reason` (422); the office can then submit again.
/// Takes `If-Match` when given (412 when stale).
#[utoipa::path(
    context_path = "/memoranda",
    tag = "Memoranda",
    params(
        ("id" = Uuid, Path, description = "The memorandum's id"),
        ("office_id" = Uuid, Path, description = "The office's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the office's standing as last read (optional)"),
    ),
    request_body = NewReview,
    responses(
        (status = 200, description = "The office's standing, reviewed", body = OfficeCompliance,
         headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/offices/{office_id}/review")]
pub async fn review_compliance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<NewReview>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, office_id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let new = body.0;
    let reason = new.reason.clone();
    let mut conn = state.pool.get().await?;
    let after = conn
        .transaction(async |conn| {
            lock_office(conn, office_id).await?;
            let (_, before) = visible(conn, &caller, id, office_id).await?;
            caller.may_issue_memoranda()?;
            if_match.check_if_present(&Tagged::new(&before).etag)?;
            let mut errors = Vec::new();
            match &reason {
                None if new.decision == ReviewDecision::Returned => errors.push(FieldError::new(
                    "reason",
                    "required",
                    text!(
                        "is required to return the compliance",
                        "es obligatorio para devolver el cumplimiento"
                    ),
                )),
                Some(r) => validate::line("reason", r, 2000, &mut errors),
                None => {}
            }
            validate::finish(errors)?;
            if before.status != ComplianceStatus::Submitted {
                return Err(invalid_state(
                    before.status,
                    "Only submitted compliance can be accepted or returned.",
                    "Solo se puede aceptar o devolver un cumplimiento presentado.",
                    "status",
                ));
            }
            diesel::update(
                memorandum_responses::table
                    .filter(memorandum_responses::memorandum_id.eq(id))
                    .filter(memorandum_responses::office_id.eq(office_id)),
            )
            .set((
                memorandum_responses::status.eq(new.decision.as_str()),
                memorandum_responses::review_reason.eq(&reason),
                memorandum_responses::reviewed_by.eq(&caller.sub),
                memorandum_responses::reviewed_at.eq(Utc::now()),
                memorandum_responses::version.eq(memorandum_responses::version + 1),
            ))
            .execute(conn)
            .await?;
            let after = one(conn, id, office_id).await?;
            audit::record(
                conn,
                &caller.actor(),
                "review_compliance",
                "memorandum_response",
                format!("{id}/{office_id}"),
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&after).ok(&req))
}
