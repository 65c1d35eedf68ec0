//! `/v1/mandates/{id}/assignments`: a mandate assigned to an office to execute, and the
//! list per office at `/v1/offices/{id}/mandates`.

use super::*;

/// A mandate assigned to an office to execute.
#[derive(Serialize, ToSchema)]
pub struct Assignment {
    pub id: Uuid,
    pub mandate_id: Uuid,
    pub office_id: Uuid,
    /// When the office should have fulfilled it; set by the Coordinating Office.
    pub due_on: Option<NaiveDate>,
    pub status: AssignmentStatus,
    /// The office's account of its progress (at most 4000 characters).
    pub progress_notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mandate_assignments)]
pub(super) struct AssignmentRow {
    pub(super) id: Uuid,
    pub(super) mandate_id: Uuid,
    pub(super) office_id: Uuid,
    pub(super) due_on: Option<NaiveDate>,
    pub(super) status: String,
    pub(super) progress_notes: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl From<AssignmentRow> for Assignment {
    fn from(r: AssignmentRow) -> Self {
        Assignment {
            id: r.id,
            mandate_id: r.mandate_id,
            office_id: r.office_id,
            due_on: r.due_on,
            status: AssignmentStatus::from_db(&r.status),
            progress_notes: r.progress_notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Assigning a mandate to an office (created `assigned`).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"office_id": "0b5c7a3e-7d0e-4f6b-9a57-2d1f0e8c9b11", "progress_notes": "Workshop planned"}))]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    /// An open office; a mandate is assigned to an office once.
    pub office_id: Uuid,
    /// Not before the mandate's adoption.
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
    #[serde(default)]
    #[schema(pattern = "<text>", max_length = 4000)]
    pub progress_notes: Option<String>,
}

/// Changes to an assignment (JSON merge patch). `status` moves only forward;
/// `due_on` is the Coordinating Office's to set.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub due_on: Option<Option<NaiveDate>>,
    #[schema(value_type = AssignmentStatus, required = false)]
    pub status: Option<AssignmentStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<text>", max_length = 4000)]
    pub progress_notes: Option<Option<String>>,
}

pub(super) const ASSIGNMENT_READ_ONLY: &[&str] =
    &["id", "mandate_id", "office_id", "created_at", "updated_at"];

pub(super) fn validate_notes(notes: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(n) = notes {
        validate::text("progress_notes", n, 4000, errors);
    }
}

pub(super) fn validate_due_on(
    due_on: Option<NaiveDate>,
    adopted_on: NaiveDate,
    errors: &mut Vec<FieldError>,
) {
    if due_on.is_some_and(|d| d < adopted_on) {
        errors.push(FieldError::new(
            "due_on",
            "before_adoption",
            text!(
                "must not be before the mandate's adoption ({adopted_on})",
                "no puede ser anterior a la adopción del mandato ({adopted_on})"
            ),
        ));
    }
}

page_type!(AssignmentPage, Assignment, "A page of assignments.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AssignmentSort {
    CreatedAt,
    UpdatedAt,
}

impl SortField for AssignmentSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("created_at", AssignmentSort::CreatedAt),
        ("updated_at", AssignmentSort::UpdatedAt),
    ];
    const DEFAULT: Self = AssignmentSort::CreatedAt;
}

/// Query parameters of the assignment lists.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `created_at` (the default) or `updated_at`, prefixed with `-` for descending order.
    pub sort: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "assigned,in_progress")]
    pub status: Option<String>,
    /// Only assignments changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// The parsed parameters of an assignment list.
pub(super) struct AssignmentFilter {
    pub(super) limit: i64,
    pub(super) sort: Sort<AssignmentSort>,
    pub(super) sort_name: String,
    pub(super) after: Option<Cursor>,
    pub(super) statuses: Option<Vec<&'static str>>,
    pub(super) updated_since: Option<DateTime<Utc>>,
}

