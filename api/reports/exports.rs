//! `/v1/exports/{resource}`: a whole filtered set in one download, NDJSON or CSV, without
//! pagination.
//!
//! ## How an export streams in constant memory
//! A task of its own opens a `REPEATABLE READ, READ ONLY` transaction (one snapshot: the
//! file is consistent even while others write) and reads the rows in batches of 1,000 by
//! keyset on a stable order, `(updated_at, id)` (`(created_at, id)` for entries,
//! `(occurred_at, id)` for audit events), each batch an index range scan. Each batch is
//! encoded (with its parents' context for CSV) and handed to the response through a
//! channel of two batches: the task waits while the client reads, so memory holds a few
//! batches whatever the size of the set. When the client goes away the task stops and
//! the transaction rolls back. A failure before the first batch is a problem; after it,
//! the connection is cut (the file then lacks its last line).
//!
//! With read replicas the task reads a replica under the rules of lists (the caller's
//! read fence, the bounded wait, the fallback to the primary: `db::replica`), taking the
//! request's read context along to the export runtime
//! ([`crate::state::AppState::export_read_pools`]).
//!
//! ## Resuming and incremental pulls
//! Rows come in that stable order. An interrupted download resumes with `updated_since`
//! set to the last complete row's timestamp (rows with that same timestamp come again:
//! keep the last version of each id). `X-Sync-Watermark` tells where to poll from next
//! (see [`crate::core::sync`]); with `updated_since` the export stops at the watermark.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::error::ApiError;
use crate::core::{sync, validate};
use crate::formats::{Context, Encoder, Format, NDJSON, Negotiated, TEXT_CSV, content_disposition};
use crate::resources::audit::{self, AuditEvent, AuditQuery};
use crate::resources::ledgers::entries::{self, EntryQuery, LedgerFilter};
use crate::resources::ledgers::{Entry, EntryRow};
use crate::resources::projects::Project;
use crate::resources::projects::list::{self as projects, ProjectQuery};
use crate::state::AppState;

/// Rows read and encoded at a time.
pub const BATCH: i64 = 1000;

/// Exports that may run at once; one more waits up to [`SLOT_WAIT`] for a slot, then is
/// a 503 with `Retry-After`. Each holds a database connection and keeps a thread
/// encoding: without a cap, 32 concurrent downloads took every pooled connection,
/// pushed the service past 100 MB and kept `/livez` waiting for seconds
/// (bench/README.md).
pub const MAX_CONCURRENT: usize = crate::state::MAX_CONCURRENT_EXPORTS;

/// The exports' own pool ([`crate::state::AppState::with_export_pool`]): one connection per
/// export slot, with `settings`' timeouts.
pub fn pool(url: &str, settings: &crate::db::PoolSettings) -> anyhow::Result<crate::db::DbPool> {
    crate::db::pool(
        url,
        &crate::db::PoolSettings {
            max_size: MAX_CONCURRENT,
            ..settings.clone()
        },
    )
}

/// How long an export waits for a slot before its 503: a slot is freed the moment a
/// download ends, so a client that starts the next download as soon as one ends (or
/// a few clients in step) is not turned away.
pub const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The runtime exports read and encode on: two threads of their own at a lower
/// scheduling priority (nice 10), so that a download's CSV encoding neither holds up
/// the request workers' event loops nor takes the CPU from their requests (32 concurrent
/// downloads on the workers themselves kept `/livez` waiting for seconds,
/// bench/README.md). The workers only pass the encoded chunks on.
fn export_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ogsms-export")
            .on_thread_start(lower_this_threads_priority)
            .enable_all()
            .build()
            .expect("the export runtime starts")
    })
}

/// Nice 10 for the calling thread (on Linux a thread's nice value is its own).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only read their arguments; raising one's own nice
    // value needs no privilege. A failure leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// The key of the stable order: the change instant and the id.
type Key = (DateTime<Utc>, Uuid);

