//! `/v1/executing-agencies`: the local partners (government bodies, NGOs, universities,
//! …) that execute projects with the offices.
//!
//! An agency with history is suspended (`POST /v1/executing-agencies/{id}/suspend`),
//! which keeps its links to projects but stops new ones; an agency that no project
//! refers to may be deleted.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::{LocalizedText, LocalizedText300};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::{executing_agencies, project_agencies};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::resources::shared::{
    Contacts, ContactsPatch, MemberStateCode, check_member_state, delete_error, localized_sql,
    param_search, search_condition, still_referenced,
};
use crate::state::AppState;

string_enum! {
    /// What kind of organization an executing agency is.
    pub enum AgencyKind {
        Government = "government" ("Government", "Gobierno"),
        Ngo = "ngo" ("Non-governmental organization", "Organización no gubernamental"),
        Academic = "academic" ("Academic institution", "Institución académica"),
        InternationalOrganization = "international_organization" ("International organization", "Organismo internacional"),
        PrivateSector = "private_sector" ("Private sector", "Sector privado"),
        Other = "other" ("Other", "Otro"),
    }
}

string_enum! {
    /// Whether an agency may be linked to new projects. A suspended agency keeps its
    /// existing links and history.
    pub enum AgencyStatus {
        Active = "active" ("Active", "Activa"),
        Suspended = "suspended" ("Suspended", "Suspendida"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "executing_agencies_registration_key",
        field: "registration_number",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "executing_agencies_org_identifier_key",
        field: "org_identifier",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "executing_agencies_member_state_fkey",
        field: "member_state",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

diesel::define_sql_function! {
    /// SQL `coalesce` of a nullable text and a fallback.
    fn coalesce(x: Nullable<Text>, y: Text) -> Text;
}

/// A local partner that executes projects.
#[derive(Serialize, ToSchema)]
pub struct ExecutingAgency {
    pub id: Uuid,
    pub name: LocalizedText,
    /// Short name, e.g. `APCI`.
    #[schema(example = "APCI")]
    pub acronym: Option<String>,
    /// ISO 3166-1 alpha-2 code of the member state the agency is registered in.
    #[schema(example = "PE")]
    pub member_state: String,
    pub kind: AgencyKind,
    /// The agency's registration (tax or legal) number, unique within its member state.
    #[schema(example = "20504915523")]
    pub registration_number: String,
    /// The agency's IATI organisation identifier: a prefix from IATI's
    /// OrganisationRegistrationAgency codelist, a hyphen and the number the registry gave
    /// it; null when it has none. Unique. The IATI export names the agency by it.
    #[schema(example = "PE-RUC-20504915523")]
    pub org_identifier: Option<String>,
    pub contacts: Contacts,
    pub status: AgencyStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = executing_agencies)]
struct AgencyRow {
    id: Uuid,
    name: serde_json::Value,
    acronym: Option<String>,
    member_state: String,
    kind: String,
    registration_number: String,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    org_identifier: Option<String>,
}

impl From<AgencyRow> for ExecutingAgency {
    fn from(r: AgencyRow) -> Self {
        ExecutingAgency {
            id: r.id,
            name: LocalizedText::from_json(r.name),
            acronym: r.acronym,
            member_state: r.member_state,
            kind: AgencyKind::from_db(&r.kind),
            registration_number: r.registration_number,
            org_identifier: r.org_identifier,
            contacts: Contacts {
                email: r.email,
                phone: r.phone,
                website: r.website,
            },
            status: AgencyStatus::from_db(&r.status),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new executing agency (created active).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExecutingAgency {
    #[schema(value_type = LocalizedText300)]
    pub name: LocalizedText,
    #[serde(default)]
    #[schema(example = "APCI", pattern = "<line>", max_length = 30)]
    pub acronym: Option<String>,
    /// ISO 3166-1 alpha-2 code of an OAS member state.
    #[schema(value_type = MemberStateCode)]
    pub member_state: String,
    pub kind: AgencyKind,
    /// Unique within the member state.
    #[schema(example = "20504915523", pattern = "<line>", max_length = 64)]
    pub registration_number: String,
    /// Optional IATI organisation identifier, e.g. `PE-RUC-20504915523` (the prefix from
    /// IATI's OrganisationRegistrationAgency codelist); unique.
    #[serde(default)]
    #[schema(
        example = "PE-RUC-20504915523",
        pattern = "<org_identifier>",
        max_length = 100
    )]
    pub org_identifier: Option<String>,
    #[serde(default)]
    pub contacts: Option<Contacts>,
}

/// Changes to an agency (JSON merge patch: an absent field is unchanged, `null` clears
/// an optional one). `status` cannot be patched: an agency is suspended and reactivated
/// with operations of their own.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ExecutingAgencyPatch {
    #[schema(value_type = LocalizedText300, required = false)]
    pub name: Option<LocalizedText>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<line>", max_length = 30)]
    pub acronym: Option<Option<String>>,
    #[schema(value_type = MemberStateCode, required = false)]
    pub member_state: Option<String>,
    #[schema(value_type = AgencyKind, required = false)]
    pub kind: Option<AgencyKind>,
    #[schema(nullable = false, pattern = "<line>", max_length = 64)]
    pub registration_number: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<org_identifier>", max_length = 100)]
    pub org_identifier: Option<Option<String>>,
    #[schema(value_type = ContactsPatch, required = false)]
    pub contacts: Option<ContactsPatch>,
}

const READ_ONLY: &[&str] = &["id", "status", "created_at", "updated_at"];

fn validate_agency(a: &ExecutingAgency) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    a.name
        .validate("name", LocalizedText300::MAX_CHARS, &mut errors);
    if let Some(v) = &a.acronym {
        validate::line("acronym", v, 30, &mut errors);
    }
    check_member_state("member_state", &a.member_state, &mut errors);
    validate::line(
        "registration_number",
        &a.registration_number,
        64,
        &mut errors,
    );
    if let Some(v) = &a.org_identifier {
        crate::resources::shared::iati::check_org_identifier("org_identifier", v, &mut errors);
    }
    a.contacts.validate(&mut errors);
    validate::finish(errors)
}

page_type!(
    ExecutingAgencyPage,
    ExecutingAgency,
    "A page of executing agencies."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AgencySort {
    Acronym,
    CreatedAt,
    UpdatedAt,
}

impl SortField for AgencySort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("acronym", AgencySort::Acronym),
        ("created_at", AgencySort::CreatedAt),
        ("updated_at", AgencySort::UpdatedAt),
    ];
    const DEFAULT: Self = AgencySort::CreatedAt;
}

