//! Representations other than JSON: CSV for every list, CSV and NDJSON for exports.
//!
//! ## Negotiation
//! `format=json|csv|ndjson` in the query wins; otherwise `Accept` (`text/csv`,
//! `application/x-ndjson`, `application/json`, by quality); otherwise JSON for lists and
//! NDJSON for exports. `bom=true` prepends a UTF-8 byte order mark to CSV (Excel wants
//! it). The outermost middleware takes both parameters out of the query before routing,
//! so that no list's parameters need to know them, and rejects bad values with a 400.
//!
//! ## Columns
//! A CSV file has one row per item and columns derived from the item's OpenAPI schema, in
//! its order, so a type's columns never depend on the data (an empty page still has its
//! header row):
//! - a nested object becomes `parent_child` columns (`contacts_email`); a money object
//!   `{amount, currency}` becomes `x_amount` and `x_currency` (`amount` and `currency`
//!   when the field is itself called `amount`);
//! - a localized text becomes one column in the language of `Accept-Language` (en, es,
//!   fr or pt), falling back to en, es, fr, pt;
//! - a code of a closed set (`status`) is followed by its label (`status_label`) in the
//!   caller's language (en or es);
//! - an array becomes one column of `;`-separated values (`:` between the fields of an
//!   object);
//! - a free-form object (an audit event's `before`) is one column of JSON;
//! - rows of a child repeat their context, so one file answers a question without
//!   joins: after `ledger_id` the ledger's `office_id`, `office_code`, `ledger_fund`,
//!   `ledger_fund_code` and `ledger_fiscal_year`; after `project_id` the project's
//!   `project_code` (and `office_code`); after `office_id` the `office_code`; after
//!   `department_id` the `department_code`; after `mandate_id` the `mandate_reference`.
//!   A column whose name an earlier column already has is left out.
//! - a text that a spreadsheet would take for a formula (starting with `=`, `+`, `-`,
//!   `@`, tab or carriage return, and not a number) is prefixed with `'`, so opening a
//!   file never runs what someone typed into a project's title; negative amounts stay
//!   numbers.

mod flat;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, Uri};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use uuid::Uuid;

use crate::core::enums::Labeler;
use crate::core::error::ApiError;
use crate::core::i18n::text;
use crate::core::i18n::{Lang, data_language};
use crate::core::pagination::{Page, decode};
use crate::core::sync;
use crate::db::schema::{departments, ledgers, mandates, offices, projects};
use crate::state::AppState;

pub use flat::Flat;
use flat::{CellRef, Slots};

pub const TEXT_CSV: &str = "text/csv; charset=utf-8";
pub const NDJSON: &str = "application/x-ndjson";
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The longest query string a GET may have (about 400 ids in a filter).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// A representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Ndjson,
}

impl Format {
    fn parse(v: &str) -> Option<Format> {
        match v {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "ndjson" => Some(Format::Ndjson),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// What the request asked for, recorded by [`prepare`] in the request's extensions.
#[derive(Clone, Debug, Default)]
pub struct Negotiated {
    /// `format=` of the query.
    pub format: Option<Format>,
    /// The preferred of the formats `Accept` names.
    pub accept: Option<Format>,
    /// `bom=true`.
    pub bom: bool,
    /// The `format` and `bom` pairs taken out of the query (raw), for the next page's URL.
    pub stripped: Vec<String>,
    /// The sync watermark of a request with `updated_since` (see [`crate::core::sync`]).
    pub watermark: Option<DateTime<Utc>>,
}

impl Negotiated {
    pub fn of(req: &HttpRequest) -> Negotiated {
        req.extensions()
            .get::<Negotiated>()
            .cloned()
            .unwrap_or_default()
    }

    /// The format to answer in among `allowed` (the first is the default): an explicit
    /// `format` outside them is a 400; an `Accept` outside them gets the default.
    pub fn choose(&self, allowed: &[Format]) -> Result<Format, ApiError> {
        if let Some(f) = self.format {
            if allowed.contains(&f) {
                return Ok(f);
            }
            let list = allowed
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ApiError::invalid_parameter(
                "format",
                text!("must be one of {list} here", "debe ser uno de {list} aquí"),
            ));
        }
        Ok(self
            .accept
            .filter(|f| allowed.contains(f))
            .unwrap_or(allowed[0]))
    }
}

/// Takes `format` and `bom` out of a GET request's query (a 400 for a bad value), notes
/// the `Accept` preference, and for `updated_since` reads the sync watermark before the
/// handler reads any data.
pub async fn prepare(req: &mut ServiceRequest) -> Result<(), ApiError> {
    if req.method() != Method::GET || !req.path().starts_with("/v1/") {
        return Ok(());
    }
    let mut n = Negotiated {
        accept: accept_format(req.headers()),
        ..Negotiated::default()
    };
    let query = req.query_string().to_owned();
    // Filters take lists, but no real question needs more than a few hundred values:
    // a longer query is refused before anything parses it.
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::invalid_parameter(
            "query",
            text!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes",
                "la cadena de consulta supera los {MAX_QUERY_BYTES} bytes"
            ),
        ));
    }
    let mut kept = Vec::new();
    let mut seen = HashSet::new();
    for raw in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = raw.split_once('=').unwrap_or((raw, ""));
        let key = decode(k);
        // No text the service stores or compares may hold NUL (PostgreSQL refuses it).
        if key.contains('\0') || decode(v).contains('\0') {
            return Err(ApiError::invalid_parameter(
                &key.replace('\0', ""),
                text!(
                    "must not contain the NUL character",
                    "no debe contener el carácter NUL"
                ),
            ));
        }
        if key != "format" && key != "bom" {
            kept.push(raw);
            continue;
        }
        if !seen.insert(key.clone()) {
            return Err(ApiError::invalid_parameter(
                &key,
                text!("must be given once", "debe darse una sola vez"),
            ));
        }
        let value = decode(v);
        if key == "format" {
            n.format = Some(Format::parse(&value).ok_or_else(|| {
                ApiError::invalid_parameter(
                    "format",
                    text!("must be json, csv or ndjson", "debe ser json, csv o ndjson"),
                )
            })?);
        } else {
            n.bom = match value.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::invalid_parameter(
                        "bom",
                        text!("must be true or false", "debe ser true o false"),
                    ));
                }
            };
        }
        n.stripped.push(raw.to_owned());
    }
    if !n.stripped.is_empty() {
        let path = req.path().to_owned();
        let pq = if kept.is_empty() {
            path
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        let mut parts = req.head().uri.clone().into_parts();
        parts.path_and_query = Some(pq.parse().map_err(|_| ApiError::internal())?);
        req.head_mut().uri = Uri::from_parts(parts).map_err(|_| ApiError::internal())?;
    }
    let syncs = kept
        .iter()
        .any(|p| decode(p.split('=').next().unwrap_or("")) == "updated_since");
    if syncs && req.headers().contains_key(header::AUTHORIZATION) {
        let carried = kept
            .iter()
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| decode(k) == "cursor")
            .and_then(|(_, v)| cursor_watermark(&decode(v)));
        n.watermark = Some(match carried {
            Some(w) => w,
            None => {
                let state = req
                    .app_data::<web::Data<AppState>>()
                    .expect("AppState is registered")
                    .clone();
                let mut conn = state.pool.get().await?;
                sync::watermark(&mut conn).await?
            }
        });
    }
    req.extensions_mut().insert(n);
    Ok(())
}

