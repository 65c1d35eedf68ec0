//! `/v1/offices/{id}/appointments`: who heads and staffs an office over time.
//!
//! An office has at most one representative at any date (the database's exclusion
//! constraint `appointments_one_representative` holds it under concurrent writers). A
//! handover ends the outgoing representative and appoints the incoming one in one request
//! (`replaces` in the body of the new appointment), so the office is never left with two
//! representatives or none in between because of a failed second call.
//!
//! Appointments are ended (`POST …/end`), never deleted: they are the office's history.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
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
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::{appointments, offices};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// A position in an office. An office has at most one representative at any date.
    pub enum Position {
        Representative = "representative" ("Representative", "Representante"),
        AdministrativeOfficer = "administrative_officer" ("Administrative officer", "Oficial administrativo"),
        ProjectOfficer = "project_officer" ("Project officer", "Oficial de proyectos"),
        Staff = "staff" ("Staff", "Personal"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "appointments_one_representative",
        field: "starts_on",
        meaning: Meaning::Conflict(|| {
            text!(
                "The office already has a representative in these dates; end that appointment first, or name it in `replaces`.",
                "La oficina ya tiene un representante en estas fechas; finalice ese nombramiento primero o indíquelo en `replaces`."
            )
        }),
    },
    Constraint {
        name: "appointments_ends_after_starts",
        field: "ends_on",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before starts_on",
                "no puede ser anterior a starts_on"
            )
        }),
    },
    Constraint {
        name: "appointments_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// A person's appointment to a position in an office.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Appointment {
    pub id: Uuid,
    pub office_id: Uuid,
    #[schema(example = "María Fernanda Quispe")]
    pub person_name: String,
    /// The person's work e-mail; a representative is recognised by it (their token's
    /// subject) and may not change their own appointment.
    #[schema(example = "mquispe@oas.org")]
    pub email: Option<String>,
    pub position: Position,
    pub starts_on: NaiveDate,
    /// The last day in the position; null while open-ended.
    pub ends_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = appointments)]
pub(crate) struct AppointmentRow {
    id: Uuid,
    office_id: Uuid,
    person_name: String,
    email: Option<String>,
    position: String,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AppointmentRow> for Appointment {
    fn from(r: AppointmentRow) -> Self {
        Appointment {
            id: r.id,
            office_id: r.office_id,
            person_name: r.person_name,
            email: r.email,
            position: Position::from_db(&r.position),
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Ending another appointment in the same request as a new one (a handover).
#[derive(Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Replaces {
    /// An appointment of the same office, still open on `ends_on`.
    pub appointment_id: Uuid,
    /// Its last day; before the new appointment's `starts_on` when both are
    /// representatives.
    pub ends_on: NaiveDate,
}

crate::core::validate::object_only!(Replaces);

/// A new appointment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    #[schema(
        example = "María Fernanda Quispe",
        pattern = "<line>",
        max_length = 200
    )]
    pub person_name: String,
    #[serde(default)]
    #[schema(example = "mquispe@oas.org", pattern = "<email>", max_length = 254)]
    pub email: Option<String>,
    pub position: Position,
    pub starts_on: NaiveDate,
    /// Not before `starts_on`.
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    /// Ends this appointment in the same transaction (e.g. the outgoing representative).
    #[serde(default)]
    pub replaces: Option<Replaces>,
}

/// Changes to an appointment (JSON merge patch: an absent field is unchanged, `null`
/// clears an optional one). `office_id` and `position` cannot change: end the
/// appointment and make a new one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AppointmentPatch {
    #[schema(nullable = false, pattern = "<line>", max_length = 200)]
    pub person_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<email>", max_length = 254)]
    pub email: Option<Option<String>>,
    /// Not after `ends_on` (as patched or stored).
    #[schema(nullable = false)]
    pub starts_on: Option<NaiveDate>,
    /// Not before `starts_on` (as patched or stored).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub ends_on: Option<Option<NaiveDate>>,
}

/// Ending an appointment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAppointment {
    /// The last day in the position; not before `starts_on`.
    pub ends_on: NaiveDate,
}

const READ_ONLY: &[&str] = &["id", "office_id", "position", "created_at", "updated_at"];

fn before_starts_on(field: &str) -> FieldError {
    FieldError::new(
        field,
        "before_starts_on",
        text!(
            "must not be before starts_on",
            "no puede ser anterior a starts_on"
        ),
    )
}

