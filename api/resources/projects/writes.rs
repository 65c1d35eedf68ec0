//! Creating, updating (status transitions included) and deleting projects.

use super::*;

/// Create a project.
///
/// The project starts in `pipeline`. Office roles create projects of their own office,
/// HQ departments projects under themselves (422 naming `office_id` or `department_id`
/// otherwise).
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    request_body = NewProject,
    responses(
        (status = 201, description = "The project was created", body = Project,
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
pub async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.may_create_projects()?;
    let new: NewProject = from_value(body.0)?;
    let mut errors = Vec::new();
    let budget = Money::validate("budget", &new.budget, &mut errors);
    let mut sectors = new
        .sectors
        .unwrap_or_else(|| iati_fields::default_sectors(new.pillar));
    iati_fields::check_sectors(&mut sectors, &mut errors);
    let now = Utc::now();
    let project = Project {
        id: Uuid::now_v7(),
        code: new.code,
        title: new.title,
        description: new.description,
        office_id: new.office_id,
        department_id: new.department_id,
        pillar: new.pillar,
        status: ProjectStatus::Pipeline,
        starts_on: new.starts_on,
        ends_on: new.ends_on,
        budget: budget.unwrap_or(Money {
            minor: 0,
            currency: crate::core::money::Currency::from_db("USD"),
        }),
        funding_source: new.funding_source,
        donor: new.donor,
        donor_agreement: new.donor_agreement,
        mandate_ids: new.mandate_ids,
        agencies: new.agencies,
        donor_org_identifier: new.donor_org_identifier,
        sectors,
        budget_lines: new.budget_lines,
        created_at: now,
        updated_at: now,
    };
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            check_project(conn, &caller, &project, None, &mut errors).await?;
            validate::finish(errors)?;
            let lines = iati_fields::normalized_lines(&project.budget_lines, &project.budget);
            let row: ProjectRow = diesel::insert_into(projects::table)
                .values((
                    projects::id.eq(project.id),
                    projects::code.eq(&project.code),
                    projects::title.eq(project.title.to_json()),
                    projects::description.eq(project.description.as_ref().map(|d| d.to_json())),
                    projects::office_id.eq(project.office_id),
                    projects::department_id.eq(project.department_id),
                    projects::pillar.eq(project.pillar.as_str()),
                    projects::status.eq(project.status.as_str()),
                    projects::starts_on.eq(project.starts_on),
                    projects::ends_on.eq(project.ends_on),
                    projects::budget_amount.eq(project.budget.minor),
                    projects::budget_currency.eq(project.budget.currency.code),
                    projects::funding_source.eq(project.funding_source.as_str()),
                    projects::donor.eq(&project.donor),
                    projects::donor_agreement.eq(&project.donor_agreement),
                    projects::donor_org_identifier.eq(&project.donor_org_identifier),
                    projects::sectors.eq(iati_fields::sectors_to_json(&project.sectors)),
                    projects::budget_lines.eq(iati_fields::lines_to_json(&lines)),
                ))
                .returning(ProjectRow::as_returning())
                .get_result(conn)
                .await?;
            insert_links(conn, &project).await?;
            let created = load(conn, row.id, Lock::None).await?;
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "project",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/projects/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

pub(super) fn status_conflict(from: ProjectStatus, to: ProjectStatus) -> ApiError {
    let detail = if from == to {
        text!(
            "The project is already {from}.",
            "El proyecto ya está en estado {from}."
        )
    } else {
        text!(
            "A {from} project cannot become {to}.",
            "Un proyecto en estado {from} no puede pasar a {to}."
        )
    };
    ApiError::invalid_state(detail).with_errors(vec![FieldError::new(
        "status",
        "invalid_transition",
        text!(
            "pipeline → approved → active ⇄ suspended; active or suspended → completed → closed; cancelled from pipeline, approved, active or suspended",
            "pipeline → approved → active ⇄ suspended; active o suspended → completed → closed; cancelled desde pipeline, approved, active o suspended"
        ),
    )])
}

pub(super) fn final_conflict(status: ProjectStatus) -> ApiError {
    ApiError::invalid_state(text!(
        "The project is {status}: it and its monitoring reports are read-only.",
        "El proyecto está en estado {status}: él y sus informes de seguimiento son de solo lectura."
    ))
    .with_errors(vec![FieldError::new(
        "status",
        "final",
        text!("is final", "es definitivo"),
    )])
}

/// Update a project, or move it along its life cycle.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale). `status`
/// changes only along pipeline → approved → active ⇄ suspended; active or suspended →
/// completed → closed; pipeline, approved, active or suspended → cancelled (anything
/// else, the same status included, is a 409 naming `status`). Approving, closing and
/// cancelling are reserved to the Coordinating Office and the project's HQ department:
/// other roles get a 422 naming `status`. An active project needs exactly one lead
/// agency (422 naming `agencies`). A closed or cancelled project is read-only (409).
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = String, Header, description = "The ETag of the project as last read"),
    ),
    request_body(content = ProjectPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated project", body = Project, headers(("ETag" = String))),
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
pub async fn update_project(
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
            let current = load(conn, id, Lock::Update).await?;
            caller.may_write_project(current.office_id, current.department_id)?;
            let before = Tagged::new(&current);
            if_match.require(&before.etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(&body.0, NOT_NULL)?;
            let patch: ProjectPatch = from_value(body.0.clone())?;
            let mut errors = Vec::new();
            let mut next = current.clone();
            if let Some(v) = patch.code {
                next.code = v;
            }
            if let Some(v) = patch.title {
                next.title = v;
            }
            if let Some(v) = patch.description {
                next.description = v;
            }
            if let Some(v) = patch.office_id {
                next.office_id = v;
            }
            if let Some(v) = patch.department_id {
                next.department_id = v;
            }
            if let Some(v) = patch.pillar {
                next.pillar = v;
            }
            if let Some(v) = patch.status {
                next.status = v;
            }
            if let Some(v) = patch.starts_on {
                next.starts_on = v;
            }
            if let Some(v) = patch.ends_on {
                next.ends_on = v;
            }
            if let Some(v) = &patch.budget
                && let Some(m) = Money::validate("budget", v, &mut errors)
            {
                next.budget = m;
            }
            if let Some(v) = patch.funding_source {
                next.funding_source = v;
            }
            if let Some(v) = patch.donor {
                next.donor = v;
            }
            if let Some(v) = patch.donor_agreement {
                next.donor_agreement = v;
            }
            if let Some(v) = patch.mandate_ids {
                next.mandate_ids = v;
            }
            if let Some(v) = patch.agencies {
                next.agencies = v;
            }
            if let Some(v) = patch.donor_org_identifier {
                next.donor_org_identifier = v;
            }
            if let Some(mut v) = patch.sectors {
                iati_fields::check_sectors(&mut v, &mut errors);
                next.sectors = v;
            }
            if let Some(v) = patch.budget_lines {
                next.budget_lines = v;
            }
            let status_given = patch.status.is_some();
            if status_given
                && next.status.is_decision()
                && !caller.may_decide_project(current.department_id)
            {
                let to = next.status;
                errors.push(FieldError::new(
                    "status",
                    "not_allowed",
                    text!(
                        "making a project {to} is reserved to the Coordinating Office and the project's HQ department",
                        "pasar un proyecto a {to} está reservado a la Oficina de Coordinación y al departamento de la sede del proyecto"
                    ),
                ));
            }
            let was = Before {
                office_id: current.office_id,
                department_id: current.department_id,
                agencies: &current.agencies,
            };
            check_project(conn, &caller, &next, Some(&was), &mut errors).await?;
            validate::finish(errors)?;
            if current.status.is_final() {
                return Err(final_conflict(current.status));
            }
            if status_given && !current.status.can_become(next.status) {
                return Err(status_conflict(current.status, next.status));
            }
            diesel::update(projects::table.find(id))
                .set((
                    projects::code.eq(&next.code),
                    projects::title.eq(next.title.to_json()),
                    projects::description.eq(next.description.as_ref().map(|d| d.to_json())),
                    projects::office_id.eq(next.office_id),
                    projects::department_id.eq(next.department_id),
                    projects::pillar.eq(next.pillar.as_str()),
                    projects::status.eq(next.status.as_str()),
                    projects::starts_on.eq(next.starts_on),
                    projects::ends_on.eq(next.ends_on),
                    projects::budget_amount.eq(next.budget.minor),
                    projects::budget_currency.eq(next.budget.currency.code),
                    projects::funding_source.eq(next.funding_source.as_str()),
                    projects::donor.eq(&next.donor),
                    projects::donor_agreement.eq(&next.donor_agreement),
                    projects::donor_org_identifier.eq(&next.donor_org_identifier),
                    projects::sectors.eq(iati_fields::sectors_to_json(&next.sectors)),
                    projects::budget_lines.eq(iati_fields::lines_to_json(
                        &iati_fields::normalized_lines(&next.budget_lines, &next.budget),
                    )),
                ))
                .execute(conn)
                .await?;
            if next.mandate_ids != current.mandate_ids {
                diesel::delete(
                    project_mandates::table.filter(project_mandates::project_id.eq(id)),
                )
                .execute(conn)
                .await?;
            }
            if next.agencies != current.agencies {
                diesel::delete(
                    project_agencies::table.filter(project_agencies::project_id.eq(id)),
                )
                .execute(conn)
                .await?;
            }
            let mut links = next.clone();
            if next.mandate_ids == current.mandate_ids {
                links.mandate_ids.clear();
            }
            if next.agencies == current.agencies {
                links.agencies.clear();
            }
            insert_links(conn, &links).await?;
            let after = load(conn, id, Lock::None).await?;
            if Tagged::new(&after).etag != before.etag {
                let action = if after.status != current.status {
                    "update_status"
                } else {
                    "update"
                };
                audit::record(
                    conn,
                    &caller.actor(),
                    action,
                    "project",
                    id,
                    Some(&current),
                    Some(&after),
                )
                .await?;
            }
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

/// Delete a project.
///
/// Only a project still in `pipeline` and without monitoring reports can be deleted
/// (409 otherwise); a project with history is closed or cancelled instead. Honours
/// `If-Match` when given.
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the project as last read"),
    ),
    responses(
        (status = 204, description = "The project was deleted"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[delete("/{id}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        let current = load(conn, id, Lock::Update).await?;
        caller.may_write_project(current.office_id, current.department_id)?;
        if_match.check_if_present(&Tagged::new(&current).etag)?;
        if current.status != ProjectStatus::Pipeline {
            let status = current.status;
            return Err(ApiError::invalid_state(text!(
                "Only a project in pipeline can be deleted; this one is {status}: close or cancel it instead.",
                "Solo se puede eliminar un proyecto en preparación; este está en estado {status}: ciérrelo o cancélelo."
            ))
            .with_errors(vec![FieldError::new(
                "status",
                "not_pipeline",
                text!("is not pipeline", "no es pipeline"),
            )]));
        }
        use crate::db::schema::monitoring_reports as reports;
        let has_reports: bool = diesel::select(diesel::dsl::exists(
            reports::table.filter(reports::project_id.eq(id)),
        ))
        .get_result(conn)
        .await?;
        if has_reports {
            return Err(ApiError::new(
                ProblemType::StillReferenced,
                text!(
                    "The project has monitoring reports; cancel it instead.",
                    "El proyecto tiene informes de seguimiento; cancélelo en su lugar."
                ),
            )
            .with_errors(vec![FieldError::new(
                "monitoring_reports",
                "referenced",
                text!(
                    "still refer to this project",
                    "todavía hacen referencia a este proyecto"
                ),
            )]));
        }
        diesel::delete(projects::table.find(id)).execute(conn).await?;
        audit::record(
            conn,
            &caller.actor(),
            "delete",
            "project",
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