impl AssignmentFilter {
    fn parse(query: &AssignmentQuery) -> Result<AssignmentFilter, ApiError> {
        let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
        let sort = Sort::<AssignmentSort>::parse(query.sort.as_deref())?;
        let sort_name = sort.name();
        let after = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, &sort_name))
            .transpose()?;
        let statuses = query
            .status
            .as_deref()
            .map(|s| AssignmentStatus::parse_filter("status", s))
            .transpose()?;
        let updated_since =
            validate::param_datetime("updated_since", query.updated_since.as_deref())?;
        Ok(AssignmentFilter {
            limit,
            sort,
            sort_name,
            after,
            statuses,
            updated_since,
        })
    }

    /// The after-key of the cursor as a timestamp.
    fn after(&self) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
        self.after
            .as_ref()
            .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
            .transpose()
    }

    fn cursor(&self, created_at: DateTime<Utc>, updated_at: DateTime<Utc>, id: Uuid) -> Cursor {
        Cursor {
            sort: self.sort_name.clone(),
            value: match self.sort.field {
                AssignmentSort::CreatedAt => serde_json::json!(created_at),
                AssignmentSort::UpdatedAt => serde_json::json!(updated_at),
            },
            id,
        }
    }
}

/// Adds an assignment list's filters and keyset order to a boxed query.
macro_rules! assignment_filters {
    ($q:expr, $f:expr) => {{
        let f = &$f;
        let mut q = $q;
        if let Some(v) = f.statuses.clone() {
            q = crate::core::pagination::filter_in!(q, mandate_assignments::status, v);
        }
        if let Some(t) = f.updated_since {
            q = q.filter(mandate_assignments::updated_at.ge(t));
        }
        let after = f.after()?;
        match f.sort.field {
            AssignmentSort::CreatedAt => keyset!(
                q,
                mandate_assignments::created_at,
                mandate_assignments::id,
                f.sort.desc,
                after
            ),
            AssignmentSort::UpdatedAt => keyset!(
                q,
                mandate_assignments::updated_at,
                mandate_assignments::id,
                f.sort.desc,
                after
            ),
        }
    }};
}