/// The preferred of the formats `Accept` names explicitly (wildcards name none).
fn accept_format(headers: &header::HeaderMap) -> Option<Format> {
    let mut best: Option<(f32, Format)> = None;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                "text/csv" => Format::Csv,
                "application/json" => Format::Json,
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                    Format::Ndjson
                }
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, format));
            }
        }
    }
    best.map(|(_, f)| f)
}

/// The watermark a cursor carries (`w`), so that every page of one pass shares it.
fn cursor_watermark(cursor: &str) -> Option<DateTime<Utc>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let w = v.get("w")?.as_str()?;
    DateTime::parse_from_rfc3339(w)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn cursor_with_watermark(cursor: &str, w: DateTime<Utc>) -> String {
    let Some(mut v) = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return cursor.to_owned();
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("w".to_owned(), Value::String(sync::format(w)));
    }
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).expect("cursor serializes"))
}

/// The answer to a list: the page as JSON (`wrap` builds the page object) or CSV, with
/// the `Link` to the next page and, for `updated_since`, only the items changed before
/// the watermark and the watermark in `X-Sync-Watermark`.
pub fn respond_page<T, P>(
    mut page: Page<T>,
    req: &HttpRequest,
    wrap: impl FnOnce(Vec<T>, Option<String>) -> P,
) -> HttpResponse
where
    T: Serialize + utoipa::ToSchema,
    P: Serialize,
{
    let n = Negotiated::of(req);
    let format = match n.choose(&[Format::Json, Format::Csv]) {
        Ok(f) => f,
        Err(e) => return HttpResponse::from_error(e),
    };
    let mut res = HttpResponse::Ok();
    res.insert_header((header::VARY, "Accept, Accept-Language"));
    if let Some(w) = n.watermark {
        page.items.retain(|item| {
            serde_json::to_value(item)
                .ok()
                .and_then(|v| sync::changed_at(&v))
                .is_none_or(|t| t < w)
        });
        page.next_cursor = page.next_cursor.map(|c| cursor_with_watermark(&c, w));
        res.insert_header((sync::X_SYNC_WATERMARK, sync::format(w)));
    }
    if let Some(link) = page.link_header(req, &Negotiated::of(req).stripped) {
        res.insert_header(link);
    }
    match format {
        Format::Csv => {
            let encoder = Encoder::new(&T::name(), req, n.bom);
            let rows = encoder.flatten(&page.items);
            res.insert_header((header::CONTENT_TYPE, TEXT_CSV))
                .insert_header(content_disposition(req, "csv"))
                .insert_header((header::CONTENT_LANGUAGE, encoder.data_lang));
            let mut out = res.finish();
            out.extensions_mut().insert(PendingCsv { encoder, rows });
            out
        }
        _ => res.json(wrap(page.items, page.next_cursor)),
    }
}

/// `attachment; filename="<resource>-<date>.<ext>"`, the resource named by the path's
/// words (`/v1/ledgers/{id}/entries` → `ledgers-entries`).
pub fn content_disposition(req: &HttpRequest, ext: &str) -> (header::HeaderName, String) {
    let words: Vec<&str> = req
        .path()
        .split('/')
        .filter(|s| !s.is_empty() && *s != "v1" && *s != "exports" && Uuid::parse_str(s).is_err())
        .filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .collect();
    let name = if words.is_empty() {
        "export".to_owned()
    } else {
        words.join("-")
    };
    let date = Utc::now().date_naive();
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}-{date}.{ext}\""),
    )
}

