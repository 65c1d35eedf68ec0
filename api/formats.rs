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

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

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

use crate::AppState;
use crate::error::ApiError;
use crate::i18n::{Lang, data_language};
use crate::pagination::{Page, decode};
use crate::schema::{departments, ledgers, mandates, offices, projects};
use crate::{sync, text};

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
    /// The sync watermark of a request with `updated_since` (see [`crate::sync`]).
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
    if let Some(link) = page.link_header(req) {
        res.insert_header(link);
    }
    match format {
        Format::Csv => {
            let rows: Vec<Value> = page
                .items
                .iter()
                .map(|i| serde_json::to_value(i).expect("item serializes"))
                .collect();
            let encoder = Encoder::new(&T::name(), req, n.bom);
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
    rows: Vec<Value>,
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
            let mut conn = state.pool.get().await?;
            pending.encoder.context(&mut conn, &pending.rows).await?
        } else {
            Context::default()
        };
        let mut bytes = pending.encoder.header();
        bytes.extend(pending.encoder.rows(&pending.rows, &ctx));
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
    /// A value of the item, by its path.
    Item(Vec<String>),
    /// A value of the item's context: the parent named by `key` (`ledger_id`), `field`.
    Context {
        key: &'static str,
        field: &'static str,
    },
}

#[derive(Clone, Debug)]
enum Render {
    Plain,
    Localized,
    /// The label of the code, from this enum.
    Label(String),
    Json,
    /// `;`-separated; the fields of object elements `:`-separated.
    List(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    source: Source,
    render: Render,
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

fn component(name: &str) -> Option<&'static Schema> {
    match crate::openapi::document()
        .components
        .as_ref()?
        .schemas
        .get(name)?
    {
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
        };
        match resolve(prop) {
            Some((Some("LocalizedText"), _)) => out.push(item(Render::Localized)),
            Some((r, Schema::Object(o))) if o.enum_values.is_some() => {
                out.push(item(Render::Plain));
                if let Some(r) = r.filter(|r| crate::enums::has_labels(r)) {
                    out.push(Column {
                        name: format!("{col}_label"),
                        source: Source::Item(p.clone()),
                        render: Render::Label(r.to_owned()),
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
            for (field, labels) in fields.iter() {
                let source = Source::Context { key, field };
                out.push(Column {
                    name: (*field).to_owned(),
                    source: source.clone(),
                    render: Render::Plain,
                });
                if let Some(e) = labels {
                    out.push(Column {
                        name: format!("{field}_label"),
                        source,
                        render: Render::Label((*e).to_owned()),
                    });
                }
            }
        }
    }
}

/// The columns of the schema named `schema`, derived once.
pub fn columns(schema: &str) -> std::sync::Arc<Vec<Column>> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::sync::Arc<Vec<Column>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("not poisoned").get(schema) {
        return c.clone();
    }
    let mut out = Vec::new();
    if let Some(s) = component(schema) {
        walk(s, "", &[], &mut out);
    }
    let mut seen = HashSet::new();
    out.retain(|c| seen.insert(c.name.clone()));
    let out = std::sync::Arc::new(out);
    cache
        .lock()
        .expect("not poisoned")
        .insert(schema.to_owned(), out.clone());
    out
}

// ---------------------------------------------------------------------------------
// Context

/// The parents of a batch of rows: parent key → parent id → context fields.
#[derive(Default)]
pub struct Context(HashMap<&'static str, HashMap<Uuid, Map<String, Value>>>);

async fn lookup(
    conn: &mut AsyncPgConnection,
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
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, code)| (id, obj(vec![("office_code", code.into())])))
            .collect(),
        "department_id" => departments::table
            .filter(departments::id.eq_any(ids))
            .select((departments::id, departments::code))
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, code)| (id, obj(vec![("department_code", code.into())])))
            .collect(),
        "mandate_id" => mandates::table
            .filter(mandates::id.eq_any(ids))
            .select((mandates::id, mandates::reference))
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, r)| (id, obj(vec![("mandate_reference", r.into())])))
            .collect(),
        "project_id" => projects::table
            .inner_join(offices::table)
            .filter(projects::id.eq_any(ids))
            .select((projects::id, projects::code, offices::code))
            .load::<(Uuid, String, String)>(conn)
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
            .load::<(Uuid, Uuid, String, String, Option<String>, i32)>(conn)
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
    columns: std::sync::Arc<Vec<Column>>,
    lang: Lang,
    pub data_lang: &'static str,
    bom: bool,
}