fn validate_appointment(a: &Appointment) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    validate::line("person_name", &a.person_name, 200, &mut errors);
    if let Some(e) = &a.email {
        validate::email("email", e, &mut errors);
    }
    if let Some(end) = a.ends_on
        && end < a.starts_on
    {
        errors.push(before_starts_on("ends_on"));
    }
    validate::finish(errors)
}

/// Whether an appointment is held on `day`.
pub fn is_current(starts_on: NaiveDate, ends_on: Option<NaiveDate>, day: NaiveDate) -> bool {
    starts_on <= day && ends_on.is_none_or(|e| e >= day)
}

/// The office's status, 404 when there is no such office. Locks the office row against
/// a concurrent close when `lock`.
async fn office_status(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    lock: bool,
) -> Result<String, ApiError> {
    let q = offices::table.find(office_id).select(offices::status);
    let status: Option<String> = if lock {
        q.for_share().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    status.ok_or_else(ApiError::not_found)
}

/// Loads an appointment of `office_id` (404 when it belongs to another office), locking
/// it when `for_update`.
async fn load(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Appointment, ApiError> {
    let q = appointments::table
        .filter(appointments::id.eq(id))
        .filter(appointments::office_id.eq(office_id))
        .select(AppointmentRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(Appointment::from).ok_or_else(ApiError::not_found)
}

/// The representative of each office in `office_ids` on `day`, in one query.
pub async fn representatives_on(
    conn: &mut AsyncPgConnection,
    office_ids: &[Uuid],
    day: NaiveDate,
) -> Result<Vec<Appointment>, ApiError> {
    if office_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<AppointmentRow> = appointments::table
        .filter(appointments::office_id.eq_any(office_ids))
        .filter(appointments::position.eq(Position::Representative.as_str()))
        .filter(appointments::starts_on.le(day))
        .filter(
            appointments::ends_on
                .is_null()
                .or(appointments::ends_on.ge(day)),
        )
        .select(AppointmentRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(Appointment::from).collect())
}

page_type!(
    AppointmentPage,
    Appointment,
    "A page of an office's appointments."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AppointmentSort {
    StartsOn,
    UpdatedAt,
}

impl SortField for AppointmentSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("starts_on", AppointmentSort::StartsOn),
        ("updated_at", AppointmentSort::UpdatedAt),
    ];
    const DEFAULT: Self = AppointmentSort::StartsOn;
}

/// Query parameters of the appointment list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppointmentQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `starts_on` or `updated_at`, prefixed with `-` for descending order.
    #[param(example = "-starts_on")]
    pub sort: Option<String>,
    /// Positions, comma-separated: `representative`, `administrative_officer`,
    /// `project_officer`, `staff`.
    #[param(example = "representative")]
    pub position: Option<String>,
    /// `true`: only appointments held today (started, and not ended before today);
    /// `false`: only the others (past and future ones).
    #[param(value_type = Option<bool>)]
    pub current: Option<String>,
    /// Only appointments changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

fn param_bool(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    raw.map(|v| match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid_parameter(
            name,
            text!("must be true or false", "debe ser true o false"),
        )),
    })
    .transpose()
}

/// List an office's appointments.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(("id" = Uuid, Path, description = "The office's id"), AppointmentQuery),
    responses(
        (status = 200, description = "A page of the office's appointments", body = AppointmentPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/appointments")]
pub async fn list_appointments(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<AppointmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<AppointmentSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let positions = query
        .position
        .as_deref()
        .map(|s| Position::parse_filter("position", s))
        .transpose()?;
    let current = param_bool("current", query.current.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = appointments::table
        .filter(appointments::office_id.eq(office_id))
        .select(AppointmentRow::as_select())
        .into_boxed();
    if let Some(v) = positions {
        q = crate::core::pagination::filter_in!(q, appointments::position, v);
    }
    let today = Utc::now().date_naive();
    match current {
        Some(true) => {
            q = q.filter(appointments::starts_on.le(today)).filter(
                appointments::ends_on
                    .is_null()
                    .or(appointments::ends_on.ge(today)),
            );
        }
        Some(false) => {
            q = q.filter(
                appointments::starts_on
                    .gt(today)
                    .or(appointments::ends_on.lt(today)),
            );
        }
        None => {}
    }
    if let Some(t) = updated_since {
        q = q.filter(appointments::updated_at.ge(t));
    }
    let q = match sort.field {
        AppointmentSort::StartsOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                appointments::starts_on,
                appointments::id,
                sort.desc,
                after
            )
        }
        AppointmentSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                appointments::updated_at,
                appointments::id,
                sort.desc,
                after
            )
        }
    };
    let mut conn = state.read_pool().get().await?;
    office_status(&mut conn, office_id, false).await?;
    let rows: Vec<AppointmentRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            AppointmentSort::StartsOn => serde_json::json!(r.starts_on),
            AppointmentSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Appointment::from);
    Ok(AppointmentPage::respond(page, &req))
}