/// Query parameters of the agency list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgencyQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `acronym` (agencies without one first), `created_at` (the default) or
    /// `updated_at`, prefixed with `-` for descending order.
    #[param(example = "acronym")]
    pub sort: Option<String>,
    /// Member states (alpha-2 codes), comma-separated.
    #[param(example = "PE,CO")]
    pub member_state: Option<String>,
    /// Kinds, comma-separated.
    #[param(example = "government,ngo")]
    pub kind: Option<String>,
    /// `active` and/or `suspended`, comma-separated.
    #[param(example = "active")]
    pub status: Option<String>,
    /// Text searched in the name (every language) and the acronym, ignoring case and
    /// accents.
    #[param(example = "cooperacion")]
    pub q: Option<String>,
    /// Only agencies changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List executing agencies.
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(AgencyQuery),
    responses(
        (status = 200, description = "A page of executing agencies", body = ExecutingAgencyPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_agencies(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<AgencyQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<AgencySort>::parse(query.sort.as_deref())?;
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
    let kinds = query
        .kind
        .as_deref()
        .map(|s| AgencyKind::parse_filter("kind", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| AgencyStatus::parse_filter("status", s))
        .transpose()?;
    let search = param_search(query.q.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = executing_agencies::table
        .select(AgencyRow::as_select())
        .into_boxed();
    if let Some(v) = member_states {
        q = crate::core::pagination::filter_in!(q, executing_agencies::member_state, v);
    }
    if let Some(v) = kinds {
        q = crate::core::pagination::filter_in!(q, executing_agencies::kind, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, executing_agencies::status, v);
    }
    if let Some(term) = search {
        let haystack = format!(
            "{} || ' ' || coalesce(executing_agencies.acronym, '')",
            localized_sql("executing_agencies.name")
        );
        q = q.filter(search_condition(&haystack, &term));
    }
    if let Some(t) = updated_since {
        q = q.filter(executing_agencies::updated_at.ge(t));
    }
    let q = match sort.field {
        AgencySort::Acronym => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                coalesce(executing_agencies::acronym, ""),
                executing_agencies::id,
                sort.desc,
                after
            )
        }
        AgencySort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                executing_agencies::created_at,
                executing_agencies::id,
                sort.desc,
                after
            )
        }
        AgencySort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                executing_agencies::updated_at,
                executing_agencies::id,
                sort.desc,
                after
            )
        }
    };
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<AgencyRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            AgencySort::Acronym => serde_json::json!(r.acronym.clone().unwrap_or_default()),
            AgencySort::CreatedAt => serde_json::json!(r.created_at),
            AgencySort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(ExecutingAgency::from);
    Ok(ExecutingAgencyPage::respond(page, &req))
}