/// Marks a response made in the format the request asked for (an export's).
pub struct Honored;

/// A CSV page whose rows still need their context (read in [`finish`]).
struct PendingCsv {
    encoder: Encoder,
    rows: Flat,
}

/// Completes a CSV page (the context of child rows needs the database, which the
/// synchronous `respond` cannot reach); a failure becomes the problem it is.
pub async fn finish(mut res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let Some(pending) = res.response_mut().extensions_mut().remove::<PendingCsv>() else {
        let asked = res
            .request()
            .extensions()
            .get::<Negotiated>()
            .and_then(|n| n.format);
        let honored = res.response().extensions().get::<Honored>().is_some();
        if res.status().is_success() && !honored && asked.is_some_and(|f| f != Format::Json) {
            // A single resource is JSON only: `format=csv` there is a bad parameter, as
            // any parameter it does not take.
            let (req, _) = res.into_parts();
            let err = ApiError::invalid_parameter(
                "format",
                text!(
                    "is only for lists and exports; this resource is JSON",
                    "es solo para listas y exportaciones; este recurso es JSON"
                ),
            );
            return ServiceResponse::from_err(err, req).map_into_boxed_body();
        }
        return res;
    };
    let state = res
        .request()
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone();
    let rendered = async {
        let ctx = if pending.encoder.needs_context() {
            let conn = state.pool.get().await?;
            pending
                .encoder
                .context(&conn, &pending.rows, &mut Context::default())
                .await?
        } else {
            Context::default()
        };
        let mut bytes = pending.encoder.header();
        pending.encoder.write_rows(&mut bytes, &pending.rows, &ctx);
        Ok::<_, ApiError>(bytes)
    }
    .await;
    match rendered {
        Ok(bytes) => res.map_body(|_, _| BoxBody::new(bytes)),
        Err(e) => {
            let (req, _) = res.into_parts();
            ServiceResponse::from_err(e, req).map_into_boxed_body()
        }
    }
}

// ---------------------------------------------------------------------------------
// Columns