/// Get an appointment.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("appointment_id" = Uuid, Path, description = "The appointment's id"),
    ),
    responses(
        (status = 200, description = "The appointment", body = Appointment,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/appointments/{appointment_id}")]
pub async fn get_appointment(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let appointment = load(&mut conn, office_id, id, false).await?;
    Ok(Tagged::new(&appointment).ok(&req))
}

/// Appoint someone to an office.
///
/// The office must be open. A representative whose dates overlap another
/// representative's is a 409 (`invalid-state`, naming `starts_on`) unless the body's
/// `replaces` ends that appointment in the same transaction. The coordinator, or the
/// office's representative (for others than themselves), may appoint.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(("id" = Uuid, Path, description = "The office's id")),
    request_body = NewAppointment,
    responses(
        (status = 201, description = "The appointment was made", body = Appointment,
         headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/appointments")]
pub async fn create_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<NewAppointment>,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    let new = body.0;
    let now = Utc::now();
    let appointment = Appointment {
        id: Uuid::now_v7(),
        office_id,
        person_name: new.person_name,
        email: new.email,
        position: new.position,
        starts_on: new.starts_on,
        ends_on: new.ends_on,
        created_at: now,
        updated_at: now,
    };
    let replaces = new.replaces;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let status = office_status(conn, office_id, true).await?;
            caller.may_write_appointment(office_id, appointment.email.as_deref())?;
            // The appointment it replaces: same office (else 422), writable by the caller.
            let replaced = match &replaces {
                Some(r) => {
                    let old = load(conn, office_id, r.appointment_id, true)
                        .await
                        .map_err(|e| {
                            if e.status == 404 {
                                ApiError::invalid_field(
                                    "replaces.appointment_id",
                                    "unknown",
                                    text!(
                                        "is not an appointment of this office",
                                        "no es un nombramiento de esta oficina"
                                    ),
                                )
                            } else {
                                e
                            }
                        })?;
                    caller.may_write_appointment(office_id, old.email.as_deref())?;
                    Some((old, r.ends_on))
                }
                None => None,
            };
            validate_appointment(&appointment)?;
            if let Some((old, ends_on)) = &replaced
                && *ends_on < old.starts_on
            {
                return Err(ApiError::validation(vec![before_starts_on(
                    "replaces.ends_on",
                )]));
            }
            if status != "open" {
                return Err(ApiError::invalid_state(text!(
                    "The office is closed: it takes no new appointments.",
                    "La oficina está cerrada: no admite nuevos nombramientos."
                )));
            }
            if let Some((old, ends_on)) = &replaced {
                if old.ends_on.is_some_and(|e| e < *ends_on) {
                    return Err(ApiError::invalid_state(text!(
                        "The replaced appointment already ended before replaces.ends_on.",
                        "El nombramiento reemplazado ya terminó antes de replaces.ends_on."
                    ))
                    .with_errors(vec![FieldError::new(
                        "replaces.ends_on",
                        "already_ended",
                        text!(
                            "is after the appointment's end",
                            "es posterior al fin del nombramiento"
                        ),
                    )]));
                }
                end_in_tx(conn, &caller, old, *ends_on).await?;
            }
            let row: AppointmentRow = diesel::insert_into(appointments::table)
                .values((
                    appointments::id.eq(appointment.id),
                    appointments::office_id.eq(office_id),
                    appointments::person_name.eq(&appointment.person_name),
                    appointments::email.eq(&appointment.email),
                    appointments::position.eq(appointment.position.as_str()),
                    appointments::starts_on.eq(appointment.starts_on),
                    appointments::ends_on.eq(appointment.ends_on),
                ))
                .returning(AppointmentRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Appointment::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "appointment",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/offices/{office_id}/appointments/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Sets an appointment's last day and records the change.
async fn end_in_tx(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    current: &Appointment,
    ends_on: NaiveDate,
) -> Result<Appointment, ApiError> {
    let row: AppointmentRow = diesel::update(appointments::table.find(current.id))
        .set(appointments::ends_on.eq(ends_on))
        .returning(AppointmentRow::as_returning())
        .get_result(conn)
        .await?;
    let after = Appointment::from(row);
    audit::record(
        conn,
        &caller.actor(),
        "end",
        "appointment",
        current.id,
        Some(current),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// The appointments of `office_id` that run past `closed_on` (open-ended or ending later)
/// and the ones that start after it, as of a closing of the office on that day.
pub(super) async fn past_closing(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    closed_on: NaiveDate,
) -> Result<(Vec<Appointment>, Vec<Appointment>), ApiError> {
    let rows: Vec<AppointmentRow> = appointments::table
        .filter(appointments::office_id.eq(office_id))
        .filter(
            appointments::ends_on
                .is_null()
                .or(appointments::ends_on.gt(closed_on)),
        )
        .order((appointments::starts_on.asc(), appointments::id.asc()))
        .select(AppointmentRow::as_select())
        .for_update()
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(Appointment::from)
        .partition(|a| a.starts_on <= closed_on))
}

/// Ends each appointment on `ends_on` (the office's closing date), audited one by one.
pub(super) async fn end_all(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    current: &[Appointment],
    ends_on: NaiveDate,
) -> Result<(), ApiError> {
    for a in current {
        end_in_tx(conn, caller, a, ends_on).await?;
    }
    Ok(())
}

/// Update an appointment.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale). A
/// representative may not change their own appointment.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("appointment_id" = Uuid, Path, description = "The appointment's id"),
        ("If-Match" = String, Header, description = "The ETag of the appointment as last read"),
    ),
    request_body(content = AppointmentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated appointment", body = Appointment, headers(("ETag" = String))),
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
#[patch("/{id}/appointments/{appointment_id}")]
pub async fn update_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load(conn, office_id, id, true).await?;
            caller.may_write_appointment(office_id, current.email.as_deref())?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(&body.0, &["person_name", "starts_on"])?;
            let patch: AppointmentPatch = from_value(body.0.clone())?;
            let before = current.clone();
            let mut next = current;
            if let Some(v) = patch.person_name {
                next.person_name = v;
            }
            if let Some(v) = patch.email {
                next.email = v;
            }
            if let Some(v) = patch.starts_on {
                next.starts_on = v;
            }
            if let Some(v) = patch.ends_on {
                next.ends_on = v;
            }
            // Nor may a representative make an appointment their own.
            if next.email != before.email
                && caller
                    .may_write_appointment(office_id, next.email.as_deref())
                    .is_err()
            {
                return Err(ApiError::invalid_field(
                    "email",
                    "not_allowed",
                    text!(
                        "you may not make this appointment your own",
                        "no puede hacer suyo este nombramiento"
                    ),
                ));
            }
            validate_appointment(&next)?;
            if (&next.person_name, &next.email, next.starts_on, next.ends_on)
                == (
                    &before.person_name,
                    &before.email,
                    before.starts_on,
                    before.ends_on,
                )
            {
                // Nothing changes: no write, no event, the same ETag.
                return Ok(before);
            }
            let row: AppointmentRow = diesel::update(appointments::table.find(id))
                .set((
                    appointments::person_name.eq(&next.person_name),
                    appointments::email.eq(&next.email),
                    appointments::starts_on.eq(next.starts_on),
                    appointments::ends_on.eq(next.ends_on),
                ))
                .returning(AppointmentRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Appointment::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "update",
                "appointment",
                id,
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

/// End an appointment.
///
/// Sets its last day. An appointment that has already ended is a 409. Honours
/// `If-Match` when given.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("appointment_id" = Uuid, Path, description = "The appointment's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the appointment as last read"),
    ),
    request_body = EndAppointment,
    responses(
        (status = 200, description = "The ended appointment", body = Appointment, headers(("ETag" = String))),
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
#[post("/{id}/appointments/{appointment_id}/end")]
pub async fn end_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<EndAppointment>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    let ends_on = body.0.ends_on;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let ended = conn
        .transaction(async |conn| {
            let current = load(conn, office_id, id, true).await?;
            caller.may_write_appointment(office_id, current.email.as_deref())?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            if ends_on < current.starts_on {
                return Err(ApiError::validation(vec![before_starts_on("ends_on")]));
            }
            if current.ends_on.is_some_and(|e| e < Utc::now().date_naive()) {
                return Err(ApiError::invalid_state(text!(
                    "The appointment has already ended.",
                    "El nombramiento ya terminó."
                )));
            }
            end_in_tx(conn, &caller, &current, ends_on).await
        })
        .await?;
    Ok(Tagged::new(&ended).ok(&req))
}