/// Loads an agency, locking its row when `for_update`.
async fn load(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<ExecutingAgency, ApiError> {
    let q = executing_agencies::table
        .find(id)
        .select(AgencyRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(ExecutingAgency::from)
        .ok_or_else(ApiError::not_found)
}

/// Get an executing agency.
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(("id" = Uuid, Path, description = "The agency's id")),
    responses(
        (status = 200, description = "The agency", body = ExecutingAgency,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_agency(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let agency = load(&mut conn, id.into_inner(), false).await?;
    Ok(Tagged::new(&agency).ok(&req))
}

/// Create an executing agency.
///
/// The Coordinating Office and the offices' representatives and staff may register
/// agencies. The registration number is unique within the member state (409).
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    request_body = NewExecutingAgency,
    responses(
        (status = 201, description = "The agency was created", body = ExecutingAgency,
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
pub async fn create_agency(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewExecutingAgency>,
) -> Result<HttpResponse, ApiError> {
    caller.may_write_agencies()?;
    let new = body.0;
    let now = Utc::now();
    let agency = ExecutingAgency {
        id: Uuid::now_v7(),
        name: new.name,
        acronym: new.acronym,
        member_state: new.member_state,
        kind: new.kind,
        registration_number: new.registration_number,
        org_identifier: new.org_identifier,
        contacts: new.contacts.unwrap_or_default(),
        status: AgencyStatus::Active,
        created_at: now,
        updated_at: now,
    };
    validate_agency(&agency)?;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let row: AgencyRow = diesel::insert_into(executing_agencies::table)
                .values((
                    executing_agencies::id.eq(agency.id),
                    executing_agencies::name.eq(agency.name.to_json()),
                    executing_agencies::acronym.eq(&agency.acronym),
                    executing_agencies::member_state.eq(&agency.member_state),
                    executing_agencies::kind.eq(agency.kind.as_str()),
                    executing_agencies::registration_number.eq(&agency.registration_number),
                    executing_agencies::org_identifier.eq(&agency.org_identifier),
                    executing_agencies::email.eq(&agency.contacts.email),
                    executing_agencies::phone.eq(&agency.contacts.phone),
                    executing_agencies::website.eq(&agency.contacts.website),
                ))
                .returning(AgencyRow::as_returning())
                .get_result(conn)
                .await?;
            let created = ExecutingAgency::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "executing_agency",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/executing-agencies/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update an executing agency.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale).
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(
        ("id" = Uuid, Path, description = "The agency's id"),
        ("If-Match" = String, Header, description = "The ETag of the agency as last read"),
    ),
    request_body(content = ExecutingAgencyPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated agency", body = ExecutingAgency, headers(("ETag" = String))),
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
pub async fn update_agency(
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
            caller.may_write_agencies()?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(
                &body.0,
                &[
                    "name",
                    "member_state",
                    "kind",
                    "registration_number",
                    "contacts",
                ],
            )?;
            let before = Tagged::new(&current);
            let patch: ExecutingAgencyPatch = from_value(body.0.clone())?;
            let mut next = current;
            if let Some(v) = patch.name {
                next.name = v;
            }
            if let Some(v) = patch.acronym {
                next.acronym = v;
            }
            if let Some(v) = patch.member_state {
                next.member_state = v;
            }
            if let Some(v) = patch.kind {
                next.kind = v;
            }
            if let Some(v) = patch.registration_number {
                next.registration_number = v;
            }
            if let Some(v) = patch.org_identifier {
                next.org_identifier = v;
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
            validate_agency(&next)?;
            // Nothing changes: no write, no new updated_at, no audit event.
            if Tagged::new(&next).etag == before.etag {
                return Ok(next);
            }
            let row: AgencyRow = diesel::update(executing_agencies::table.find(id))
                .set((
                    executing_agencies::name.eq(next.name.to_json()),
                    executing_agencies::acronym.eq(&next.acronym),
                    executing_agencies::member_state.eq(&next.member_state),
                    executing_agencies::kind.eq(next.kind.as_str()),
                    executing_agencies::registration_number.eq(&next.registration_number),
                    executing_agencies::org_identifier.eq(&next.org_identifier),
                    executing_agencies::email.eq(&next.contacts.email),
                    executing_agencies::phone.eq(&next.contacts.phone),
                    executing_agencies::website.eq(&next.contacts.website),
                ))
                .returning(AgencyRow::as_returning())
                .get_result(conn)
                .await?;
            let after = ExecutingAgency::from(row);
            if Tagged::new(&after).etag != before.etag {
                let before: serde_json::Value =
                    serde_json::from_slice(&before.bytes).expect("own JSON");
                let after_json = serde_json::to_value(&after).expect("serializes");
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "executing_agency",
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

/// Moves an agency from one status to the other (suspend or reactivate).
async fn set_status(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    req: &HttpRequest,
    to: AgencyStatus,
) -> Result<HttpResponse, ApiError> {
    let if_match = IfMatch::of(req);
    let mut conn = state.pool.get().await?;
    let changed = conn
        .transaction(async |conn| {
            let current = load(conn, id, true).await?;
            caller.may_write_agencies()?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            if current.status == to {
                return Err(match to {
                    AgencyStatus::Suspended => ApiError::invalid_state(text!(
                        "The agency is already suspended.",
                        "La agencia ya está suspendida."
                    )),
                    AgencyStatus::Active => ApiError::invalid_state(text!(
                        "The agency is already active.",
                        "La agencia ya está activa."
                    )),
                }
                .with_errors(vec![FieldError::new(
                    "status",
                    "invalid_transition",
                    text!("is already {to}", "ya es {to}"),
                )]));
            }
            let row: AgencyRow = diesel::update(executing_agencies::table.find(id))
                .set(executing_agencies::status.eq(to.as_str()))
                .returning(AgencyRow::as_returning())
                .get_result(conn)
                .await?;
            let after = ExecutingAgency::from(row);
            let action = match to {
                AgencyStatus::Suspended => "suspend",
                AgencyStatus::Active => "reactivate",
            };
            audit::record(
                conn,
                &caller.actor(),
                action,
                "executing_agency",
                id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&changed).ok(req))
}

/// Suspend an executing agency.
///
/// A suspended agency keeps its links to projects and its history, but cannot be
/// linked to another project until it is reactivated. 409 when it is already
/// suspended. Honours `If-Match` when given.
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(
        ("id" = Uuid, Path, description = "The agency's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the agency as last read"),
    ),
    responses(
        (status = 200, description = "The suspended agency", body = ExecutingAgency, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/suspend")]
pub async fn suspend_agency(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(
        &state,
        &caller,
        id.into_inner(),
        &req,
        AgencyStatus::Suspended,
    )
    .await
}

/// Reactivate a suspended executing agency.
///
/// 409 when it is already active. Honours `If-Match` when given.
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(
        ("id" = Uuid, Path, description = "The agency's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the agency as last read"),
    ),
    responses(
        (status = 200, description = "The reactivated agency", body = ExecutingAgency, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/reactivate")]
pub async fn reactivate_agency(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &caller, id.into_inner(), &req, AgencyStatus::Active).await
}

/// Delete an executing agency.
///
/// Only an agency that no project refers to (409 `still-referenced` otherwise: suspend
/// it instead). Honours `If-Match` when given.
#[utoipa::path(
    context_path = "/executing-agencies",
    tag = "Executing agencies",
    params(
        ("id" = Uuid, Path, description = "The agency's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the agency as last read"),
    ),
    responses(
        (status = 204, description = "The agency was deleted"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[delete("/{id}")]
pub async fn delete_agency(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        // The row lock also holds off a concurrent link to a project (its foreign key
        // check takes a share lock on this row).
        let current = load(conn, id, true).await?;
        caller.may_write_agencies()?;
        if_match.check_if_present(&Tagged::new(&current).etag)?;
        let links: i64 = project_agencies::table
            .filter(project_agencies::agency_id.eq(id))
            .count()
            .get_result(conn)
            .await?;
        if links > 0 {
            return Err(still_referenced(&["projects"]));
        }
        diesel::delete(executing_agencies::table.find(id))
            .execute(conn)
            .await
            .map_err(delete_error)?;
        audit::record(
            conn,
            &caller.actor(),
            "delete",
            "executing_agency",
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

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/executing-agencies")
        .writes("executing_agencies")
        .service(list_agencies)
        .service(create_agency)
        .service(get_agency)
        .service(update_agency)
        .service(delete_agency)
        .service(suspend_agency)
        .service(reactivate_agency);
}