#[derive(Clone, Debug)]
enum Source {
    /// A value of the item, by its path (its cell is the column's slot).
    Item(Vec<String>),
    /// A value of the item's context: the parent named by `key` (`ledger_id`), its
    /// field `index` (the field's place in the key's [`CONTEXT`] fields and in a
    /// [`Parent`]; the column's slot is the parent's index in [`Layout::keys`]).
    Context { key: &'static str, index: usize },
}

#[derive(Clone, Debug)]
enum Render {
    Plain,
    Localized,
    /// The label of the code, from its enum.
    Label(Labeler),
    Json,
    /// `;`-separated; the fields of object elements `:`-separated.
    List(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    source: Source,
    render: Render,
    /// The cell of the item this column is made from (see [`Source`]).
    slot: usize,
}

/// A schema's columns and the cells of an item they are made from.
#[derive(Debug)]
pub struct Layout {
    pub columns: Vec<Column>,
    slots: Slots,
    /// The context's parent keys and their cells.
    keys: Vec<(&'static str, usize)>,
}

/// A context column: the field of the parent's lookup (also the column's name) and the
/// enum of its label, if it has one.
type ContextField = (&'static str, Option<&'static str>);

/// The context columns a parent key brings.
const CONTEXT: &[(&str, &[ContextField])] = &[
    (
        "ledger_id",
        &[
            ("office_id", None),
            ("office_code", None),
            ("ledger_fund", Some("Fund")),
            ("ledger_fund_code", None),
            ("ledger_fiscal_year", None),
        ],
    ),
    (
        "project_id",
        &[("project_code", None), ("office_code", None)],
    ),
    ("office_id", &[("office_code", None)]),
    ("department_id", &[("department_code", None)]),
    ("mandate_id", &[("mandate_reference", None)]),
];

/// The OpenAPI document, whose response schemas lay out the CSV columns. It is assembled
/// at the top floor, from every resource, which this floor does not see: the top hands
/// it down with `inventory::submit! { formats::Document(document) }`.
pub struct Document(pub fn() -> &'static utoipa::openapi::OpenApi);

inventory::collect!(Document);

fn document() -> &'static utoipa::openapi::OpenApi {
    let source = inventory::iter::<Document>
        .into_iter()
        .next()
        .expect("the app floor hands down the OpenAPI document");
    (source.0)()
}

fn component(name: &str) -> Option<&'static Schema> {
    match document().components.as_ref()?.schemas.get(name)? {
        RefOr::T(s) => Some(s),
        RefOr::Ref(r) => component(ref_name(r)),
    }
}

fn ref_name(r: &Ref) -> &str {
    r.ref_location.rsplit('/').next().unwrap_or_default()
}

fn is_null(s: &RefOr<Schema>) -> bool {
    matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The schema a property stands for, with the component's name when it is a reference
/// (`Option<T>` is `oneOf: [T, null]`).
fn resolve(s: &'static RefOr<Schema>) -> Option<(Option<&'static str>, &'static Schema)> {
    match s {
        RefOr::Ref(r) => {
            let name = ref_name(r);
            Some((Some(name), component(name)?))
        }
        RefOr::T(Schema::OneOf(o)) => o.items.iter().find(|i| !is_null(i)).and_then(resolve),
        RefOr::T(Schema::AnyOf(o)) => o.items.iter().find(|i| !is_null(i)).and_then(resolve),
        RefOr::T(Schema::AllOf(o)) if o.items.len() == 1 => resolve(&o.items[0]),
        RefOr::T(s) => Some((None, s)),
    }
}

fn is_object_type(t: &SchemaType) -> bool {
    match t {
        SchemaType::Type(t) => *t == Type::Object,
        SchemaType::Array(ts) => ts.contains(&Type::Object),
        SchemaType::AnyValue => true,
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if prefix == name || prefix.ends_with(&format!("_{name}")) {
        // `amount.amount` is `amount`, not `amount_amount`.
        prefix.to_owned()
    } else {
        format!("{prefix}_{name}")
    }
}

fn walk(schema: &'static Schema, prefix: &str, path: &[String], out: &mut Vec<Column>) {
    let Schema::Object(obj) = schema else {
        return;
    };
    for (name, prop) in &obj.properties {
        let col = join(prefix, name);
        let mut p = path.to_vec();
        p.push(name.clone());
        let item = |render| Column {
            name: col.clone(),
            source: Source::Item(p.clone()),
            render,
            slot: 0,
        };
        match resolve(prop) {
            Some((Some("LocalizedText"), _)) => out.push(item(Render::Localized)),
            Some((r, Schema::Object(o))) if o.enum_values.is_some() => {
                out.push(item(Render::Plain));
                if let Some(labeler) = r.and_then(crate::core::enums::labeler) {
                    out.push(Column {
                        name: format!("{col}_label"),
                        source: Source::Item(p.clone()),
                        render: Render::Label(labeler),
                        slot: 0,
                    });
                }
            }
            Some((_, s @ Schema::Object(o))) if !o.properties.is_empty() => walk(s, &col, &p, out),
            Some((_, Schema::Object(o))) if is_object_type(&o.schema_type) => {
                out.push(item(Render::Json))
            }
            Some((_, Schema::Array(a))) => {
                let fields = match &a.items {
                    ArrayItems::RefOrSchema(i) => match resolve(i) {
                        Some((_, Schema::Object(o))) => o.properties.keys().cloned().collect(),
                        _ => Vec::new(),
                    },
                    ArrayItems::False => Vec::new(),
                };
                out.push(item(Render::List(fields)))
            }
            _ => out.push(item(Render::Plain)),
        }
        if path.is_empty()
            && let Some((key, fields)) = CONTEXT.iter().find(|(k, _)| *k == name)
        {
            for (index, (field, labels)) in fields.iter().enumerate() {
                let source = Source::Context { key, index };
                out.push(Column {
                    name: (*field).to_owned(),
                    source: source.clone(),
                    render: Render::Plain,
                    slot: 0,
                });
                if let Some(labeler) = labels.and_then(crate::core::enums::labeler) {
                    out.push(Column {
                        name: format!("{field}_label"),
                        source,
                        render: Render::Label(labeler),
                        slot: 0,
                    });
                }
            }
        }
    }
}

impl Layout {
    /// The columns and the cells they are made from.
    fn new(mut columns: Vec<Column>) -> Layout {
        let mut slots = Slots::default();
        let mut keys = Vec::new();
        for c in &mut columns {
            c.slot = match &c.source {
                Source::Item(path) => slots.slot(path),
                Source::Context { key, .. } => {
                    let slot = slots.slot(&[(*key).to_owned()]);
                    keys.iter()
                        .position(|k| *k == (*key, slot))
                        .unwrap_or_else(|| {
                            keys.push((*key, slot));
                            keys.len() - 1
                        })
                }
            };
        }
        Layout {
            columns,
            slots,
            keys,
        }
    }
}

/// The columns of the schema named `schema`, derived once.
pub fn layout(schema: &str) -> Arc<Layout> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Layout>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("not poisoned").get(schema) {
        return c.clone();
    }
    let mut columns = Vec::new();
    if let Some(s) = component(schema) {
        walk(s, "", &[], &mut columns);
    }
    let mut seen = HashSet::new();
    columns.retain(|c| seen.insert(c.name.clone()));
    let out = Arc::new(Layout::new(columns));
    cache
        .lock()
        .expect("not poisoned")
        .insert(schema.to_owned(), out.clone());
    out
}

// ---------------------------------------------------------------------------------
// Context

/// Parents' context fields: parent key → parent id → fields. The parents of one batch
/// of rows, or those an export has read so far (see [`Encoder::context`]).
#[derive(Default)]
pub struct Context(HashMap<&'static str, HashMap<Uuid, Parent>>);

/// One parent's context fields, in the order of its key's [`CONTEXT`] fields (shared
/// between an export's batches; an array, not a map, because an export may keep tens of
/// thousands: a map with its own keys was ~500 bytes a parent, 22 MB for four exports).
type Parent = Arc<[Value]>;

/// The parents of a batch (`ids`) from those already `known` and those just `found`;
/// `found` is then kept in `known`, which is emptied first when it would pass `bound`
/// (after the batch's own parents were taken from it).
fn remember(
    known: &mut HashMap<Uuid, Parent>,
    ids: &HashSet<Uuid>,
    found: HashMap<Uuid, Parent>,
    bound: usize,
) -> HashMap<Uuid, Parent> {
    let batch = ids
        .iter()
        .filter_map(|id| Some((*id, known.get(id).or_else(|| found.get(id))?.clone())))
        .collect();
    if known.len() + found.len() > bound {
        known.clear();
    }
    known.extend(found);
    batch
}

/// Parents an export keeps between its batches, per kind of parent, before it forgets
/// them all and starts over (a bound on its memory: a parent is a few hundred bytes).
const KNOWN_PARENTS: usize = 20_000;

async fn lookup(
    conn: &AsyncPgConnection,
    key: &str,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Map<String, Value>>, ApiError> {
    let obj = |pairs: Vec<(&str, Value)>| -> Map<String, Value> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    Ok(match key {
        "office_id" => offices::table
            .filter(offices::id.eq_any(ids))
            .select((offices::id, offices::code))
            .load::<(Uuid, String)>(&mut { conn })
            .await?
            .into_iter()
            .map(|(id, code)| (id, obj(vec![("office_code", code.into())])))
            .collect(),
        "department_id" => departments::table
            .filter(departments::id.eq_any(ids))
            .select((departments::id, departments::code))
            .load::<(Uuid, String)>(&mut { conn })
            .await?
            .into_iter()
            .map(|(id, code)| (id, obj(vec![("department_code", code.into())])))
            .collect(),
        "mandate_id" => mandates::table
            .filter(mandates::id.eq_any(ids))
            .select((mandates::id, mandates::reference))
            .load::<(Uuid, String)>(&mut { conn })
            .await?
            .into_iter()
            .map(|(id, r)| (id, obj(vec![("mandate_reference", r.into())])))
            .collect(),
        "project_id" => projects::table
            .inner_join(offices::table)
            .filter(projects::id.eq_any(ids))
            .select((projects::id, projects::code, offices::code))
            .load::<(Uuid, String, String)>(&mut { conn })
            .await?
            .into_iter()
            .map(|(id, code, office)| {
                (
                    id,
                    obj(vec![
                        ("project_code", code.into()),
                        ("office_code", office.into()),
                    ]),
                )
            })
            .collect(),
        "ledger_id" => ledgers::table
            .inner_join(offices::table)
            .filter(ledgers::id.eq_any(ids))
            .select((
                ledgers::id,
                ledgers::office_id,
                offices::code,
                ledgers::fund,
                ledgers::fund_code,
                ledgers::fiscal_year,
            ))
            .load::<(Uuid, Uuid, String, String, Option<String>, i32)>(&mut { conn })
            .await?
            .into_iter()
            .map(|(id, office_id, office, fund, fund_code, year)| {
                (
                    id,
                    obj(vec![
                        ("office_id", office_id.to_string().into()),
                        ("office_code", office.into()),
                        ("ledger_fund", fund.into()),
                        ("ledger_fund_code", fund_code.into()),
                        ("ledger_fiscal_year", year.into()),
                    ]),
                )
            })
            .collect(),
        _ => HashMap::new(),
    })
}

// ---------------------------------------------------------------------------------
// Encoding

/// Writes rows of one schema as CSV in the caller's languages.
pub struct Encoder {
    layout: Arc<Layout>,
    lang: Lang,
    pub data_lang: &'static str,
    bom: bool,
}

impl Encoder {
    pub fn new(schema: &str, req: &HttpRequest, bom: bool) -> Encoder {
        Encoder {
            layout: layout(schema),
            lang: Lang::negotiate(req),
            data_lang: data_language(req),
            bom,
        }
    }

    /// The cells of `items` the columns are made from.
    pub fn flatten<T: Serialize>(&self, items: &[T]) -> Flat {
        let mut flat = Flat::new(&self.layout.slots, items.len());
        for item in items {
            flat.push(&self.layout.slots, item)
                .expect("item serializes");
        }
        flat
    }

    pub fn needs_context(&self) -> bool {
        !self.layout.keys.is_empty()
    }

    /// The parents of `rows`: those not in `known` are read (one query per kind of
    /// parent) and added to it. An export passes the same `known` to every batch, so a
    /// parent is read once an export, not once a batch (its snapshot does not change);
    /// a one-off caller passes an empty one.
    pub async fn context(
        &self,
        conn: &AsyncPgConnection,
        rows: &Flat,
        known: &mut Context,
    ) -> Result<Context, ApiError> {
        let mut ctx = Context::default();
        for &(key, slot) in &self.layout.keys {
            let ids: HashSet<Uuid> = (0..rows.len())
                .filter_map(|r| match rows.get(r, slot) {
                    CellRef::Str(s) => s.parse().ok(),
                    _ => None,
                })
                .collect();
            if ids.is_empty() {
                continue;
            }
            let known = known.0.entry(key).or_default();
            let missing: Vec<Uuid> = ids
                .iter()
                .filter(|id| !known.contains_key(id))
                .copied()
                .collect();
            let found = if missing.is_empty() {
                HashMap::new()
            } else {
                let fields = CONTEXT
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(&[][..], |(_, f)| *f);
                lookup(conn, key, missing)
                    .await?
                    .into_iter()
                    .map(|(id, mut m)| {
                        let parent: Parent = fields
                            .iter()
                            .map(|(f, _)| m.remove(*f).unwrap_or(Value::Null))
                            .collect();
                        (id, parent)
                    })
                    .collect()
            };
            ctx.0
                .insert(key, remember(known, &ids, found, KNOWN_PARENTS));
        }
        Ok(ctx)
    }

    fn writer<W: std::io::Write>(out: W) -> ::csv::Writer<W> {
        ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(out)
    }

    /// The byte order mark when asked for, and the header row.
    pub fn header(&self) -> Vec<u8> {
        let mut w = Self::writer(Vec::new());
        w.write_record(self.layout.columns.iter().map(|c| c.name.as_str()))
            .expect("writing to memory");
        let mut out = if self.bom { BOM.to_vec() } else { Vec::new() };
        out.extend(w.into_inner().expect("writing to memory"));
        out
    }

    /// The rows, RFC 4180 quoted, CRLF-terminated, appended to `out`.
    pub fn write_rows(&self, out: &mut Vec<u8>, rows: &Flat, ctx: &Context) {
        // The cells' text, a separator a cell, and a little for quotes and prefixes.
        out.reserve(rows.text_len() + rows.len() * self.layout.columns.len() * 2);
        let mut w = Self::writer(out);
        let mut parents = Vec::new();
        for row in 0..rows.len() {
            self.parents(rows, row, ctx, &mut parents);
            for col in &self.layout.columns {
                w.write_field(neutralize_formula(self.cell(col, rows, row, &parents)).as_bytes())
                    .expect("writing to memory");
            }
            w.write_record(None::<&[u8]>).expect("writing to memory");
        }
        w.flush().expect("writing to memory");
    }

    /// The parents of row `row`, in the order of [`Layout::keys`] (each looked up once a
    /// row, whatever the number of its columns).
    fn parents<'a>(
        &self,
        rows: &Flat,
        row: usize,
        ctx: &'a Context,
        out: &mut Vec<Option<&'a [Value]>>,
    ) {
        out.clear();
        out.extend(
            self.layout
                .keys
                .iter()
                .map(|(key, slot)| match rows.get(row, *slot) {
                    CellRef::Str(s) => {
                        let id = s.parse::<Uuid>().ok()?;
                        ctx.0.get(key)?.get(&id).map(|p| &**p)
                    }
                    _ => None,
                }),
        );
    }

    fn cell<'a>(
        &self,
        col: &Column,
        rows: &'a Flat,
        row: usize,
        parents: &[Option<&'a [Value]>],
    ) -> Cow<'a, str> {
        let cell = match &col.source {
            Source::Item(_) => rows.get(row, col.slot),
            Source::Context { index, .. } => parents[col.slot]
                .and_then(|p| p.get(*index))
                .map_or(CellRef::Null, CellRef::Value),
        };
        match (cell, &col.render) {
            (CellRef::Null, _) => Cow::Borrowed(""),
            (CellRef::Str(s), Render::Plain) => Cow::Borrowed(s),
            (CellRef::Str(s), Render::Label(labeler)) => {
                Cow::Borrowed(labeler(s, self.lang).unwrap_or_default())
            }
            (CellRef::Str(s), Render::Json) => Cow::Owned(Value::from(s).to_string()),
            (CellRef::Lit(s), Render::Plain | Render::Json) => Cow::Borrowed(s),
            (CellRef::Str(_) | CellRef::Lit(_), _) => Cow::Borrowed(""),
            (CellRef::Value(v), render) => self.render_value(render, v),
        }
    }

    /// A cell from a value that is not a scalar (or from the context). Text the value
    /// already holds is borrowed, not copied: every row of an export has a few such
    /// cells (a parent's code or fund, a localized title).
    fn render_value<'a>(&self, render: &Render, value: &'a Value) -> Cow<'a, str> {
        if value.is_null() {
            return Cow::Borrowed("");
        }
        match render {
            Render::Plain => match value {
                Value::String(s) => Cow::Borrowed(s),
                other => Cow::Owned(scalar(other)),
            },
            Render::Localized => Cow::Borrowed(
                std::iter::once(self.data_lang)
                    .chain(["en", "es", "fr", "pt"])
                    .find_map(|l| value.get(l).and_then(|v| v.as_str()))
                    .unwrap_or_default(),
            ),
            Render::Label(labeler) => Cow::Borrowed(
                value
                    .as_str()
                    .and_then(|code| labeler(code, self.lang))
                    .unwrap_or_default(),
            ),
            Render::Json => Cow::Owned(value.to_string()),
            Render::List(fields) => Cow::Owned(
                value
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                if fields.is_empty() || !i.is_object() {
                                    scalar(i)
                                } else {
                                    fields
                                        .iter()
                                        .map(|f| i.get(f).map(scalar).unwrap_or_default())
                                        .collect::<Vec<_>>()
                                        .join(":")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .unwrap_or_default(),
            ),
        }
    }
}

/// A text cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading `'`, which spreadsheets show as text
/// (OWASP's advice against CSV injection). Numbers, such as a negative amount, stay as
/// they are: a spreadsheet reads them as numbers, not formulas.
fn neutralize_formula(cell: Cow<'_, str>) -> Cow<'_, str> {
    let risky = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    if risky && !is_number(&cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

/// A plain decimal number: an optional sign, digits, and optional decimals.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        other => other.to_string(),
    }
}

/// Declares the concrete JSON type of a page of `$item` (utoipa gives every instance of
/// a generic type the same schema name, so each list has its own).
#[macro_export]
macro_rules! page_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The items of this page, in the requested order.
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl $name {
            /// The page as JSON, or as CSV when asked for (see [`crate::formats`]).
            pub fn respond(
                page: $crate::core::pagination::Page<$item>,
                req: &actix_web::HttpRequest,
            ) -> actix_web::HttpResponse {
                $crate::formats::respond_page(page, req, |items, next_cursor| $name {
                    items,
                    next_cursor,
                })
            }
        }
    };
}

pub use crate::page_type;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveDate, TimeZone};
    use serde_json::json;

    use super::*;

    #[derive(Serialize)]
    struct Amount {
        amount: String,
        currency: &'static str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Expense,
        FundReceipt,
        Pair(i32, i32),
    }

    #[derive(Serialize)]
    struct Party {
        name: String,
        share: f64,
    }

    #[derive(Serialize)]
    struct Wrapper(i32);

    /// Every shape a schema's columns meet: scalars of each kind, absent values, nested
    /// and absent objects, codes with labels, localized texts, lists of scalars and of
    /// objects, free-form JSON (an object or a scalar), skipped and unwanted fields, a
    /// flattened map, and values that are not what the column expects.
    #[derive(Serialize)]
    struct Item {
        id: Uuid,
        parent_id: Option<Uuid>,
        seq: i64,
        big: u64,
        ratio: f64,
        not_finite: f64,
        flag: bool,
        letter: char,
        kind: Kind,
        category: Option<Kind>,
        pair: Kind,
        day: NaiveDate,
        at: DateTime<Utc>,
        amount: Amount,
        fee: Option<Amount>,
        title: BTreeMap<&'static str, String>,
        tags: Vec<String>,
        parties: Vec<Party>,
        before: Option<Value>,
        note: Value,
        unit: (),
        wrapped: Wrapper,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<String>,
        unwanted: Vec<String>,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    }

    fn kind_label(code: &str, _: Lang) -> Option<&'static str> {
        match code {
            "expense" => Some("Gasto"),
            "fund_receipt" => Some("Ingreso de fondos"),
            _ => None,
        }
    }

    fn items() -> Vec<Item> {
        let full = Item {
            id: Uuid::from_u128(1),
            parent_id: Some(Uuid::from_u128(2)),
            seq: -42,
            big: u64::MAX,
            ratio: 0.1 + 0.2,
            not_finite: f64::NAN,
            flag: true,
            letter: 'é',
            kind: Kind::Expense,
            category: Some(Kind::FundReceipt),
            pair: Kind::Pair(1, 2),
            day: NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
            at: Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 1).unwrap(),
            amount: Amount {
                amount: "-1250.50".into(),
                currency: "USD",
            },
            fee: Some(Amount {
                amount: "3.00".into(),
                currency: "PEN",
            }),
            title: BTreeMap::from([("en", "Water".into()), ("es", "Agua, \"pura\"".into())]),
            tags: vec!["a".into(), "=b".into()],
            parties: vec![
                Party {
                    name: "Uno".into(),
                    share: 0.5,
                },
                Party {
                    name: "Dos".into(),
                    share: 1e21,
                },
            ],
            before: Some(json!({"status": "draft", "n": [1, 2]})),
            note: json!("a \"quoted\" note"),
            unit: (),
            wrapped: Wrapper(7),
            skipped: Some("kept".into()),
            unwanted: vec!["x".into()],
            extra: BTreeMap::from([
                ("x_code".to_owned(), json!("X-1")),
                ("x_obj".to_owned(), json!({"k": 5, "deep": {"k": "v"}})),
            ]),
        };
        let empty = Item {
            id: Uuid::from_u128(3),
            parent_id: None,
            seq: 0,
            big: 0,
            ratio: -0.0,
            not_finite: f64::INFINITY,
            flag: false,
            letter: '\n',
            kind: Kind::FundReceipt,
            category: None,
            pair: Kind::Expense,
            day: NaiveDate::MIN,
            at: DateTime::<Utc>::MIN_UTC,
            amount: Amount {
                amount: "0".into(),
                currency: "",
            },
            fee: None,
            title: BTreeMap::from([("fr", "Eau".into())]),
            tags: vec![],
            parties: vec![],
            before: None,
            note: json!(12.5),
            unit: (),
            wrapped: Wrapper(-1),
            skipped: None,
            unwanted: vec![],
            extra: BTreeMap::new(),
        };
        vec![full, empty]
    }

    fn column(name: &str, render: Render) -> Column {
        Column {
            name: name.to_owned(),
            source: Source::Item(name.split('.').map(str::to_owned).collect()),
            render,
            slot: 0,
        }
    }

    /// The cell as the encoder made it before items were flattened: the item turned into
    /// a `Value`, the column's path looked up in it.
    fn cell_from_value(enc: &Encoder, col: &Column, item: &Value, ctx: &Context) -> String {
        let value = match &col.source {
            Source::Item(path) => path.iter().try_fold(item, |v, k| v.get(k)),
            Source::Context { key, index, .. } => item
                .get(*key)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Uuid>().ok())
                .and_then(|id| ctx.0.get(key)?.get(&id)?.get(*index)),
        };
        value
            .map(|v| enc.render_value(&col.render, v).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn a_batch_keeps_its_known_parents_when_the_kept_ones_are_forgotten() {
        let id = Uuid::from_u128;
        let parent = |code: &str| -> Parent { Arc::from([json!(code)]) };
        let mut known = HashMap::from([(id(1), parent("A")), (id(2), parent("B"))]);
        // Within the bound: the batch's parents from both, the new one kept.
        let batch = remember(
            &mut known,
            &HashSet::from([id(1), id(3)]),
            HashMap::from([(id(3), parent("C"))]),
            4,
        );
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[&id(1)][0], "A");
        assert_eq!(batch[&id(3)][0], "C");
        assert_eq!(known.len(), 3);
        // Past it: the kept ones are forgotten, but not before the batch took its own.
        let batch = remember(
            &mut known,
            &HashSet::from([id(2), id(4), id(5)]),
            HashMap::from([(id(4), parent("D")), (id(5), parent("E"))]),
            4,
        );
        assert_eq!(batch.len(), 3, "every parent of the batch");
        assert_eq!(batch[&id(2)][0], "B");
        assert_eq!(
            known.keys().collect::<HashSet<_>>(),
            HashSet::from([&id(4), &id(5)])
        );
        // A parent that does not exist is simply absent.
        let batch = remember(&mut known, &HashSet::from([id(9)]), HashMap::new(), 4);
        assert!(batch.is_empty());
    }

    #[test]
    fn flattened_cells_are_the_cells_of_the_items_json() {
        use Render::*;
        let label = || Label(kind_label as Labeler);
        let mut columns = vec![
            column("id", Plain),
            column("parent_id", Plain),
            Column {
                name: "parent_code".into(),
                source: Source::Context {
                    key: "parent_id",
                    index: 0,
                },
                render: Plain,
                slot: 0,
            },
        ];
        for (name, render) in [
            ("seq", Plain),
            ("big", Plain),
            ("ratio", Plain),
            ("not_finite", Plain),
            ("flag", Plain),
            ("letter", Plain),
            ("kind", Plain),
            ("kind", label()),
            ("category", Plain),
            ("category", label()),
            ("pair", Plain),
            ("pair", label()),
            ("day", Plain),
            ("at", Plain),
            ("amount.amount", Plain),
            ("amount.currency", Plain),
            ("fee.amount", Plain),
            ("fee.currency", label()),
            ("title", Localized),
            ("tags", List(vec![])),
            ("parties", List(vec!["name".into(), "share".into()])),
            ("before", Json),
            ("note", Json),
            ("unit", Plain),
            ("wrapped", Plain),
            ("skipped", Plain),
            ("x_code", Plain),
            ("x_obj.k", Plain),
            ("x_obj.deep", Json),
            ("x_obj.missing", Plain),
            ("absent", Plain),
            ("seq.below_a_scalar", Plain),
        ] {
            columns.push(column(name, render));
        }
        // Renders that do not fit the value: a number or a list as a label, a string as
        // a localized text or a list, a number as JSON.
        for (name, render) in [
            ("wrapped", label()),
            ("tags", label()),
            ("note", Localized),
            ("letter", List(vec![])),
            ("seq", Json),
            ("parties", Plain),
        ] {
            let mut c = column(name, render);
            c.name = format!("{name}_as_other");
            columns.push(c);
        }
        let enc = Encoder {
            layout: Arc::new(Layout::new(columns)),
            lang: Lang::Es,
            data_lang: "es",
            bom: false,
        };
        let mut ctx = Context::default();
        ctx.0.insert(
            "parent_id",
            HashMap::from([(Uuid::from_u128(2), Arc::from([json!("P-2")]))]),
        );
        let items = items();
        let flat = enc.flatten(&items);
        assert_eq!(flat.len(), items.len());
        let mut parents = Vec::new();
        for (row, item) in items.iter().enumerate() {
            let value = serde_json::to_value(item).unwrap();
            enc.parents(&flat, row, &ctx, &mut parents);
            for col in &enc.layout.columns {
                assert_eq!(
                    enc.cell(col, &flat, row, &parents),
                    cell_from_value(&enc, col, &value, &ctx),
                    "row {row}, column {}",
                    col.name
                );
            }
        }
        // And the cells are what a reader expects (a few, spelled out).
        let mut text = Vec::new();
        enc.write_rows(&mut text, &flat, &ctx);
        let text = String::from_utf8(text).unwrap();
        let first = text.lines().next().unwrap();
        for expected in [
            "00000000-0000-0000-0000-000000000001",
            ",P-2,-42,18446744073709551615,0.30000000000000004,,true,é,expense,Gasto,",
            "fund_receipt,Ingreso de fondos,\"{\"\"pair\"\":[1,2]}\",,2026-02-28,",
            "2026-11-29T12:00:01Z,-1250.50,USD,3.00,,\"Agua, \"\"pura\"\"\",a;=b,",
            "Uno:0.5;Dos:1e+21,\"{\"\"status\"\":\"\"draft\"\",\"\"n\"\":[1,2]}\",",
            "\"\"\"a \\\"\"quoted\\\"\" note\"\"\",,7,kept,X-1,5,\"{\"\"k\"\":\"\"v\"\"}\",,,,",
        ] {
            assert!(first.contains(expected), "{expected} in {first}");
        }
    }

    #[test]
    fn formulas_are_neutralized_and_numbers_are_not() {
        for (cell, out) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("-1250.50", "-1250.50"),
            ("+7", "+7"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("Water - Peru", "Water - Peru"),
            ("", ""),
        ] {
            assert_eq!(neutralize_formula(cell.into()), out, "{cell:?}");
        }
    }
}