impl Encoder {
    pub fn new(schema: &str, req: &HttpRequest, bom: bool) -> Encoder {
        Encoder {
            columns: columns(schema),
            lang: Lang::negotiate(req),
            data_lang: data_language(req),
            bom,
        }
    }

    fn keys(&self) -> HashSet<&'static str> {
        self.columns
            .iter()
            .filter_map(|c| match c.source {
                Source::Context { key, .. } => Some(key),
                Source::Item(_) => None,
            })
            .collect()
    }

    pub fn needs_context(&self) -> bool {
        !self.keys().is_empty()
    }

    /// Reads the parents of `rows` (one query per kind of parent).
    pub async fn context(
        &self,
        conn: &mut AsyncPgConnection,
        rows: &[Value],
    ) -> Result<Context, ApiError> {
        let mut ctx = Context::default();
        for key in self.keys() {
            let ids: HashSet<Uuid> = rows
                .iter()
                .filter_map(|r| r.get(key)?.as_str()?.parse().ok())
                .collect();
            if ids.is_empty() {
                continue;
            }
            ctx.0
                .insert(key, lookup(conn, key, ids.into_iter().collect()).await?);
        }
        Ok(ctx)
    }

    fn writer() -> ::csv::Writer<Vec<u8>> {
        ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(Vec::new())
    }

    /// The byte order mark when asked for, and the header row.
    pub fn header(&self) -> Vec<u8> {
        let mut w = Self::writer();
        w.write_record(self.columns.iter().map(|c| c.name.as_str()))
            .expect("writing to memory");
        let mut out = if self.bom { BOM.to_vec() } else { Vec::new() };
        out.extend(w.into_inner().expect("writing to memory"));
        out
    }

    /// The rows, RFC 4180 quoted, CRLF-terminated.
    pub fn rows(&self, rows: &[Value], ctx: &Context) -> Vec<u8> {
        let mut w = Self::writer();
        for row in rows {
            w.write_record(
                self.columns
                    .iter()
                    .map(|c| neutralize_formula(self.cell(c, row, ctx))),
            )
            .expect("writing to memory");
        }
        w.into_inner().expect("writing to memory")
    }

    fn cell(&self, col: &Column, row: &Value, ctx: &Context) -> String {
        let value = match &col.source {
            Source::Item(path) => path.iter().try_fold(row, |v, k| v.get(k)),
            Source::Context { key, field } => row
                .get(*key)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Uuid>().ok())
                .and_then(|id| ctx.0.get(key)?.get(&id)?.get(*field)),
        };
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return String::new();
        };
        match &col.render {
            Render::Plain => scalar(value),
            Render::Localized => {
                let mut order = vec![self.data_lang];
                order.extend(["en", "es", "fr", "pt"]);
                order
                    .iter()
                    .find_map(|l| value.get(*l).and_then(|v| v.as_str()))
                    .unwrap_or_default()
                    .to_owned()
            }
            Render::Label(e) => value
                .as_str()
                .and_then(|code| crate::enums::label(e, code, self.lang))
                .unwrap_or_default()
                .to_owned(),
            Render::Json => value.to_string(),
            Render::List(fields) => value
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
        }
    }
}

/// A text cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading `'`, which spreadsheets show as text
/// (OWASP's advice against CSV injection). Numbers, such as a negative amount, stay as
/// they are: a spreadsheet reads them as numbers, not formulas.
fn neutralize_formula(cell: String) -> String {
    let risky = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    if risky && !is_number(&cell) {
        format!("'{cell}")
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

#[cfg(test)]
mod tests {
    use super::neutralize_formula;

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
            assert_eq!(neutralize_formula(cell.to_owned()), out, "{cell:?}");
        }
    }
}
