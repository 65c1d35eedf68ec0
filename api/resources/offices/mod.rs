//! `/v1/offices`: the country offices and the Coordinating Office.
//!
//! An office with history is closed (`POST /v1/offices/{id}/close`), never deleted.

pub mod appointments;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::ApiError;
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::{LocalizedText, LocalizedText300};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::offices;
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::resources::offices::appointments::Appointment;
use crate::resources::shared::{Contacts, ContactsPatch, MemberStateCode, check_member_state};
use crate::state::AppState;

string_enum! {
    /// What an office is: one of the country offices, or the Coordinating Office that
    /// oversees them (at most one).
    pub enum OfficeKind {
        CountryOffice = "country_office" ("Country office", "Oficina nacional"),
        CoordinatingOffice = "coordinating_office" ("Coordinating office", "Oficina de coordinación"),
    }
}

string_enum! {
    /// Whether an office operates.
    pub enum OfficeStatus {
        Open = "open" ("Open", "Abierta"),
        Closed = "closed" ("Closed", "Cerrada"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "offices_code_key",
        field: "code",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "offices_one_coordinating_office",
        field: "kind",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "offices_member_state_fkey",
        field: "member_state",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "offices_closed_after_opened",
        field: "closed_on",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before opened_on",
                "no puede ser anterior a opened_on"
            )
        }),
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// The representative heading an office today.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct CurrentRepresentative {
    pub appointment_id: Uuid,
    #[schema(example = "María Fernanda Quispe")]
    pub person_name: String,
    pub email: Option<String>,
    pub starts_on: NaiveDate,
}

impl From<Appointment> for CurrentRepresentative {
    fn from(a: Appointment) -> Self {
        CurrentRepresentative {
            appointment_id: a.id,
            person_name: a.person_name,
            email: a.email,
            starts_on: a.starts_on,
        }
    }
}

/// An office of the General Secretariat.
#[derive(Serialize, ToSchema)]
pub struct Office {
    pub id: Uuid,
    /// Unique code, e.g. `OGSMS-PE`.
    #[schema(example = "OGSMS-PE")]
    pub code: String,
    pub kind: OfficeKind,
    /// ISO 3166-1 alpha-2 code of the member state the office is in.
    #[schema(example = "PE")]
    pub member_state: String,
    pub name: LocalizedText,
    #[schema(example = "Lima")]
    pub city: String,
    pub address: Option<String>,
    pub contacts: Contacts,
    pub opened_on: NaiveDate,
    /// Set when the office is closed.
    pub closed_on: Option<NaiveDate>,
    pub status: OfficeStatus,
    /// The representative appointed to the office today (see
    /// `/v1/offices/{id}/appointments`); null when there is none.
    pub current_representative: Option<CurrentRepresentative>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = offices)]
struct OfficeRow {
    id: Uuid,
    code: String,
    kind: String,
    member_state: String,
    name: serde_json::Value,
    city: String,
    address: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    opened_on: NaiveDate,
    closed_on: Option<NaiveDate>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OfficeRow> for Office {
    fn from(r: OfficeRow) -> Self {
        Office {
            id: r.id,
            code: r.code,
            kind: OfficeKind::from_db(&r.kind),
            member_state: r.member_state,
            name: LocalizedText::from_json(r.name),
            city: r.city,
            address: r.address,
            contacts: Contacts {
                email: r.email,
                phone: r.phone,
                website: r.website,
            },
            opened_on: r.opened_on,
            closed_on: r.closed_on,
            status: OfficeStatus::from_db(&r.status),
            current_representative: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new office.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffice {
    /// Unique code: 2–32 upper-case letters, digits or hyphens.
    #[schema(example = "OGSMS-PE", pattern = "^[A-Z0-9][A-Z0-9-]{1,31}$")]
    pub code: String,
    pub kind: OfficeKind,
    /// ISO 3166-1 alpha-2 code of an OAS member state.
    #[schema(value_type = MemberStateCode)]
    pub member_state: String,
    #[schema(value_type = LocalizedText300)]
    pub name: LocalizedText,
    #[schema(example = "Lima", pattern = "<line>", max_length = 120)]
    pub city: String,
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 500)]
    pub address: Option<String>,
    #[serde(default)]
    pub contacts: Option<Contacts>,
    /// Not after `closed_on` (an office is created open).
    pub opened_on: NaiveDate,
}

/// Changes to an office (JSON merge patch: an absent field is unchanged, `null` clears
/// an optional one). `kind`, `member_state`, `status` and `closed_on` cannot be patched;
/// an office is closed with `POST /v1/offices/{id}/close`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OfficePatch {
    #[schema(nullable = false, pattern = "^[A-Z0-9][A-Z0-9-]{1,31}$")]
    pub code: Option<String>,
    #[schema(value_type = LocalizedText300, required = false)]
    pub name: Option<LocalizedText>,
    #[schema(nullable = false, pattern = "<line>", max_length = 120)]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<line>", max_length = 500)]
    pub address: Option<Option<String>>,
    #[schema(value_type = ContactsPatch, required = false)]
    pub contacts: Option<ContactsPatch>,
    /// Not after the office's `closed_on` (a closed office).
    #[schema(nullable = false)]
    pub opened_on: Option<NaiveDate>,
}

/// Closing an office.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseOffice {
    /// The last day of operation; not before `opened_on`, not in the future.
    pub closed_on: NaiveDate,
}

