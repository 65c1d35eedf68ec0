//! Reading projects: the list (its filters, search and sort), one project, and the rows
//! of the project export.

use super::*;

page_type!(ProjectPage, Project, "A page of projects.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ProjectSort {
    Code,
    StartsOn,
    CreatedAt,
    UpdatedAt,
}

impl SortField for ProjectSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("code", ProjectSort::Code),
        ("starts_on", ProjectSort::StartsOn),
        ("created_at", ProjectSort::CreatedAt),
        ("updated_at", ProjectSort::UpdatedAt),
    ];
    const DEFAULT: Self = ProjectSort::Code;
}

/// Query parameters of the project list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `code`, `starts_on`, `created_at` or `updated_at`, prefixed with `-` for
    /// descending order.
    #[param(example = "code")]
    pub sort: Option<String>,
    /// Office ids, comma-separated.
    pub office_id: Option<String>,
    /// Department ids, comma-separated.
    pub department_id: Option<String>,
    /// Pillars, comma-separated.
    #[param(example = "democracy,human_rights")]
    pub pillar: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "active,suspended")]
    pub status: Option<String>,
    /// Projects that execute any of these mandates (ids, comma-separated).
    pub mandate_id: Option<String>,
    /// Projects with any of these executing agencies (ids, comma-separated).
    pub agency_id: Option<String>,
    /// Projects in any of these OECD DAC 5-digit sectors (codes, comma-separated).
    #[param(example = "15151,15160")]
    pub sector: Option<String>,
    /// Projects of offices in these member states (alpha-2 codes, comma-separated).
    #[param(example = "PE,CO")]
    pub member_state: Option<String>,
    /// Projects running on or after this date: `[starts_on, ends_on]` overlaps
    /// `[active_from, active_to]` (a project without `ends_on` runs on).
    #[param(value_type = Option<NaiveDate>)]
    pub active_from: Option<String>,
    /// Projects that start on or before this date (see `active_from`).
    #[param(value_type = Option<NaiveDate>)]
    pub active_to: Option<String>,
    /// Text search over the code and the title in every language, ignoring case and
    /// accents; every word must appear.
    #[param(example = "elecciones")]
    pub q: Option<String>,
    /// Only projects changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