enum Msg {
    /// The export's watermark, read before its snapshot: the task's first message.
    Watermark(DateTime<Utc>),
    Chunk(Bytes),
    Fail(ApiError),
}

/// A row as an export reads it, and the item the export writes for it.
///
/// The item is made on a blocking thread with the encoding, not on the task that reads
/// the rows: for ledger entries (three amounts formatted each) that was 12.6% of a 1M
/// CSV export's samples, all on the reading task.
trait ExportRow: Send + 'static {
    type Item: Serialize + utoipa::ToSchema + Send + 'static;
    fn into_item(self) -> Self::Item;
}

impl ExportRow for Project {
    type Item = Project;
    fn into_item(self) -> Project {
        self
    }
}

impl ExportRow for AuditEvent {
    type Item = AuditEvent;
    fn into_item(self) -> AuditEvent {
        self
    }
}

impl ExportRow for EntryRow {
    type Item = Entry;
    fn into_item(self) -> Entry {
        Entry::from(self)
    }
}

/// Streams the rows `fetch` reads, batch after batch, as NDJSON or CSV.
///
/// `check` is the filters' validation, done before an export slot is taken: bad
/// parameters are a 400 however many exports are running.
async fn stream_export<R, F>(
    state: web::Data<AppState>,
    req: &HttpRequest,
    with_since: bool,
    check: Result<(), ApiError>,
    fetch: F,
) -> Result<HttpResponse, ApiError>
where
    R: ExportRow,
    F: Fn(&AsyncPgConnection, Option<Key>) -> BoxFuture<'_, Result<Vec<(Key, R)>, ApiError>>
        + Send
        + Sync
        + 'static,
{
    check?;
    let negotiated = Negotiated::of(req);
    let format = negotiated.choose(&[Format::Ndjson, Format::Csv])?;
    // Held until the export's task ends (the file is complete or the client went away).
    let slot = tokio::time::timeout(SLOT_WAIT, state.exports.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::exports_busy(MAX_CONCURRENT))?;
    let encoder = (format == Format::Csv).then(|| {
        Arc::new(Encoder::new(
            &<R::Item as utoipa::ToSchema>::name(),
            req,
            negotiated.bom,
        ))
    });
    let data_lang = encoder.as_ref().map(|e| e.data_lang);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(2);
    // A replica's connection when the request may read one (`db::replica`), else the
    // primary's; chosen on the export runtime, with the request's read context.
    let pool = state.export_read_pools();
    let asked_watermark = negotiated.watermark;

    export_runtime().spawn(async move {
        let _slot = slot;
        let fail = tx.clone();
        let result = async {
            // Checked out here, on the export runtime: a connection the pool opens now
            // has its socket driven by this runtime's threads, not a request worker's.
            // The watermark is read before the export's snapshot is taken (see
            // `crate::core::sync`; on a replica, the primary's: `db::replica`).
            let (mut conn, watermark) = match asked_watermark {
                Some(w) => (pool.get().await?, w),
                None => pool.get_with_watermark().await?,
            };
            if tx.send(Msg::Watermark(watermark)).await.is_err() {
                return Err(ApiError::internal());
            }
            let stop_at = with_since.then_some(watermark);
            conn.build_transaction()
                .repeatable_read()
                .read_only()
                .run(async move |conn| {
                    diesel::sql_query(format!(
                        "SET LOCAL application_name = '{}'",
                        sync::EXPORT_APPLICATION_NAME
                    ))
                    .execute(conn)
                    .await?;
                    let c: &AsyncPgConnection = conn;
                    let mut first = true;
                    let mut parents = Context::default();
                    // A batch is flattened and encoded on the runtime's blocking threads
                    // (nice 10 like its workers) while this task reads the next one's
                    // rows, so that the reading waits on nothing but the database; the
                    // workers stay free to drive the connection. Chunks are sent in order.
                    let mut encoding: Option<tokio::task::JoinHandle<Vec<u8>>> = None;
                    let mut batch = fetch(c, None).await?;
                    loop {
                        let full = batch.len() as i64 == BATCH;
                        let mut items = Vec::with_capacity(batch.len());
                        let mut after = None;
                        let mut reached = false;
                        for (key, item) in batch {
                            if stop_at.is_some_and(|w| key.0 >= w) {
                                reached = true;
                                break;
                            }
                            after = Some(key);
                            items.push(item);
                        }
                        let done = !full || reached;
                        // The next batch's query goes out (pipelined on the connection)
                        // before this batch is flattened, so the database runs it
                        // meanwhile instead of waiting for the next round.
                        let (following, next) = futures_util::try_join!(
                            async {
                                match after {
                                    Some(after) if !done => fetch(c, Some(after)).await,
                                    _ => Ok(Vec::new()),
                                }
                            },
                            async {
                                Ok::<_, ApiError>(match &encoder {
                                    Some(encoder) => {
                                        // Flattened on a blocking thread while this one
                                        // reads the next batch's rows as they arrive.
                                        let rows = {
                                            let encoder = encoder.clone();
                                            tokio::task::spawn_blocking(move || {
                                                let items: Vec<R::Item> =
                                                    items.into_iter().map(R::into_item).collect();
                                                encoder.flatten(&items)
                                            })
                                            .await
                                            .map_err(|_| ApiError::internal())?
                                        };
                                        let ctx = if encoder.needs_context() && !rows.is_empty() {
                                            encoder.context(c, &rows, &mut parents).await?
                                        } else {
                                            Default::default()
                                        };
                                        let encoder = encoder.clone();
                                        tokio::task::spawn_blocking(move || {
                                            let mut out =
                                                if first { encoder.header() } else { Vec::new() };
                                            encoder.write_rows(&mut out, &rows, &ctx);
                                            out
                                        })
                                    }
                                    None => tokio::task::spawn_blocking(move || {
                                        let mut out = Vec::new();
                                        for item in items.into_iter().map(R::into_item) {
                                            serde_json::to_writer(&mut out, &item)
                                                .expect("item serializes");
                                            out.push(b'\n');
                                        }
                                        out
                                    }),
                                })
                            }
                        )?;
                        batch = following;
                        first = false;
                        let mut ready: Vec<_> = encoding.replace(next).into_iter().collect();
                        if done {
                            ready.extend(encoding.take());
                        }
                        for handle in ready {
                            let out = handle.await.map_err(|_| ApiError::internal())?;
                            if tx.send(Msg::Chunk(Bytes::from(out))).await.is_err() {
                                // The client went away: roll back and stop.
                                return Err(ApiError::internal());
                            }
                        }
                        if done {
                            return Ok(());
                        }
                    }
                })
                .await
        }
        .await;
        if let Err(e) = result {
            let _ = fail.send(Msg::Fail(e)).await;
        }
    });

    // The watermark and the first batch decide between a problem and a 200.
    let watermark = match rx.recv().await {
        Some(Msg::Watermark(w)) => w,
        Some(Msg::Fail(e)) => return Err(e),
        _ => return Err(ApiError::internal()),
    };
    let first = match rx.recv().await {
        Some(Msg::Chunk(b)) => b,
        Some(Msg::Fail(e)) => return Err(e),
        _ => return Err(ApiError::internal()),
    };
    let rest = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Some(Msg::Chunk(b)) => Some((Ok(b), rx)),
            Some(Msg::Fail(e)) => {
                log::warn!("export failed while streaming: {e}");
                Some((Err(std::io::Error::other(e.to_string())), rx))
            }
            Some(Msg::Watermark(_)) | None => None,
        }
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(rest);

    let mut res = HttpResponse::Ok();
    res.insert_header(crate::reports::as_of_header(watermark));
    res.insert_header((sync::X_SYNC_WATERMARK, sync::format(watermark)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept, Accept-Language"));
    match data_lang {
        Some(lang) => {
            res.insert_header((header::CONTENT_TYPE, TEXT_CSV))
                .insert_header((header::CONTENT_LANGUAGE, lang))
                .insert_header(content_disposition(req, "csv"));
        }
        None => {
            res.insert_header((header::CONTENT_TYPE, NDJSON))
                .insert_header(content_disposition(req, "ndjson"));
        }
    }
    let mut res = res.streaming(body);
    res.extensions_mut().insert(crate::formats::Honored);
    Ok(res)
}

// ---------------------------------------------------------------------------------
// Projects

/// Filters of the project export: those of the project list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectExportQuery {
    /// Office ids, comma-separated.
    pub office_id: Option<String>,
    /// Department ids, comma-separated.
    pub department_id: Option<String>,
    /// Pillars, comma-separated.
    pub pillar: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Projects that execute any of these mandates (ids, comma-separated).
    pub mandate_id: Option<String>,
    /// Projects with any of these executing agencies (ids, comma-separated).
    pub agency_id: Option<String>,
    /// Projects in any of these OECD DAC 5-digit sectors (codes, comma-separated).
    pub sector: Option<String>,
    /// Projects of offices in these member states (alpha-2 codes, comma-separated).
    pub member_state: Option<String>,
    /// Projects running on or after this date.
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub active_from: Option<String>,
    /// Projects that start on or before this date.
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub active_to: Option<String>,
    /// Text search over the code and the title, every word must appear.
    pub q: Option<String>,
    /// Only projects changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// Export projects.
///
/// Every project the filters select, ordered by `(updated_at, id)`, streamed without
/// pagination: NDJSON (one `Project` a line, the default) or CSV (`format=csv` or
/// `Accept: text/csv`; the columns of the project list's CSV).
#[utoipa::path(
    context_path = "/exports",
    tag = "Exports",
    params(ProjectExportQuery),
    responses(
        (status = 200, description = "The projects",
         content((Project = "application/x-ndjson"), (String = "text/csv")),
         headers(
             ("Content-Disposition" = String, description = "`attachment; filename=\"projects-<date>.<ext>\"`"),
             ("OGSMS-As-Of" = String, description = "What the export is as of: the data's watermark (RFC 3339), as `X-Sync-Watermark`; every change committed before it is in the export"),
         )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/projects")]
pub async fn export_projects(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ProjectExportQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let with_since = q.updated_since.is_some();
    let query = Arc::new(ProjectQuery {
        limit: None,
        cursor: None,
        sort: None,
        office_id: q.office_id,
        department_id: q.department_id,
        pillar: q.pillar,
        status: q.status,
        mandate_id: q.mandate_id,
        agency_id: q.agency_id,
        sector: q.sector,
        member_state: q.member_state,
        active_from: q.active_from,
        active_to: q.active_to,
        q: q.q,
        updated_since: q.updated_since,
    });
    let check = projects::check_filters(&query);
    stream_export(state, &req, with_since, check, move |conn, after| {
        let query = query.clone();
        Box::pin(async move { projects::export_batch(conn, &query, after, BATCH).await })
    })
    .await
}

// ---------------------------------------------------------------------------------
// Ledger entries

/// Filters of the ledger entry export: those of a ledger's entry list, and the ledgers.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryExportQuery {
    /// Ledgers (ids), comma-separated.
    pub ledger_id: Option<String>,
    /// Offices (ids) whose ledgers to export, comma-separated.
    pub office_id: Option<String>,
    /// Fiscal year of the ledgers.
    #[param(value_type = Option<i32>)]
    pub fiscal_year: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// Categories, comma-separated.
    pub category: Option<String>,
    /// Projects (ids), comma-separated.
    pub project_id: Option<String>,
    /// Payee executing agencies (ids), comma-separated.
    pub payee_agency_id: Option<String>,
    /// Entries dated on or after this day.
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub posted_from: Option<String>,
    /// Entries dated on or before this day.
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub posted_to: Option<String>,
    /// Entries recorded at or after this instant (entries never change).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// Export ledger entries.
///
/// The entries of every ledger the caller may see (the Coordinating Office and auditors
/// all; an office its own; an HQ department those tagged to its projects; a viewer
/// none), ordered by `(created_at, id)`. CSV rows carry the ledger's office, fund and
/// fiscal year and the project's code.
#[utoipa::path(
    context_path = "/exports",
    tag = "Exports",
    params(EntryExportQuery),
    responses(
        (status = 200, description = "The entries",
         content((Entry = "application/x-ndjson"), (String = "text/csv")),
         headers(
             ("Content-Disposition" = String, description = "`attachment; filename=\"ledger-entries-<date>.<ext>\"`"),
             ("OGSMS-As-Of" = String, description = "What the export is as of: the data's watermark (RFC 3339), as `X-Sync-Watermark`; every change committed before it is in the export"),
         )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/ledger-entries")]
pub async fn export_ledger_entries(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EntryExportQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let with_since = q.updated_since.is_some();
    let fiscal_year = validate::param_i32("fiscal_year", q.fiscal_year.as_deref())?;
    let ledger = Arc::new(LedgerFilter {
        ledger_ids: validate::param_uuids("ledger_id", q.ledger_id.as_deref())?,
        office_ids: validate::param_uuids("office_id", q.office_id.as_deref())?,
        fiscal_year,
    });
    let query = Arc::new(EntryQuery {
        limit: None,
        cursor: None,
        sort: None,
        kind: q.kind,
        category: q.category,
        project_id: q.project_id,
        payee_agency_id: q.payee_agency_id,
        posted_from: q.posted_from,
        posted_to: q.posted_to,
        updated_since: q.updated_since,
    });
    let check = entries::check_filters(&caller, &query);
    let caller = Arc::new(caller);
    stream_export(state, &req, with_since, check, move |conn, after| {
        let (query, ledger, caller) = (query.clone(), ledger.clone(), caller.clone());
        Box::pin(async move {
            entries::export_entries_batch(conn, &caller, &query, &ledger, after, BATCH).await
        })
    })
    .await
}

// ---------------------------------------------------------------------------------
// Audit events

/// Filters of the audit export: those of the audit trail.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// The actor's `sub`.
    pub actor: Option<String>,
    /// Resource types, comma-separated.
    pub resource_type: Option<String>,
    /// One resource's id.
    pub resource_id: Option<String>,
    /// Actions, comma-separated.
    pub action: Option<String>,
    /// Events at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub occurred_from: Option<String>,
    /// Events before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub occurred_to: Option<String>,
    /// Same as `occurred_from` (audit events never change), for incremental pulls.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// Export the audit trail (auditors and the Coordinating Office).
///
/// Every event the filters select, ordered by `(occurred_at, id)`.
#[utoipa::path(
    context_path = "/exports",
    tag = "Exports",
    params(AuditExportQuery),
    responses(
        (status = 200, description = "The audit events",
         content((AuditEvent = "application/x-ndjson"), (String = "text/csv")),
         headers(
             ("Content-Disposition" = String, description = "`attachment; filename=\"audit-events-<date>.<ext>\"`"),
             ("OGSMS-As-Of" = String, description = "What the export is as of: the data's watermark (RFC 3339), as `X-Sync-Watermark`; every change committed before it is in the export"),
         )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/audit-events")]
pub async fn export_audit_events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AuditExportQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_audit()?;
    let q = query.into_inner();
    let with_since = q.updated_since.is_some();
    let query = Arc::new(AuditQuery {
        limit: None,
        cursor: None,
        sort: None,
        actor: q.actor,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        action: q.action,
        occurred_from: q.occurred_from,
        occurred_to: q.occurred_to,
        updated_since: q.updated_since,
    });
    let check = audit::check_filters(&query);
    stream_export(state, &req, with_since, check, move |conn, after| {
        let query = query.clone();
        Box::pin(async move { audit::export_batch(conn, &query, after, BATCH).await })
    })
    .await
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/exports")
        .handler_decides()
        .service(export_projects)
        .service(export_ledger_entries)
        .service(export_audit_events);
}