const READ_ONLY: &[&str] = &[
    "id",
    "kind",
    "member_state",
    "status",
    "closed_on",
    "current_representative",
    "created_at",
    "updated_at",
];

fn validate_office(o: &Office) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    validate::code("code", &o.code, 32, &mut errors);
    check_member_state("member_state", &o.member_state, &mut errors);
    o.name
        .validate("name", LocalizedText300::MAX_CHARS, &mut errors);
    validate::line("city", &o.city, 120, &mut errors);
    if let Some(a) = &o.address {
        validate::line("address", a, 500, &mut errors);
    }
    o.contacts.validate(&mut errors);
    if let Some(closed) = o.closed_on
        && closed < o.opened_on
    {
        errors.push(crate::core::error::FieldError::new(
            "closed_on",
            "before_opened_on",
            text!(
                "must not be before opened_on",
                "no puede ser anterior a opened_on"
            ),
        ));
    }
    validate::finish(errors)
}

page_type!(OfficePage, Office, "A page of offices.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum OfficeSort {
    Code,
    OpenedOn,
    CreatedAt,
    UpdatedAt,
}

impl SortField for OfficeSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("code", OfficeSort::Code),
        ("opened_on", OfficeSort::OpenedOn),
        ("created_at", OfficeSort::CreatedAt),
        ("updated_at", OfficeSort::UpdatedAt),
    ];
    const DEFAULT: Self = OfficeSort::Code;
}

/// Query parameters of the office list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OfficeQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `code`, `opened_on`, `created_at` or `updated_at`, prefixed with `-` for
    /// descending order.
    #[param(example = "code")]
    pub sort: Option<String>,
    /// Member states (alpha-2 codes), comma-separated.
    #[param(example = "PE,CO")]
    pub member_state: Option<String>,
    /// `open` and/or `closed`, comma-separated.
    #[param(example = "open")]
    pub status: Option<String>,
    /// `country_office` and/or `coordinating_office`, comma-separated.
    pub kind: Option<String>,
    /// Only offices changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List offices.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(OfficeQuery),
    responses(
        (status = 200, description = "A page of offices", body = OfficePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_offices(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<OfficeQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<OfficeSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let member_states = validate::param_codes(
        "member_state",
        query.member_state.as_deref(),
        validate::is_alpha2,
    )?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| OfficeStatus::parse_filter("status", s))
        .transpose()?;
    let kinds = query
        .kind
        .as_deref()
        .map(|s| OfficeKind::parse_filter("kind", s))
        .transpose()?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = offices::table.select(OfficeRow::as_select()).into_boxed();
    if let Some(v) = member_states {
        q = crate::core::pagination::filter_in!(q, offices::member_state, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, offices::status, v);
    }
    if let Some(v) = kinds {
        q = crate::core::pagination::filter_in!(q, offices::kind, v);
    }
    if let Some(t) = updated_since {
        q = q.filter(offices::updated_at.ge(t));
    }
    let q = match sort.field {
        OfficeSort::Code => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, offices::code, offices::id, sort.desc, after)
        }
        OfficeSort::OpenedOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, offices::opened_on, offices::id, sort.desc, after)
        }
        OfficeSort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, offices::created_at, offices::id, sort.desc, after)
        }
        OfficeSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, offices::updated_at, offices::id, sort.desc, after)
        }
    };
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<OfficeRow> = q.limit(limit + 1).load(&mut conn).await?;
    let mut page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            OfficeSort::Code => serde_json::json!(r.code),
            OfficeSort::OpenedOn => serde_json::json!(r.opened_on),
            OfficeSort::CreatedAt => serde_json::json!(r.created_at),
            OfficeSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Office::from);
    with_representatives(&mut conn, &mut page.items).await?;
    Ok(OfficePage::respond(page, &req))
}