diesel::define_sql_function! {
    /// Lower case without accents (the database's `search_fold`, which also makes
    /// `projects.search_text`).
    fn search_fold(t: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The words of a search, each escaped for `LIKE`.
pub(super) fn search_terms(q: &str) -> Result<Vec<String>, ApiError> {
    let words: Vec<&str> = q.split_whitespace().collect();
    if words.is_empty()
        || words.len() > 10
        || q.chars().count() > 200
        || words.iter().any(|w| w.chars().any(char::is_control))
    {
        return Err(ApiError::invalid_parameter(
            "q",
            text!(
                "must have 1 to 10 words of text and at most 200 characters",
                "debe tener de 1 a 10 palabras de texto y como máximo 200 caracteres"
            ),
        ));
    }
    Ok(words
        .into_iter()
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect())
}

/// A boxed query of projects with their row type.
pub(super) type BoxedProjects = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<
        projects::table,
        (
            diesel::dsl::AsSelect<ProjectRow, diesel::pg::Pg>,
            LinkColumns,
        ),
    >,
    diesel::pg::Pg,
>;

/// Checks an export's filters (a 400 naming the parameter) before it takes a slot.
pub(crate) fn check_filters(query: &ProjectQuery) -> Result<(), ApiError> {
    filtered(query).map(drop)
}

/// The projects a list or an export selects: every filter of [`ProjectQuery`] but the
/// page (`limit`, `cursor`, `sort`). Projects are not financial: every role sees them.
pub(super) fn filtered(query: &ProjectQuery) -> Result<BoxedProjects, ApiError> {
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let department_ids = validate::param_uuids("department_id", query.department_id.as_deref())?;
    let mandate_ids = validate::param_uuids("mandate_id", query.mandate_id.as_deref())?;
    let agency_ids = validate::param_uuids("agency_id", query.agency_id.as_deref())?;
    let pillars = query
        .pillar
        .as_deref()
        .map(|s| Pillar::parse_filter("pillar", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| ProjectStatus::parse_filter("status", s))
        .transpose()?;
    let member_states = validate::param_codes(
        "member_state",
        query.member_state.as_deref(),
        validate::is_alpha2,
    )?;
    let sectors = validate::param_codes("sector", query.sector.as_deref(), |c| {
        c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit())
    })?;
    let active_from = validate::param_date("active_from", query.active_from.as_deref())?;
    let active_to = validate::param_date("active_to", query.active_to.as_deref())?;
    if let (Some(from), Some(to)) = (active_from, active_to)
        && to < from
    {
        return Err(ApiError::invalid_parameter(
            "active_to",
            text!(
                "must not be before active_from",
                "no puede ser anterior a active_from"
            ),
        ));
    }
    let terms = query.q.as_deref().map(search_terms).transpose()?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = projects::table
        .select((ProjectRow::as_select(), link_columns()))
        .into_boxed();
    if let Some(v) = office_ids {
        q = crate::core::pagination::filter_in!(q, projects::office_id, v);
    }
    if let Some(v) = department_ids {
        q = crate::core::pagination::filter_in!(q, projects::department_id, v);
    }
    if let Some(v) = pillars {
        q = crate::core::pagination::filter_in!(q, projects::pillar, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, projects::status, v);
    }
    if let Some(v) = mandate_ids {
        q = q.filter(
            projects::id.eq_any(
                project_mandates::table
                    .filter(project_mandates::mandate_id.eq_any(v))
                    .select(project_mandates::project_id),
            ),
        );
    }
    if let Some(v) = agency_ids {
        q = q.filter(
            projects::id.eq_any(
                project_agencies::table
                    .filter(project_agencies::agency_id.eq_any(v))
                    .select(project_agencies::project_id),
            ),
        );
    }
    if let Some(v) = member_states {
        q = q.filter(
            projects::office_id.eq_any(
                offices::table
                    .filter(offices::member_state.eq_any(v))
                    .select(offices::id),
            ),
        );
    }
    if let Some(v) = sectors {
        // `sectors @> '[{"code": …}]'` for any of the codes (GIN index on `sectors`).
        let wanted: Vec<serde_json::Value> = v
            .iter()
            .map(|c| serde_json::json!([{ "code": c }]))
            .collect();
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("projects.sectors @> ANY(")
                .bind::<diesel::sql_types::Array<diesel::sql_types::Jsonb>, _>(wanted)
                .sql(")"),
        );
    }
    if let Some(from) = active_from {
        q = q.filter(projects::ends_on.is_null().or(projects::ends_on.ge(from)));
    }
    if let Some(to) = active_to {
        q = q.filter(projects::starts_on.le(to));
    }
    for term in terms.into_iter().flatten() {
        q = q.filter(projects::search_text.like(search_fold(term)));
    }
    if let Some(t) = updated_since {
        q = q.filter(projects::updated_at.ge(t));
    }
    Ok(q)
}

/// One batch of a project export: the `limit` projects after `after` in
/// `(updated_at, id)` order, with that key.
pub(crate) async fn export_batch(
    conn: &AsyncPgConnection,
    query: &ProjectQuery,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<((DateTime<Utc>, Uuid), Project)>, ApiError> {
    let q = keyset!(
        filtered(query)?,
        projects::updated_at,
        projects::id,
        false,
        after
    );
    let rows: Vec<LinkedRow> = Prepared(q.limit(limit)).load(&mut { conn }).await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.0.updated_at, r.0.id), linked(r)))
        .collect())
}

/// List projects.
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    params(ProjectQuery),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_projects(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ProjectQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<ProjectSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let q = filtered(&query)?;
    let q = match sort.field {
        ProjectSort::Code => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::code, projects::id, sort.desc, after)
        }
        ProjectSort::StartsOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::starts_on, projects::id, sort.desc, after)
        }
        ProjectSort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::created_at, projects::id, sort.desc, after)
        }
        ProjectSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::updated_at, projects::id, sort.desc, after)
        }
    };
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<LinkedRow> = Prepared(q.limit(limit + 1)).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |(r, ..)| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            ProjectSort::Code => serde_json::json!(r.code),
            ProjectSort::StartsOn => serde_json::json!(r.starts_on),
            ProjectSort::CreatedAt => serde_json::json!(r.created_at),
            ProjectSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    });
    let page = page.map(linked);
    Ok(ProjectPage::respond(page, &req))
}

/// Get a project.
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    params(("id" = Uuid, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project", body = Project,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_project(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let project = load(&mut conn, id.into_inner(), Lock::None).await?;
    Ok(Tagged::new(&project).ok(&req))
}
