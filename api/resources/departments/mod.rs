//! `/v1/departments`: the Secretariats and Departments at headquarters that own
//! projects (reference data managed by the Coordinating Office).

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
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
use crate::core::localized::{LocalizedText, LocalizedText300};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::departments;
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// A Secretariat, or a Department within one.
    pub enum DepartmentKind {
        Secretariat = "secretariat" ("Secretariat", "Secretaría"),
        Department = "department" ("Department", "Departamento"),
    }
}

string_enum! {
    /// Whether the unit still exists in the General Secretariat's structure.
    pub enum DepartmentStatus {
        Active = "active" ("Active", "Activo"),
        Inactive = "inactive" ("Inactive", "Inactivo"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "departments_code_key",
        field: "code",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "departments_parent_id_fkey",
        field: "parent_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// A Secretariat or Department at headquarters.
#[derive(Serialize, ToSchema)]
pub struct Department {
    pub id: Uuid,
    /// Unique code, e.g. `DECO`.
    #[schema(example = "DECO")]
    pub code: String,
    pub kind: DepartmentKind,
    /// For a department, the Secretariat it belongs to.
    pub parent_id: Option<Uuid>,
    pub name: LocalizedText,
    pub status: DepartmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = departments)]
struct DepartmentRow {
    id: Uuid,
    code: String,
    kind: String,
    parent_id: Option<Uuid>,
    name: serde_json::Value,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Self {
        Department {
            id: r.id,
            code: r.code,
            kind: DepartmentKind::from_db(&r.kind),
            parent_id: r.parent_id,
            name: LocalizedText::from_json(r.name),
            status: DepartmentStatus::from_db(&r.status),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new Secretariat or Department.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "SPX", "kind": "secretariat", "name": {"en": "Secretariat for Planning"}}))]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    /// Unique code: 2–16 upper-case letters, digits or hyphens.
    #[schema(example = "DECO", pattern = "^[A-Z0-9][A-Z0-9-]{1,15}$")]
    pub code: String,
    pub kind: DepartmentKind,
    /// Required for a department: the id of its Secretariat. Absent for a Secretariat.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[schema(value_type = LocalizedText300)]
    pub name: LocalizedText,
}

/// Changes to a department (JSON merge patch).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[schema(nullable = false, pattern = "^[A-Z0-9][A-Z0-9-]{1,15}$")]
    pub code: Option<String>,
    #[schema(value_type = LocalizedText300, required = false)]
    pub name: Option<LocalizedText>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[schema(value_type = DepartmentStatus, required = false)]
    pub status: Option<DepartmentStatus>,
}

const READ_ONLY: &[&str] = &["id", "kind", "created_at", "updated_at"];

/// Checks the fields, and that a department's parent is a Secretariat, an active one
/// when the link is new (`new_link`).
async fn validate_department(
    conn: &mut AsyncPgConnection,
    d: &Department,
    new_link: bool,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    validate::code("code", &d.code, 16, &mut errors);
    d.name
        .validate("name", LocalizedText300::MAX_CHARS, &mut errors);
    match (d.kind, d.parent_id) {
        (DepartmentKind::Secretariat, Some(_)) => errors.push(FieldError::new(
            "parent_id",
            "not_allowed",
            text!(
                "a Secretariat has no parent",
                "una Secretaría no tiene unidad superior"
            ),
        )),
        (DepartmentKind::Department, None) => errors.push(FieldError::new(
            "parent_id",
            "required",
            text!(
                "a Department belongs to a Secretariat",
                "un Departamento pertenece a una Secretaría"
            ),
        )),
        (DepartmentKind::Department, Some(parent)) => {
            let parent_row: Option<(String, String)> = departments::table
                .find(parent)
                .select((departments::kind, departments::status))
                .first(conn)
                .await
                .optional()?;
            if new_link
                && parent_row
                    .as_ref()
                    .is_some_and(|(_, status)| status == "inactive")
            {
                errors.push(FieldError::new(
                    "parent_id",
                    "inactive",
                    text!("the Secretariat is inactive", "la Secretaría está inactiva"),
                ));
            }
            match parent_row.as_ref().map(|(kind, _)| kind.as_str()) {
                None => errors.push(FieldError::new(
                    "parent_id",
                    "unknown",
                    text!("no such Secretariat", "no existe esa Secretaría"),
                )),
                Some("secretariat") => {}
                Some(_) => errors.push(FieldError::new(
                    "parent_id",
                    "not_a_secretariat",
                    text!("must be a Secretariat", "debe ser una Secretaría"),
                )),
            }
        }
        (DepartmentKind::Secretariat, None) => {}
    }
    validate::finish(errors)
}

page_type!(DepartmentPage, Department, "A page of departments.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum DepartmentSort {
    Code,
    CreatedAt,
    UpdatedAt,
}

impl SortField for DepartmentSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("code", DepartmentSort::Code),
        ("created_at", DepartmentSort::CreatedAt),
        ("updated_at", DepartmentSort::UpdatedAt),
    ];
    const DEFAULT: Self = DepartmentSort::Code;
}