/// Fills in the current representative of each office, in one query for all of them.
async fn with_representatives(
    conn: &mut AsyncPgConnection,
    items: &mut [Office],
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|o| o.id).collect();
    let reps = appointments::representatives_on(conn, &ids, Utc::now().date_naive()).await?;
    let mut by_office: std::collections::HashMap<Uuid, Appointment> =
        reps.into_iter().map(|a| (a.office_id, a)).collect();
    for o in items.iter_mut() {
        o.current_representative = by_office.remove(&o.id).map(CurrentRepresentative::from);
    }
    Ok(())
}

/// An office read from its row, with its current representative.
async fn complete(conn: &mut AsyncPgConnection, row: OfficeRow) -> Result<Office, ApiError> {
    let mut office = [Office::from(row)];
    with_representatives(conn, &mut office).await?;
    let [office] = office;
    Ok(office)
}

/// Loads an office, locking its row when `for_update`.
async fn load(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Office, ApiError> {
    let q = offices::table.find(id).select(OfficeRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    match row {
        Some(row) => complete(conn, row).await,
        None => Err(ApiError::not_found()),
    }
}

/// Get an office.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(("id" = Uuid, Path, description = "The office's id")),
    responses(
        (status = 200, description = "The office", body = Office,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_office(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let office = load_with_representative(&mut conn, id.into_inner()).await?;
    Ok(Tagged::new(&office).ok(&req))
}

/// An office with its current representative in one statement (the office's row
/// joined to the representative appointment in force today, if any): what [`load`]
/// reads in two.
async fn load_with_representative(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Office, ApiError> {
    use crate::db::schema::appointments as a;
    use crate::resources::offices::appointments::Position;
    let day = Utc::now().date_naive();
    /// The representative in force: appointment id, name, email, since.
    type Representative = (Uuid, String, Option<String>, NaiveDate);
    let rows: Vec<(OfficeRow, Option<Representative>)> = offices::table
        .left_join(
            a::table.on(a::office_id
                .eq(offices::id)
                .and(a::position.eq(Position::Representative.as_str()))
                .and(a::starts_on.le(day))
                .and(a::ends_on.is_null().or(a::ends_on.ge(day)))),
        )
        .filter(offices::id.eq(id))
        .select((
            OfficeRow::as_select(),
            (a::id, a::person_name, a::email, a::starts_on).nullable(),
        ))
        .load(conn)
        .await?;
    // At most one representative is in force on a day; were there several, the last
    // read wins, as in `with_representatives`.
    let mut office = None;
    let mut representative = None;
    for (row, rep) in rows {
        office.get_or_insert_with(|| Office::from(row));
        if rep.is_some() {
            representative = rep;
        }
    }
    let mut office = office.ok_or_else(ApiError::not_found)?;
    office.current_representative =
        representative.map(|(appointment_id, person_name, email, starts_on)| {
            CurrentRepresentative {
                appointment_id,
                person_name,
                email,
                starts_on,
            }
        });
    Ok(office)
}

/// Create an office.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    request_body = NewOffice,
    responses(
        (status = 201, description = "The office was created", body = Office,
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
pub async fn create_office(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewOffice>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_reference_data()?;
    let new = body.0;
    let now = Utc::now();
    let office = Office {
        id: Uuid::now_v7(),
        code: new.code,
        kind: new.kind,
        member_state: new.member_state,
        name: new.name,
        city: new.city,
        address: new.address,
        contacts: new.contacts.unwrap_or_default(),
        opened_on: new.opened_on,
        closed_on: None,
        status: OfficeStatus::Open,
        current_representative: None,
        created_at: now,
        updated_at: now,
    };
    validate_office(&office)?;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let row: OfficeRow = diesel::insert_into(offices::table)
                .values((
                    offices::id.eq(office.id),
                    offices::code.eq(&office.code),
                    offices::kind.eq(office.kind.as_str()),
                    offices::member_state.eq(&office.member_state),
                    offices::name.eq(office.name.to_json()),
                    offices::city.eq(&office.city),
                    offices::address.eq(&office.address),
                    offices::email.eq(&office.contacts.email),
                    offices::phone.eq(&office.contacts.phone),
                    offices::website.eq(&office.contacts.website),
                    offices::opened_on.eq(office.opened_on),
                ))
                .returning(OfficeRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Office::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "office",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/offices/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update an office.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale).
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("If-Match" = String, Header, description = "The ETag of the office as last read"),
    ),
    request_body(content = OfficePatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated office", body = Office, headers(("ETag" = String))),
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
pub async fn update_office(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_reference_data()?;
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load(conn, id, true).await?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(&body.0, &["code", "name", "city", "contacts", "opened_on"])?;
            let before = Tagged::new(&current);
            let patch: OfficePatch = from_value(body.0.clone())?;
            let mut next = current;
            if let Some(v) = patch.code {
                next.code = v;
            }
            if let Some(v) = patch.name {
                next.name = v;
            }
            if let Some(v) = patch.city {
                next.city = v;
            }
            if let Some(v) = patch.address {
                next.address = v;
            }
            if let Some(c) = patch.contacts {
                if let Some(v) = c.email {
                    next.contacts.email = v;
                }
                if let Some(v) = c.phone {
                    next.contacts.phone = v;
                }
                if let Some(v) = c.website {
                    next.contacts.website = v;
                }
            }
            if let Some(v) = patch.opened_on {
                next.opened_on = v;
            }
            validate_office(&next)?;
            // Nothing changes: no write, no new updated_at, no audit event.
            if Tagged::new(&next).etag == before.etag {
                return Ok(next);
            }
            let row: OfficeRow = diesel::update(offices::table.find(id))
                .set((
                    offices::code.eq(&next.code),
                    offices::name.eq(next.name.to_json()),
                    offices::city.eq(&next.city),
                    offices::address.eq(&next.address),
                    offices::email.eq(&next.contacts.email),
                    offices::phone.eq(&next.contacts.phone),
                    offices::website.eq(&next.contacts.website),
                    offices::opened_on.eq(next.opened_on),
                ))
                .returning(OfficeRow::as_returning())
                .get_result(conn)
                .await?;
            let after = complete(conn, row).await?;
            if Tagged::new(&after).etag != before.etag {
                let before: serde_json::Value =
                    serde_json::from_slice(&before.bytes).expect("own JSON");
                let after_json = serde_json::to_value(&after).expect("serializes");
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "office",
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

/// What stands in the way of closing office `id` on `closed_on` (issue 21 §5): its
/// active or approved projects, its open ledgers, and appointments that start
/// after the closing date. Answers 409 `invalid-state` naming each of them (`field` is
/// `projects/{id}`, `ledgers/{id}` or `appointments/{id}`); otherwise the appointments
/// that run past the closing date, which the closing ends on that day. The rows are
/// locked (`FOR SHARE`/`FOR UPDATE`), so no ledger is created, no project activated and
/// no entry posted into a ledger under way while the office closes.
async fn in_the_way_of_closing(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    closed_on: NaiveDate,
) -> Result<Vec<Appointment>, ApiError> {
    use crate::core::error::FieldError;
    use crate::db::schema::{ledgers, projects};
    let live_projects: Vec<(Uuid, String, String)> = projects::table
        .filter(projects::office_id.eq(id))
        .filter(projects::status.eq_any(["active", "approved"]))
        .order(projects::code.asc())
        .select((projects::id, projects::code, projects::status))
        .for_share()
        .load(conn)
        .await?;
    let open_ledgers: Vec<(Uuid, i32, String, Option<String>)> = ledgers::table
        .filter(ledgers::office_id.eq(id))
        .filter(ledgers::status.eq("open"))
        .order((ledgers::fiscal_year.asc(), ledgers::fund.asc()))
        .select((
            ledgers::id,
            ledgers::fiscal_year,
            ledgers::fund,
            ledgers::fund_code,
        ))
        .for_share()
        .load(conn)
        .await?;
    let (current, later) = appointments::past_closing(conn, id, closed_on).await?;
    let mut blockers = Vec::new();
    for (pid, code, status) in &live_projects {
        blockers.push(FieldError::new(
            format!("projects/{pid}"),
            "project_not_finished",
            text!(
                "project {code} is {status}: complete, suspend or cancel it first",
                "el proyecto {code} está {status}: complételo, suspéndalo o cancélelo antes"
            ),
        ));
    }
    for (lid, year, fund, code) in &open_ledgers {
        let fund = match code {
            Some(c) => format!("{fund} {c}"),
            None => fund.clone(),
        };
        blockers.push(FieldError::new(
            format!("ledgers/{lid}"),
            "ledger_open",
            text!(
                "the {year} ledger of {fund} is open: close it first",
                "el libro {year} de {fund} está abierto: ciérrelo antes"
            ),
        ));
    }
    for a in &later {
        let starts = a.starts_on;
        blockers.push(FieldError::new(
            format!("appointments/{}", a.id),
            "starts_after_closing",
            text!(
                "the appointment starts on {starts}, after the closing date",
                "el nombramiento empieza el {starts}, después de la fecha de cierre"
            ),
        ));
    }
    if !blockers.is_empty() {
        let (p, l, a) = (live_projects.len(), open_ledgers.len(), later.len());
        return Err(ApiError::invalid_state(text!(
            "The office cannot close: {p} project(s) not finished, {l} ledger(s) open and {a} appointment(s) starting after {closed_on}.",
            "La oficina no puede cerrarse: {p} proyecto(s) sin terminar, {l} libro(s) abierto(s) y {a} nombramiento(s) que empiezan después del {closed_on}."
        ))
        .with_errors(blockers));
    }
    Ok(current)
}

/// Close an office.
///
/// An office with history is closed, never deleted. Honours `If-Match` when given.
///
/// An office closes only when none of its projects is active or approved, none of its
/// ledgers is open and no appointment starts after the closing date: 409
/// `invalid-state` otherwise, whose `errors` name each object in the way
/// (`projects/{id}`, `ledgers/{id}`, `appointments/{id}`). Closing ends the office's
/// current appointments on the closing date (each audited as `end`). No entry may be
/// dated after the closing date.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the office as last read"),
    ),
    request_body = CloseOffice,
    responses(
        (status = 200, description = "The closed office", body = Office, headers(("ETag" = String))),
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
#[post("/{id}/close")]
pub async fn close_office(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<CloseOffice>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_reference_data()?;
    let id = id.into_inner();
    let closed_on = body.0.closed_on;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let closed = conn
        .transaction(async |conn| {
            let current = load(conn, id, true).await?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            if current.status == OfficeStatus::Closed {
                return Err(ApiError::invalid_state(text!(
                    "The office is already closed.",
                    "La oficina ya está cerrada."
                )));
            }
            let mut errors = Vec::new();
            if closed_on < current.opened_on {
                errors.push(crate::core::error::FieldError::new(
                    "closed_on",
                    "before_opened_on",
                    text!(
                        "must not be before opened_on",
                        "no puede ser anterior a opened_on"
                    ),
                ));
            }
            if closed_on > Utc::now().date_naive() {
                errors.push(crate::core::error::FieldError::new(
                    "closed_on",
                    "in_future",
                    text!("must not be in the future", "no puede ser una fecha futura"),
                ));
            }
            validate::finish(errors)?;
            let current_appointments = in_the_way_of_closing(conn, id, closed_on).await?;
            appointments::end_all(conn, &caller, &current_appointments, closed_on).await?;
            let row: OfficeRow = diesel::update(offices::table.find(id))
                .set((
                    offices::status.eq(OfficeStatus::Closed.as_str()),
                    offices::closed_on.eq(closed_on),
                ))
                .returning(OfficeRow::as_returning())
                .get_result(conn)
                .await?;
            let after = complete(conn, row).await?;
            audit::record(
                conn,
                &caller.actor(),
                "close",
                "office",
                id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&closed).ok(&req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/offices")
        .writes("offices")
        .service(list_offices)
        .service(create_office)
        .service(get_office)
        .service(update_office)
        .service(close_office);
    r.writes("appointments")
        .service(appointments::list_appointments)
        .service(appointments::create_appointment)
        .service(appointments::get_appointment)
        .service(appointments::update_appointment)
        .service(appointments::end_appointment);
}
