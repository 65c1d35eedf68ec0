//! `/v1/accomplishments`: what the offices achieved (events, project milestones,
//! accomplishments, visits, agreements signed), written by the offices and published by
//! the Coordinating Office, and the public feed of the published ones (see [`feed`]).
//!
//! Status: `draft` → `submitted` → `published`; the Coordinating Office may return a
//! submitted item (`returned`, with a reason), which the office edits and submits again.
//! Only drafts and returned items can be edited. Everyone with a token sees published
//! items; unpublished ones only the Coordinating Office, auditors and the office's
//! representative and staff (404 for the others).

pub mod feed;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::role::Role;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::{
    DEFAULT_MAX_CHARS, LocalizedText, LocalizedText500, LocalizedText10000,
};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{
    accomplishment_agencies, accomplishment_mandates, accomplishment_projects, accomplishments,
    executing_agencies, mandates, offices, projects,
};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// What kind of item it is.
    pub enum AccomplishmentKind {
        Event = "event" ("Event", "Evento"),
        ProjectMilestone = "project_milestone" ("Project milestone", "Hito de proyecto"),
        Accomplishment = "accomplishment" ("Accomplishment", "Logro"),
        Visit = "visit" ("Visit", "Visita"),
        AgreementSigned = "agreement_signed" ("Agreement signed", "Acuerdo firmado"),
    }
}