/// Query parameters of the department list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepartmentQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `code`, `created_at` or `updated_at`, prefixed with `-` for descending order.
    pub sort: Option<String>,
    /// `secretariat` and/or `department`, comma-separated.
    pub kind: Option<String>,
    /// `active` and/or `inactive`, comma-separated.
    pub status: Option<String>,
    /// Departments of these Secretariats (ids, comma-separated).
    pub parent_id: Option<String>,
    /// Only departments changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List Secretariats and Departments.
#[utoipa::path(
    context_path = "/departments",
    tag = "Reference data",
    params(DepartmentQuery),
    responses(
        (status = 200, description = "A page of departments", body = DepartmentPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_departments(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<DepartmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<DepartmentSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let kinds = query
        .kind
        .as_deref()
        .map(|s| DepartmentKind::parse_filter("kind", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| DepartmentStatus::parse_filter("status", s))
        .transpose()?;
    let parents = validate::param_uuids("parent_id", query.parent_id.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = departments::table
        .select(DepartmentRow::as_select())
        .into_boxed();
    if let Some(v) = kinds {
        q = crate::core::pagination::filter_in!(q, departments::kind, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, departments::status, v);
    }
    if let Some(v) = parents {
        q = crate::core::pagination::filter_in!(q, departments::parent_id, v);
    }
    if let Some(t) = updated_since {
        q = q.filter(departments::updated_at.ge(t));
    }
    let q = match sort.field {
        DepartmentSort::Code => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, departments::code, departments::id, sort.desc, after)
        }
        DepartmentSort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                departments::created_at,
                departments::id,
                sort.desc,
                after
            )
        }
        DepartmentSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                departments::updated_at,
                departments::id,
                sort.desc,
                after
            )
        }
    };
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<DepartmentRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            DepartmentSort::Code => serde_json::json!(r.code),
            DepartmentSort::CreatedAt => serde_json::json!(r.created_at),
            DepartmentSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Department::from);
    Ok(DepartmentPage::respond(page, &req))
}

async fn load(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Department, ApiError> {
    let q = departments::table
        .find(id)
        .select(DepartmentRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(Department::from).ok_or_else(ApiError::not_found)
}

/// Get a Secretariat or Department.
#[utoipa::path(
    context_path = "/departments",
    tag = "Reference data",
    params(("id" = Uuid, Path, description = "The department's id")),
    responses(
        (status = 200, description = "The department", body = Department, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_department(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let department = load(&mut conn, id.into_inner(), false).await?;
    Ok(Tagged::new(&department).ok(&req))
}

/// Create a Secretariat or Department.
#[utoipa::path(
    context_path = "/departments",
    tag = "Reference data",
    request_body = NewDepartment,
    responses(
        (status = 201, description = "Created", body = Department, headers(("ETag" = String), ("Location" = String))),
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
pub async fn create_department(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewDepartment>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_reference_data()?;
    let new = body.0;
    let now = Utc::now();
    let department = Department {
        id: Uuid::now_v7(),
        code: new.code,
        kind: new.kind,
        parent_id: new.parent_id,
        name: new.name,
        status: DepartmentStatus::Active,
        created_at: now,
        updated_at: now,
    };
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            validate_department(conn, &department, true).await?;
            let row: DepartmentRow = diesel::insert_into(departments::table)
                .values((
                    departments::id.eq(department.id),
                    departments::code.eq(&department.code),
                    departments::kind.eq(department.kind.as_str()),
                    departments::parent_id.eq(department.parent_id),
                    departments::name.eq(department.name.to_json()),
                ))
                .returning(DepartmentRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Department::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "department",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/departments/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update a Secretariat or Department.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale).
#[utoipa::path(
    context_path = "/departments",
    tag = "Reference data",
    params(
        ("id" = Uuid, Path, description = "The department's id"),
        ("If-Match" = String, Header, description = "The ETag of the department as last read"),
    ),
    request_body(content = DepartmentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated department", body = Department, headers(("ETag" = String))),
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
pub async fn update_department(
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
            validate::reject_null(&body.0, &["code", "name", "status"])?;
            let before = Tagged::new(&current);
            let patch: DepartmentPatch = from_value(body.0.clone())?;
            let old_parent = current.parent_id;
            let mut next = current;
            if let Some(v) = patch.code {
                next.code = v;
            }
            if let Some(v) = patch.name {
                next.name = v;
            }
            if let Some(v) = patch.parent_id {
                next.parent_id = v;
            }
            if let Some(v) = patch.status {
                next.status = v;
            }
            validate_department(conn, &next, next.parent_id != old_parent).await?;
            // Nothing changes: no write, no new updated_at, no audit event.
            if Tagged::new(&next).etag == before.etag {
                return Ok(next);
            }
            let row: DepartmentRow = diesel::update(departments::table.find(id))
                .set((
                    departments::code.eq(&next.code),
                    departments::name.eq(next.name.to_json()),
                    departments::parent_id.eq(next.parent_id),
                    departments::status.eq(next.status.as_str()),
                ))
                .returning(DepartmentRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Department::from(row);
            if Tagged::new(&after).etag != before.etag {
                let before: serde_json::Value =
                    serde_json::from_slice(&before.bytes).expect("own JSON");
                let after_json = serde_json::to_value(&after).expect("serializes");
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "department",
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

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/departments")
        .writes("departments")
        .service(list_departments)
        .service(create_department)
        .service(get_department)
        .service(update_department);
}