/// List a mandate's assignments.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(("id" = Uuid, Path, description = "The mandate's id"), AssignmentQuery),
    responses(
        (status = 200, description = "A page of the mandate's assignments", body = AssignmentPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/assignments")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<AssignmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mandate_id = id.into_inner();
    let f = AssignmentFilter::parse(&query)?;
    let mut conn = state.read_pool().get().await?;
    load(&mut conn, mandate_id, false).await?;
    let q = mandate_assignments::table
        .filter(mandate_assignments::mandate_id.eq(mandate_id))
        .select(AssignmentRow::as_select())
        .into_boxed();
    let q = assignment_filters!(q, f);
    let rows: Vec<AssignmentRow> = q.limit(f.limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, f.limit, |r| {
        f.cursor(r.created_at, r.updated_at, r.id)
    })
    .map(Assignment::from);
    Ok(AssignmentPage::respond(page, &req))
}

/// Loads a mandate's assignment, locking its row when `for_update`; 404 when it belongs
/// to another mandate.
pub(super) async fn load_assignment(
    conn: &mut AsyncPgConnection,
    mandate_id: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Assignment, ApiError> {
    let q = mandate_assignments::table
        .find(id)
        .filter(mandate_assignments::mandate_id.eq(mandate_id))
        .select(AssignmentRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(Assignment::from).ok_or_else(ApiError::not_found)
}

/// Get an assignment.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(
        ("id" = Uuid, Path, description = "The mandate's id"),
        ("assignment_id" = Uuid, Path, description = "The assignment's id"),
    ),
    responses(
        (status = 200, description = "The assignment", body = Assignment,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/assignments/{assignment_id}")]
pub async fn get_assignment(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (mandate_id, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let assignment = load_assignment(&mut conn, mandate_id, id, false).await?;
    Ok(Tagged::new(&assignment).ok(&req))
}

/// Assign a mandate to an office.
///
/// The Coordinating Office's. The office must exist (422) and be open (409); a mandate
/// is assigned to an office once (409 naming `office_id`), and only while it is in force
/// (409).
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(("id" = Uuid, Path, description = "The mandate's id")),
    request_body = NewAssignment,
    responses(
        (status = 201, description = "The assignment was created", body = Assignment,
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
#[post("/{id}/assignments")]
pub async fn create_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<NewAssignment>,
) -> Result<HttpResponse, ApiError> {
    let mandate_id = id.into_inner();
    let new = body.0;
    let notes = new.progress_notes;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let mandate = load(conn, mandate_id, false).await?;
            caller.may_manage_reference_data()?;
            // A share lock: the office cannot close while it is being assigned.
            let office_status: Option<String> = offices::table
                .find(new.office_id)
                .select(offices::status)
                .for_share()
                .first(conn)
                .await
                .optional()?;
            let mut errors = Vec::new();
            if office_status.is_none() {
                errors.push(FieldError::new(
                    "office_id",
                    "unknown",
                    text!("no such office", "no existe esa oficina"),
                ));
            }
            validate_due_on(new.due_on, mandate.adopted_on, &mut errors);
            validate_notes(&notes, &mut errors);
            validate::finish(errors)?;
            if office_status.as_deref() == Some("closed") {
                return Err(ApiError::invalid_state(text!(
                    "The office is closed; a mandate cannot be assigned to it.",
                    "La oficina está cerrada; no se le puede asignar un mandato."
                ))
                .with_errors(vec![FieldError::new(
                    "office_id",
                    "closed",
                    text!("the office is closed", "la oficina está cerrada"),
                )]));
            }
            if mandate.status != MandateStatus::InForce {
                let status = mandate.status;
                return Err(ApiError::invalid_state(text!(
                    "The mandate is {status}; only a mandate in force can be assigned.",
                    "El mandato está en estado {status}; solo se puede asignar un mandato vigente."
                )));
            }
            let row: AssignmentRow = diesel::insert_into(mandate_assignments::table)
                .values((
                    mandate_assignments::id.eq(Uuid::now_v7()),
                    mandate_assignments::mandate_id.eq(mandate_id),
                    mandate_assignments::office_id.eq(new.office_id),
                    mandate_assignments::due_on.eq(new.due_on),
                    mandate_assignments::progress_notes.eq(&notes),
                ))
                .returning(AssignmentRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Assignment::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "mandate_assignment",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!(
        "/v1/mandates/{}/assignments/{}",
        created.mandate_id, created.id
    );
    Ok(Tagged::new(&created).created(&location))
}

/// Update an assignment.
///
/// The Coordinating Office, or the representative of the office it is assigned to.
/// `status` moves only forward (409 `invalid-state` otherwise); `due_on` is the
/// Coordinating Office's (422 for anyone else). Requires `If-Match` with the current
/// ETag (428 without it, 412 when stale).
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(
        ("id" = Uuid, Path, description = "The mandate's id"),
        ("assignment_id" = Uuid, Path, description = "The assignment's id"),
        ("If-Match" = String, Header, description = "The ETag of the assignment as last read"),
    ),
    request_body(content = AssignmentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated assignment", body = Assignment, headers(("ETag" = String))),
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
#[patch("/{id}/assignments/{assignment_id}")]
pub async fn update_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (mandate_id, id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load_assignment(conn, mandate_id, id, true).await?;
            caller.may_update_assignment(current.office_id)?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, ASSIGNMENT_READ_ONLY)?;
            validate::reject_null(&body.0, &["status"])?;
            let before = Tagged::new(&current);
            let patch: AssignmentPatch = from_value(body.0.clone())?;
            let mut errors = Vec::new();
            let mut next = current;
            if let Some(v) = patch.due_on
                && v != next.due_on
            {
                if !caller.may_set_assignment_due_on() {
                    errors.push(FieldError::new(
                        "due_on",
                        "not_allowed",
                        text!(
                            "only the Coordinating Office sets the due date",
                            "solo la Oficina de Coordinación fija la fecha límite"
                        ),
                    ));
                }
                let adopted_on: NaiveDate = mandates::table
                    .find(mandate_id)
                    .select(mandates::adopted_on)
                    .first(conn)
                    .await?;
                validate_due_on(v, adopted_on, &mut errors);
                next.due_on = v;
            }
            if let Some(v) = patch.progress_notes {
                next.progress_notes = v;
                validate_notes(&next.progress_notes, &mut errors);
            }
            validate::finish(errors)?;
            if let Some(to) = patch.status
                && to != next.status
            {
                let from = next.status;
                if !from.may_become(to) {
                    return Err(ApiError::invalid_state(text!(
                        "An assignment cannot move from {from} to {to}: it moves only forward, assigned → in_progress → fulfilled, or to not_applicable before it is fulfilled.",
                        "Una asignación no puede pasar de {from} a {to}: solo avanza, assigned → in_progress → fulfilled, o a not_applicable antes de cumplirse."
                    ))
                    .with_errors(vec![FieldError::new(
                        "status",
                        "invalid_transition",
                        text!(
                            "cannot move from {from} to {to}",
                            "no puede pasar de {from} a {to}"
                        ),
                    )]));
                }
                next.status = to;
            }
            // Nothing changes: no write, no new updated_at, no audit event.
            if Tagged::new(&next).etag == before.etag {
                return Ok(next);
            }
            let row: AssignmentRow = diesel::update(mandate_assignments::table.find(id))
                .set((
                    mandate_assignments::due_on.eq(next.due_on),
                    mandate_assignments::status.eq(next.status.as_str()),
                    mandate_assignments::progress_notes.eq(&next.progress_notes),
                ))
                .returning(AssignmentRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Assignment::from(row);
            if Tagged::new(&after).etag != before.etag {
                let before: serde_json::Value =
                    serde_json::from_slice(&before.bytes).expect("own JSON");
                let after_json = serde_json::to_value(&after).expect("serializes");
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "mandate_assignment",
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

/// The mandate of an office's assignment, as embedded in the office's list.
#[derive(Serialize, ToSchema)]
pub struct AssignedMandate {
    pub id: Uuid,
    #[schema(example = "AG/RES. 2976 (LII-O/22)")]
    pub reference: String,
    pub title: LocalizedText,
    pub status: MandateStatus,
}

/// An office's assignment with its mandate.
#[derive(Serialize, ToSchema)]
pub struct OfficeAssignment {
    pub id: Uuid,
    pub mandate_id: Uuid,
    pub office_id: Uuid,
    pub due_on: Option<NaiveDate>,
    pub status: AssignmentStatus,
    pub progress_notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub mandate: AssignedMandate,
}

page_type!(
    OfficeAssignmentPage,
    OfficeAssignment,
    "A page of an office's assignments with their mandates."
);

/// List an office's mandates: its assignments, each with its mandate's reference and
/// title.
#[utoipa::path(
    context_path = "/offices",
    tag = "Mandates",
    params(("id" = Uuid, Path, description = "The office's id"), AssignmentQuery),
    responses(
        (status = 200, description = "A page of the office's assignments", body = OfficeAssignmentPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/mandates")]
pub async fn list_office_mandates(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<AssignmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    let f = AssignmentFilter::parse(&query)?;
    let mut conn = state.read_pool().get().await?;
    offices::table
        .find(office_id)
        .select(offices::id)
        .first::<Uuid>(&mut conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let q = mandate_assignments::table
        .inner_join(mandates::table)
        .filter(mandate_assignments::office_id.eq(office_id))
        .select((
            AssignmentRow::as_select(),
            (mandates::reference, mandates::title, mandates::status),
        ))
        .into_boxed();
    let q = assignment_filters!(q, f);
    let rows: Vec<(AssignmentRow, (String, serde_json::Value, String))> =
        q.limit(f.limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, f.limit, |(r, _)| {
        f.cursor(r.created_at, r.updated_at, r.id)
    })
    .map(|(r, (reference, title, status))| OfficeAssignment {
        mandate: AssignedMandate {
            id: r.mandate_id,
            reference,
            title: LocalizedText::from_json(title),
            status: MandateStatus::from_db(&status),
        },
        id: r.id,
        mandate_id: r.mandate_id,
        office_id: r.office_id,
        due_on: r.due_on,
        status: AssignmentStatus::from_db(&r.status),
        progress_notes: r.progress_notes,
        created_at: r.created_at,
        updated_at: r.updated_at,
    });
    Ok(OfficeAssignmentPage::respond(page, &req))
}