string_enum! {
    /// Where an item is on its way to publication.
    pub enum AccomplishmentStatus {
        Draft = "draft" ("Draft", "Borrador"),
        Submitted = "submitted" ("Submitted", "Presentado"),
        Returned = "returned" ("Returned", "Devuelto"),
        Published = "published" ("Published", "Publicado"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "accomplishments_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "accomplishment_projects_project_id_fkey",
        field: "project_ids",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "accomplishment_mandates_mandate_id_fkey",
        field: "mandate_ids",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "accomplishment_agencies_agency_id_fkey",
        field: "agency_ids",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// Most characters of an item's text, per language.
pub const TEXT_MAX_CHARS: usize = LocalizedText10000::MAX_CHARS;
/// Most links of each kind.
const MAX_LINKS: usize = 50;

/// An event or accomplishment of an office.
#[derive(Clone, Serialize, ToSchema)]
pub struct Accomplishment {
    pub id: Uuid,
    pub office_id: Uuid,
    /// The day it happened.
    pub occurred_on: NaiveDate,
    pub kind: AccomplishmentKind,
    pub title: LocalizedText,
    pub text: LocalizedText,
    pub status: AccomplishmentStatus,
    /// Why the Coordinating Office returned it (while `returned`).
    pub return_reason: Option<String>,
    /// The projects it concerns (of its office), in id order.
    #[schema(max_items = 50)]
    pub project_ids: Vec<Uuid>,
    /// The mandates it concerns, in id order.
    #[schema(max_items = 50)]
    pub mandate_ids: Vec<Uuid>,
    /// The executing agencies it concerns, in id order.
    #[schema(max_items = 50)]
    pub agency_ids: Vec<Uuid>,
    pub created_by: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = accomplishments)]
pub(crate) struct AccomplishmentRow {
    pub(crate) id: Uuid,
    pub(crate) office_id: Uuid,
    pub(crate) occurred_on: NaiveDate,
    pub(crate) kind: String,
    pub(crate) title: serde_json::Value,
    pub(crate) body: serde_json::Value,
    pub(crate) status: String,
    pub(crate) return_reason: Option<String>,
    pub(crate) created_by: String,
    pub(crate) submitted_at: Option<DateTime<Utc>>,
    pub(crate) published_at: Option<DateTime<Utc>>,
    pub(crate) published_by: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The links of some items: (projects, mandates, agencies) by item.
#[derive(Default)]
pub(crate) struct Links {
    projects: Vec<(Uuid, Uuid)>,
    mandates: Vec<(Uuid, Uuid)>,
    agencies: Vec<(Uuid, Uuid)>,
}

impl Links {
    pub(crate) async fn load(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> Result<Links, ApiError> {
        let ids = ids.to_vec();
        Ok(Links {
            projects: accomplishment_projects::table
                .filter(accomplishment_projects::accomplishment_id.eq_any(ids.clone()))
                .select((
                    accomplishment_projects::accomplishment_id,
                    accomplishment_projects::project_id,
                ))
                .order((
                    accomplishment_projects::accomplishment_id,
                    accomplishment_projects::project_id,
                ))
                .load(conn)
                .await?,
            mandates: accomplishment_mandates::table
                .filter(accomplishment_mandates::accomplishment_id.eq_any(ids.clone()))
                .select((
                    accomplishment_mandates::accomplishment_id,
                    accomplishment_mandates::mandate_id,
                ))
                .order((
                    accomplishment_mandates::accomplishment_id,
                    accomplishment_mandates::mandate_id,
                ))
                .load(conn)
                .await?,
            agencies: accomplishment_agencies::table
                .filter(accomplishment_agencies::accomplishment_id.eq_any(ids))
                .select((
                    accomplishment_agencies::accomplishment_id,
                    accomplishment_agencies::agency_id,
                ))
                .order((
                    accomplishment_agencies::accomplishment_id,
                    accomplishment_agencies::agency_id,
                ))
                .load(conn)
                .await?,
        })
    }

    fn of(list: &[(Uuid, Uuid)], id: Uuid) -> Vec<Uuid> {
        list.iter()
            .filter(|(a, _)| *a == id)
            .map(|(_, b)| *b)
            .collect()
    }

    pub(crate) fn build(&self, r: AccomplishmentRow) -> Accomplishment {
        Accomplishment {
            project_ids: Links::of(&self.projects, r.id),
            mandate_ids: Links::of(&self.mandates, r.id),
            agency_ids: Links::of(&self.agencies, r.id),
            id: r.id,
            office_id: r.office_id,
            occurred_on: r.occurred_on,
            kind: AccomplishmentKind::from_db(&r.kind),
            title: LocalizedText::from_json(r.title),
            text: LocalizedText::from_json(r.body),
            status: AccomplishmentStatus::from_db(&r.status),
            return_reason: r.return_reason,
            created_by: r.created_by,
            submitted_at: r.submitted_at,
            published_at: r.published_at,
            published_by: r.published_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new item, created as a `draft`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccomplishment {
    /// The office it is about; an office's people write only their own office's.
    pub office_id: Uuid,
    /// Not more than a year ahead (an event announced in advance), not before
    /// 1948-04-30 (the OAS Charter).
    pub occurred_on: NaiveDate,
    pub kind: AccomplishmentKind,
    #[schema(value_type = LocalizedText500)]
    pub title: LocalizedText,
    #[schema(value_type = LocalizedText10000)]
    pub text: LocalizedText,
    /// Projects of the same office, at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub project_ids: Vec<Uuid>,
    /// At most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub mandate_ids: Vec<Uuid>,
    /// At most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub agency_ids: Vec<Uuid>,
}

/// Changes to a draft or returned item (JSON merge patch).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AccomplishmentPatch {
    /// Not more than a year ahead, not before 1948-04-30.
    #[schema(nullable = false)]
    pub occurred_on: Option<NaiveDate>,
    #[schema(value_type = AccomplishmentKind, required = false)]
    pub kind: Option<AccomplishmentKind>,
    #[schema(value_type = LocalizedText500, required = false)]
    pub title: Option<LocalizedText>,
    #[schema(value_type = LocalizedText10000, required = false)]
    pub text: Option<LocalizedText>,
    #[schema(nullable = false, max_items = 50)]
    pub project_ids: Option<Vec<Uuid>>,
    #[schema(nullable = false, max_items = 50)]
    pub mandate_ids: Option<Vec<Uuid>>,
    #[schema(nullable = false, max_items = 50)]
    pub agency_ids: Option<Vec<Uuid>>,
}

const READ_ONLY: &[&str] = &[
    "id",
    "office_id",
    "status",
    "return_reason",
    "created_by",
    "submitted_at",
    "published_at",
    "published_by",
    "created_at",
    "updated_at",
];

/// Checks an item's fields; `links` are de-duplicated and sorted.
async fn validate_item(
    conn: &mut AsyncPgConnection,
    item: &mut Accomplishment,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    item.title.validate("title", DEFAULT_MAX_CHARS, errors);
    item.text.validate("text", TEXT_MAX_CHARS, errors);
    let today = Utc::now().date_naive();
    if item.occurred_on > today + chrono::Duration::days(366) {
        errors.push(FieldError::new(
            "occurred_on",
            "too_far_ahead",
            text!(
                "must not be more than a year ahead",
                "no puede estar a más de un año en el futuro"
            ),
        ));
    } else if item.occurred_on < NaiveDate::from_ymd_opt(1948, 4, 30).unwrap_or_default() {
        errors.push(FieldError::new(
            "occurred_on",
            "too_early",
            text!(
                "must not be before 1948-04-30 (the OAS Charter)",
                "no puede ser anterior al 1948-04-30 (la Carta de la OEA)"
            ),
        ));
    }
    for (field, ids) in [
        ("project_ids", &mut item.project_ids),
        ("mandate_ids", &mut item.mandate_ids),
        ("agency_ids", &mut item.agency_ids),
    ] {
        ids.sort();
        ids.dedup();
        if ids.len() > MAX_LINKS {
            errors.push(FieldError::new(
                field,
                "too_many",
                text!(
                    "must list at most {MAX_LINKS} ids",
                    "debe enumerar como máximo {MAX_LINKS} ids"
                ),
            ));
        }
    }
    if item.project_ids.len() <= MAX_LINKS && !item.project_ids.is_empty() {
        let found: Vec<(Uuid, Uuid)> = projects::table
            .filter(projects::id.eq_any(item.project_ids.clone()))
            .select((projects::id, projects::office_id))
            .load(conn)
            .await?;
        for (i, id) in item.project_ids.iter().enumerate() {
            match found.iter().find(|(p, _)| p == id) {
                None => errors.push(FieldError::new(
                    format!("project_ids[{i}]"),
                    "unknown",
                    text!("no such project", "no existe ese proyecto"),
                )),
                Some((_, office)) if *office != item.office_id => errors.push(FieldError::new(
                    format!("project_ids[{i}]"),
                    "other_office",
                    text!(
                        "is a project of another office",
                        "es un proyecto de otra oficina"
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    if item.mandate_ids.len() <= MAX_LINKS && !item.mandate_ids.is_empty() {
        let found: Vec<Uuid> = mandates::table
            .filter(mandates::id.eq_any(item.mandate_ids.clone()))
            .select(mandates::id)
            .load(conn)
            .await?;
        for (i, id) in item.mandate_ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(FieldError::new(
                    format!("mandate_ids[{i}]"),
                    "unknown",
                    text!("no such mandate", "no existe ese mandato"),
                ));
            }
        }
    }
    if item.agency_ids.len() <= MAX_LINKS && !item.agency_ids.is_empty() {
        let found: Vec<Uuid> = executing_agencies::table
            .filter(executing_agencies::id.eq_any(item.agency_ids.clone()))
            .select(executing_agencies::id)
            .load(conn)
            .await?;
        for (i, id) in item.agency_ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(FieldError::new(
                    format!("agency_ids[{i}]"),
                    "unknown",
                    text!(
                        "no such executing agency",
                        "no existe esa agencia ejecutora"
                    ),
                ));
            }
        }
    }
    Ok(())
}

async fn write_links(conn: &mut AsyncPgConnection, item: &Accomplishment) -> Result<(), ApiError> {
    let id = item.id;
    diesel::delete(
        accomplishment_projects::table.filter(accomplishment_projects::accomplishment_id.eq(id)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        accomplishment_mandates::table.filter(accomplishment_mandates::accomplishment_id.eq(id)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        accomplishment_agencies::table.filter(accomplishment_agencies::accomplishment_id.eq(id)),
    )
    .execute(conn)
    .await?;
    if !item.project_ids.is_empty() {
        let rows: Vec<_> = item
            .project_ids
            .iter()
            .map(|p| {
                (
                    accomplishment_projects::accomplishment_id.eq(id),
                    accomplishment_projects::project_id.eq(*p),
                )
            })
            .collect();
        diesel::insert_into(accomplishment_projects::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    if !item.mandate_ids.is_empty() {
        let rows: Vec<_> = item
            .mandate_ids
            .iter()
            .map(|m| {
                (
                    accomplishment_mandates::accomplishment_id.eq(id),
                    accomplishment_mandates::mandate_id.eq(*m),
                )
            })
            .collect();
        diesel::insert_into(accomplishment_mandates::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    if !item.agency_ids.is_empty() {
        let rows: Vec<_> = item
            .agency_ids
            .iter()
            .map(|a| {
                (
                    accomplishment_agencies::accomplishment_id.eq(id),
                    accomplishment_agencies::agency_id.eq(*a),
                )
            })
            .collect();
        diesel::insert_into(accomplishment_agencies::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Loads an item (locking it when `for_update`); 404 when it does not exist or the
/// caller may not see it.
async fn load(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    for_update: bool,
) -> Result<Accomplishment, ApiError> {
    let q = accomplishments::table
        .find(id)
        .select(AccomplishmentRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    }
    .ok_or_else(ApiError::not_found)?;
    if row.status != "published" && !caller.sees_unpublished_accomplishments(row.office_id) {
        return Err(ApiError::not_found());
    }
    let links = Links::load(conn, &[id]).await?;
    Ok(links.build(row))
}

page_type!(
    AccomplishmentPage,
    Accomplishment,
    "A page of events and accomplishments."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AccomplishmentSort {
    OccurredOn,
    UpdatedAt,
}

impl SortField for AccomplishmentSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("occurred_on", AccomplishmentSort::OccurredOn),
        ("updated_at", AccomplishmentSort::UpdatedAt),
    ];
    const DEFAULT: Self = AccomplishmentSort::OccurredOn;
}

/// Query parameters of the list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccomplishmentQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `occurred_on` (the default) or `updated_at`, prefixed with `-` for descending order.
    pub sort: Option<String>,
    /// Offices, comma-separated ids.
    pub office_id: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "submitted")]
    pub status: Option<String>,
    /// Kinds, comma-separated.
    #[param(example = "event,visit")]
    pub kind: Option<String>,
    /// Only items linked to one of these projects (comma-separated ids).
    pub project_id: Option<String>,
    /// Only items that occurred on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// Only items that occurred on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
    /// Only items changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List events and accomplishments.
///
/// Published items of every office, and the unpublished ones the caller may see (the
/// Coordinating Office and auditors all; an office's people their office's).
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(AccomplishmentQuery),
    responses(
        (status = 200, description = "A page of items", body = AccomplishmentPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_accomplishments(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AccomplishmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<AccomplishmentSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| AccomplishmentStatus::parse_filter("status", s))
        .transpose()?;
    let kinds = query
        .kind
        .as_deref()
        .map(|s| AccomplishmentKind::parse_filter("kind", s))
        .transpose()?;
    let project_ids = validate::param_uuids("project_id", query.project_id.as_deref())?;
    let from = validate::param_date("from", query.from.as_deref())?;
    let to = validate::param_date("to", query.to.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;
    let mut conn = state.read_pool().get().await?;
    let mut q = accomplishments::table
        .select(AccomplishmentRow::as_select())
        .into_boxed();
    match caller.role {
        Role::Coordinator | Role::Auditor => {}
        Role::Representative | Role::OfficeStaff if caller.office_id.is_some() => {
            let own = caller.office_id.unwrap_or_default();
            q = q.filter(
                accomplishments::status
                    .eq("published")
                    .or(accomplishments::office_id.eq(own)),
            );
        }
        _ => q = q.filter(accomplishments::status.eq("published")),
    }
    if let Some(v) = office_ids {
        q = q.filter(accomplishments::office_id.eq_any(v));
    }
    if let Some(v) = statuses {
        q = q.filter(accomplishments::status.eq_any(v));
    }
    if let Some(v) = kinds {
        q = q.filter(accomplishments::kind.eq_any(v));
    }
    if let Some(v) = project_ids {
        q = q.filter(
            accomplishments::id.eq_any(
                accomplishment_projects::table
                    .filter(accomplishment_projects::project_id.eq_any(v))
                    .select(accomplishment_projects::accomplishment_id),
            ),
        );
    }
    if let Some(d) = from {
        q = q.filter(accomplishments::occurred_on.ge(d));
    }
    if let Some(d) = to {
        q = q.filter(accomplishments::occurred_on.le(d));
    }
    if let Some(t) = updated_since {
        q = q.filter(accomplishments::updated_at.ge(t));
    }
    let q = match sort.field {
        AccomplishmentSort::OccurredOn => {
            let after = after
                .as_ref()
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                accomplishments::occurred_on,
                accomplishments::id,
                sort.desc,
                after
            )
        }
        AccomplishmentSort::UpdatedAt => {
            let after = after
                .as_ref()
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                accomplishments::updated_at,
                accomplishments::id,
                sort.desc,
                after
            )
        }
    };
    let rows: Vec<AccomplishmentRow> = q.limit(limit + 1).load(&mut conn).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let links = Links::load(&mut conn, &ids).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            AccomplishmentSort::OccurredOn => serde_json::json!(r.occurred_on),
            AccomplishmentSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(|r| links.build(r));
    Ok(AccomplishmentPage::respond(page, &req))
}

/// Get an event or accomplishment.
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(("id" = Uuid, Path, description = "The item's id")),
    responses(
        (status = 200, description = "The item", body = Accomplishment,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_accomplishment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let item = load(&mut conn, &caller, id.into_inner(), false).await?;
    Ok(Tagged::new(&item).ok(&req))
}

/// Write an event or accomplishment (a draft).
///
/// The Coordinating Office, or the office's representative and staff (an office's
/// people only for their own office: a 422 naming `office_id` otherwise). Linked
/// projects must be the office's.
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    request_body = NewAccomplishment,
    responses(
        (status = 201, description = "The draft was created", body = Accomplishment,
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
pub async fn create_accomplishment(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewAccomplishment>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(
        caller.role,
        Role::Coordinator | Role::Representative | Role::OfficeStaff
    ) {
        caller.may_write_accomplishment(Uuid::nil())?;
    }
    let new = body.0;
    let now = Utc::now();
    let mut item = Accomplishment {
        id: Uuid::now_v7(),
        office_id: new.office_id,
        occurred_on: new.occurred_on,
        kind: new.kind,
        title: new.title,
        text: new.text,
        status: AccomplishmentStatus::Draft,
        return_reason: None,
        project_ids: new.project_ids,
        mandate_ids: new.mandate_ids,
        agency_ids: new.agency_ids,
        created_by: caller.sub.clone(),
        submitted_at: None,
        published_at: None,
        published_by: None,
        created_at: now,
        updated_at: now,
    };
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let mut errors = Vec::new();
            // A share lock: the office cannot close meanwhile.
            let office: Option<String> = offices::table
                .find(item.office_id)
                .select(offices::status)
                .for_share()
                .first(conn)
                .await
                .optional()?;
            if office.is_none() {
                errors.push(FieldError::new(
                    "office_id",
                    "unknown",
                    text!("no such office", "no existe esa oficina"),
                ));
            } else if caller.may_write_accomplishment(item.office_id).is_err() {
                errors.push(FieldError::new(
                    "office_id",
                    "not_allowed",
                    text!(
                        "your role may only write its own office's items",
                        "su rol solo puede escribir los elementos de su propia oficina"
                    ),
                ));
            }
            validate_item(conn, &mut item, &mut errors).await?;
            validate::finish(errors)?;
            let row: AccomplishmentRow = diesel::insert_into(accomplishments::table)
                .values((
                    accomplishments::id.eq(item.id),
                    accomplishments::office_id.eq(item.office_id),
                    accomplishments::occurred_on.eq(item.occurred_on),
                    accomplishments::kind.eq(item.kind.as_str()),
                    accomplishments::title.eq(item.title.to_json()),
                    accomplishments::body.eq(item.text.to_json()),
                    accomplishments::created_by.eq(&item.created_by),
                ))
                .returning(AccomplishmentRow::as_returning())
                .get_result(conn)
                .await?;
            write_links(conn, &item).await?;
            let created = Links::load(conn, &[item.id]).await?.build(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "accomplishment",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/accomplishments/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

fn not_editable(status: AccomplishmentStatus, what: &str, que: &str) -> ApiError {
    ApiError::invalid_state(text!(
        "The item is {status}; {what}.",
        "El elemento está en estado {status}; {que}."
    ))
    .with_errors(vec![FieldError::new(
        "status",
        "invalid_state",
        text!(
            "the item is {status}",
            "el elemento está en estado {status}"
        ),
    )])
}

/// Update a draft or returned item.
///
/// The item's writers (see the creation). Only `draft` and `returned` items change
/// (409 otherwise). Requires `If-Match` (428 without, 412 when stale).
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(
        ("id" = Uuid, Path, description = "The item's id"),
        ("If-Match" = String, Header, description = "The ETag of the item as last read"),
    ),
    request_body(content = AccomplishmentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated item", body = Accomplishment, headers(("ETag" = String))),
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
pub async fn update_accomplishment(
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
            caller.may_write_accomplishment(current.office_id)?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(
                &body.0,
                &[
                    "occurred_on",
                    "kind",
                    "title",
                    "text",
                    "project_ids",
                    "mandate_ids",
                    "agency_ids",
                ],
            )?;
            let patch: AccomplishmentPatch = from_value(body.0.clone())?;
            let before = Tagged::new(&current);
            let mut next = current.clone();
            if let Some(v) = patch.occurred_on {
                next.occurred_on = v;
            }
            if let Some(v) = patch.kind {
                next.kind = v;
            }
            if let Some(v) = patch.title {
                next.title = v;
            }
            if let Some(v) = patch.text {
                next.text = v;
            }
            if let Some(v) = patch.project_ids {
                next.project_ids = v;
            }
            if let Some(v) = patch.mandate_ids {
                next.mandate_ids = v;
            }
            if let Some(v) = patch.agency_ids {
                next.agency_ids = v;
            }
            let mut errors = Vec::new();
            validate_item(conn, &mut next, &mut errors).await?;
            validate::finish(errors)?;
            if Tagged::new(&next).etag == before.etag {
                return Ok(current);
            }
            if !matches!(
                current.status,
                AccomplishmentStatus::Draft | AccomplishmentStatus::Returned
            ) {
                return Err(not_editable(
                    current.status,
                    "only drafts and returned items can be edited",
                    "solo se pueden editar borradores y elementos devueltos",
                ));
            }
            let row: AccomplishmentRow = diesel::update(accomplishments::table.find(id))
                .set((
                    accomplishments::occurred_on.eq(next.occurred_on),
                    accomplishments::kind.eq(next.kind.as_str()),
                    accomplishments::title.eq(next.title.to_json()),
                    accomplishments::body.eq(next.text.to_json()),
                    accomplishments::version.eq(accomplishments::version + 1),
                ))
                .returning(AccomplishmentRow::as_returning())
                .get_result(conn)
                .await?;
            write_links(conn, &next).await?;
            let after = Links::load(conn, &[id]).await?.build(row);
            audit::record(
                conn,
                &caller.actor(),
                "update",
                "accomplishment",
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

/// A transition of an item's status.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    Submit,
    Publish,
    Return,
}

async fn transition(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    step: Step,
    reason: Option<String>,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let if_match = IfMatch::of(req);
    let mut conn = state.pool.get().await?;
    let after = conn
        .transaction(async |conn| {
            let current = load(conn, caller, id, true).await?;
            match step {
                Step::Submit => caller.may_write_accomplishment(current.office_id)?,
                Step::Publish | Step::Return => caller.may_publish_accomplishments()?,
            }
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            if step == Step::Return {
                let mut errors = Vec::new();
                match &reason {
                    None => errors.push(FieldError::new(
                        "reason",
                        "required",
                        text!(
                            "is required to return an item",
                            "es obligatorio para devolver un elemento"
                        ),
                    )),
                    Some(r) => validate::line("reason", r, 2000, &mut errors),
                }
                validate::finish(errors)?;
            }
            let (ok, en, es) = match step {
                Step::Submit => (
                    matches!(
                        current.status,
                        AccomplishmentStatus::Draft | AccomplishmentStatus::Returned
                    ),
                    "only drafts and returned items can be submitted",
                    "solo se pueden presentar borradores y elementos devueltos",
                ),
                Step::Publish => (
                    current.status == AccomplishmentStatus::Submitted,
                    "only submitted items can be published",
                    "solo se pueden publicar elementos presentados",
                ),
                Step::Return => (
                    current.status == AccomplishmentStatus::Submitted,
                    "only submitted items can be returned",
                    "solo se pueden devolver elementos presentados",
                ),
            };
            if !ok {
                return Err(not_editable(current.status, en, es));
            }
            let now = Utc::now();
            let target = accomplishments::table.find(id);
            let q = match step {
                Step::Submit => {
                    diesel::update(target)
                        .set((
                            accomplishments::status.eq("submitted"),
                            accomplishments::submitted_at.eq(Some(now)),
                            accomplishments::return_reason.eq(None::<String>),
                            accomplishments::version.eq(accomplishments::version + 1),
                        ))
                        .returning(AccomplishmentRow::as_returning())
                        .get_result(conn)
                        .await?
                }
                Step::Publish => {
                    diesel::update(target)
                        .set((
                            accomplishments::status.eq("published"),
                            accomplishments::published_at.eq(Some(now)),
                            accomplishments::published_by.eq(Some(&caller.sub)),
                            accomplishments::version.eq(accomplishments::version + 1),
                        ))
                        .returning(AccomplishmentRow::as_returning())
                        .get_result(conn)
                        .await?
                }
                Step::Return => {
                    diesel::update(target)
                        .set((
                            accomplishments::status.eq("returned"),
                            accomplishments::return_reason.eq(&reason),
                            accomplishments::version.eq(accomplishments::version + 1),
                        ))
                        .returning(AccomplishmentRow::as_returning())
                        .get_result(conn)
                        .await?
                }
            };
            let after = Links::load(conn, &[id]).await?.build(q);
            let action = match step {
                Step::Submit => "submit",
                Step::Publish => "publish",
                Step::Return => "return",
            };
            audit::record(
                conn,
                &caller.actor(),
                action,
                "accomplishment",
                id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&after).ok(req))
}

/// Submit an item to the Coordinating Office.
///
/// Its writers, from `draft` or `returned` (409 otherwise). Takes `If-Match` when given
/// (412 when stale).
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(
        ("id" = Uuid, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the item as last read (optional)"),
    ),
    responses(
        (status = 200, description = "The submitted item", body = Accomplishment, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/submit")]
pub async fn submit_accomplishment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    transition(&state, &caller, id.into_inner(), Step::Submit, None, &req).await
}

/// Publish a submitted item.
///
/// The Coordinating Office's, from `submitted` (409 otherwise). The item then appears
/// in the public feed. Takes `If-Match` when given (412 when stale).
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(
        ("id" = Uuid, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the item as last read (optional)"),
    ),
    responses(
        (status = 200, description = "The published item", body = Accomplishment, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/publish")]
pub async fn publish_accomplishment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    transition(&state, &caller, id.into_inner(), Step::Publish, None, &req).await
}

/// Why a submitted item goes back to its office.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// What to change, at most 2000 characters.
    #[schema(pattern = "<line>", max_length = 2000)]
    pub reason: String,
}

/// Return a submitted item to its office.
///
/// The Coordinating Office's, from `submitted` (409 otherwise), with a `reason` (422
/// without one). The office edits it and submits it again. Takes `If-Match` when given
/// (412 when stale).
#[utoipa::path(
    context_path = "/accomplishments",
    tag = "Accomplishments",
    params(
        ("id" = Uuid, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the item as last read (optional)"),
    ),
    request_body = ReturnRequest,
    responses(
        (status = 200, description = "The returned item", body = Accomplishment, headers(("ETag" = String))),
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
#[post("/{id}/return")]
pub async fn return_accomplishment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<ReturnRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let reason = Some(body.0.reason);
    transition(&state, &caller, id.into_inner(), Step::Return, reason, &req).await
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/feeds")
        .writes("accomplishments")
        .service(feed::feed)
        .service(feed::feed_atom);
    r.under("/accomplishments")
        .service(list_accomplishments)
        .service(create_accomplishment)
        .service(get_accomplishment)
        .service(update_accomplishment)
        .service(submit_accomplishment)
        .service(publish_accomplishment)
        .service(return_accomplishment);
}
