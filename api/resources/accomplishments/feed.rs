//! The public feed of published events and accomplishments, for the OAS's web pages and
//! newsletters: no token needed, cacheable (`ETag`, `Cache-Control: public`), JSON or
//! Atom (RFC 4287).
//!
//! `GET /v1/feeds/accomplishments` answers JSON, or Atom when `Accept` prefers
//! `application/atom+xml`; `GET /v1/feeds/accomplishments.atom` always answers Atom (for
//! feed readers that send no `Accept`). Newest first (`occurred_on`, then id), paged with
//! `limit` and `cursor` (Atom: `<link rel="next">`, RFC 5005). Atom titles and texts are
//! in the `Accept-Language` language when the item has it (English, then any other,
//! otherwise), each entry marked with its `xml:lang`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{AccomplishmentKind, AccomplishmentRow, Links};
use crate::core::error::ApiError;
use crate::core::http::etag_of;
use crate::core::i18n::{Lang, data_language, text};
use crate::core::localized::LocalizedText;
use crate::core::pagination::{self, Cursor, Page};
use crate::core::validate;
use crate::db::schema::{accomplishment_projects, accomplishments, offices};
use crate::state::AppState;

/// The Atom media type.
pub const ATOM: &str = "application/atom+xml";
/// How long a cache may keep the feed.
const MAX_AGE_SECS: u32 = 300;
/// The order of the feed (the cursor's sort name).
const ORDER: &str = "-occurred_on";
/// Namespace of the feeds' ids (`urn:uuid:`, one per set of filters).
const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x6f67_736d_7300_4000_8000_6665_6564_0001);

/// A published item, as the feed shows it.
#[derive(Serialize, ToSchema)]
pub struct FeedItem {
    pub id: Uuid,
    pub office_id: Uuid,
    #[schema(example = "OGSMS-PE")]
    pub office_code: String,
    /// The office's member state (ISO 3166-1 alpha-2).
    #[schema(example = "PE")]
    pub member_state: String,
    pub occurred_on: NaiveDate,
    pub kind: AccomplishmentKind,
    pub title: LocalizedText,
    pub text: LocalizedText,
    #[schema(max_items = 50)]
    pub project_ids: Vec<Uuid>,
    #[schema(max_items = 50)]
    pub mandate_ids: Vec<Uuid>,
    #[schema(max_items = 50)]
    pub agency_ids: Vec<Uuid>,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of the public feed.
#[derive(Serialize, ToSchema)]
pub struct AccomplishmentFeed {
    /// When the newest change of any published item was made (absent when none is).
    pub updated: Option<DateTime<Utc>>,
    #[schema(max_items = 500)]
    pub items: Vec<FeedItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query parameters of the feed.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Offices, comma-separated ids.
    pub office_id: Option<String>,
    /// The offices' member states, comma-separated ISO 3166-1 alpha-2 codes.
    #[param(example = "PE,CO")]
    pub member_state: Option<String>,
    /// Kinds, comma-separated.
    #[param(example = "event,agreement_signed")]
    pub kind: Option<String>,
    /// Only items linked to one of these projects (comma-separated ids).
    pub project_id: Option<String>,
    /// Only items that occurred on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// Only items that occurred on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
}

/// Reads the feed: the page, and the newest change of any published item.
async fn read(
    state: &AppState,
    query: &FeedQuery,
    req: &HttpRequest,
) -> Result<(AccomplishmentFeed, String), ApiError> {
    // Public: the rate limit is per address.
    let peer = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("unknown")
        .to_owned();
    let remaining =
        crate::db::limits::spend(&state.limits, &state.pool, &format!("feed-peer:{peer}")).await?;
    req.extensions_mut().insert(remaining);
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            let c = Cursor::decode(c, ORDER)?;
            Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id))
        })
        .transpose()?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let member_states = validate::param_codes(
        "member_state",
        query.member_state.as_deref(),
        validate::is_alpha2,
    )?;
    let kinds = query
        .kind
        .as_deref()
        .map(|s| AccomplishmentKind::parse_filter("kind", s))
        .transpose()?;
    let project_ids = validate::param_uuids("project_id", query.project_id.as_deref())?;
    let from = validate::param_date("from", query.from.as_deref())?;
    let to = validate::param_date("to", query.to.as_deref())?;

    let mut conn = state.pool.get().await?;
    let mut q = accomplishments::table
        .filter(accomplishments::status.eq("published"))
        .select(AccomplishmentRow::as_select())
        .into_boxed();
    if let Some(v) = office_ids {
        q = q.filter(accomplishments::office_id.eq_any(v));
    }
    if let Some(v) = member_states {
        q = q.filter(
            accomplishments::office_id.eq_any(
                offices::table
                    .filter(offices::member_state.eq_any(v))
                    .select(offices::id),
            ),
        );
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
    let q = crate::core::pagination::keyset!(
        q,
        accomplishments::occurred_on,
        accomplishments::id,
        true,
        after
    );
    let rows: Vec<AccomplishmentRow> = q.limit(limit + 1).load(&mut conn).await?;
    let updated: Option<DateTime<Utc>> = accomplishments::table
        .filter(accomplishments::status.eq("published"))
        .select(diesel::dsl::max(accomplishments::updated_at))
        .first(&mut conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let office_of: HashMap<Uuid, (String, String)> = offices::table
        .filter(offices::id.eq_any(rows.iter().map(|r| r.office_id).collect::<Vec<_>>()))
        .select((offices::id, offices::code, offices::member_state))
        .load::<(Uuid, String, String)>(&mut conn)
        .await?
        .into_iter()
        .map(|(id, code, ms)| (id, (code, ms)))
        .collect();
    let links = Links::load(&mut conn, &ids).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: ORDER.to_owned(),
        value: serde_json::json!(r.occurred_on),
        id: r.id,
    })
    .map(|r| {
        let (office_code, member_state) = office_of.get(&r.office_id).cloned().unwrap_or_default();
        let item = links.build(r);
        FeedItem {
            id: item.id,
            office_id: item.office_id,
            office_code,
            member_state: member_state.trim().to_owned(),
            occurred_on: item.occurred_on,
            kind: item.kind,
            title: item.title,
            text: item.text,
            project_ids: item.project_ids,
            mandate_ids: item.mandate_ids,
            agency_ids: item.agency_ids,
            published_at: item.published_at.unwrap_or(item.updated_at),
            updated_at: item.updated_at,
        }
    });
    // The feed's identity: its filters, whatever their order or the page.
    let mut filters: Vec<String> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = p.split('=').next().unwrap_or("");
            !matches!(k, "limit" | "cursor" | "format" | "bom")
        })
        .map(str::to_owned)
        .collect();
    filters.sort();
    let key = filters.join("&");
    Ok((
        AccomplishmentFeed {
            updated,
            items: page.items,
            next_cursor: page.next_cursor,
        },
        key,
    ))
}

/// The absolute URL of `path` with `query`, as the client reached the service.
fn absolute(req: &HttpRequest, path: &str, query: &str) -> String {
    let info = req.connection_info();
    if query.is_empty() {
        format!("{}://{}{path}", info.scheme(), info.host())
    } else {
        format!("{}://{}{path}?{query}", info.scheme(), info.host())
    }
}

/// The request's query with `cursor` replaced by `next`.
fn next_query(req: &HttpRequest, next: &str) -> String {
    let mut parts: Vec<String> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor"))
        .map(str::to_owned)
        .collect();
    parts.push(format!("cursor={next}"));
    parts.join("&")
}

/// A localized text in `lang`, else English, else any language: (language, value).
fn pick<'a>(t: &'a LocalizedText, lang: &str) -> (&'static str, &'a str) {
    let mut values: Vec<(&'static str, &String)> = t.values().collect();
    values.sort_by_key(|(l, _)| (*l != lang, *l != "en"));
    values
        .into_iter()
        .next()
        .map(|(l, v)| (l, v.as_str()))
        .unwrap_or(("en", ""))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn xml_error(e: std::io::Error) -> ApiError {
    log::error!("writing the Atom feed: {e}");
    ApiError::internal()
}

/// The page as an Atom 1.0 document (RFC 4287).
fn atom(page: &AccomplishmentFeed, key: &str, req: &HttpRequest) -> Result<Vec<u8>, ApiError> {
    let lang = data_language(req);
    let ui = if lang == "es" { Lang::Es } else { Lang::En };
    let self_url = absolute(req, req.path(), req.query_string());
    let json_url = absolute(req, "/v1/feeds/accomplishments", &{
        let mut q: Vec<&str> = req
            .query_string()
            .split('&')
            .filter(|p| !p.is_empty())
            .collect();
        q.retain(|p| !p.starts_with("format="));
        q.join("&")
    });
    let feed_id = Uuid::new_v5(&FEED_NAMESPACE, key.as_bytes());
    let mut w = Writer::new(Vec::new());
    let write = |w: &mut Writer<Vec<u8>>| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.write_event(Event::Start(BytesStart::new("feed").with_attributes([
            ("xmlns", "http://www.w3.org/2005/Atom"),
            ("xml:lang", lang),
        ])))?;
        w.create_element("id")
            .write_text_content(BytesText::new(&format!("urn:uuid:{feed_id}")))?;
        let title = text!(
            "Offices of the OAS General Secretariat in the Member States: events and accomplishments",
            "Oficinas de la Secretaría General de la OEA en los Estados Miembros: eventos y logros"
        );
        w.create_element("title")
            .with_attribute(("type", "text"))
            .write_text_content(BytesText::new(title.get(ui)))?;
        let updated = page.updated.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        w.create_element("updated")
            .write_text_content(BytesText::new(&rfc3339(updated)))?;
        w.create_element("author").write_inner_content(|w| {
            w.create_element("name").write_text_content(BytesText::new(
                "Coordinating Office for the Offices and Units of the General Secretariat in the Member States",
            ))?;
            Ok(())
        })?;
        w.create_element("link")
            .with_attributes([("rel", "self"), ("type", ATOM), ("href", self_url.as_str())])
            .write_empty()?;
        w.create_element("link")
            .with_attributes([
                ("rel", "alternate"),
                ("type", "application/json"),
                ("href", json_url.as_str()),
            ])
            .write_empty()?;
        if let Some(next) = &page.next_cursor {
            let href = absolute(req, req.path(), &next_query(req, next));
            w.create_element("link")
                .with_attributes([("rel", "next"), ("type", ATOM), ("href", href.as_str())])
                .write_empty()?;
        }
        for item in &page.items {
            let (title_lang, title) = pick(&item.title, lang);
            let (text_lang, body) = pick(&item.text, lang);
            w.write_event(Event::Start(
                BytesStart::new("entry").with_attributes([("xml:lang", title_lang)]),
            ))?;
            w.create_element("id")
                .write_text_content(BytesText::new(&format!("urn:uuid:{}", item.id)))?;
            w.create_element("title")
                .with_attribute(("type", "text"))
                .write_text_content(BytesText::new(title))?;
            w.create_element("updated")
                .write_text_content(BytesText::new(&rfc3339(item.updated_at)))?;
            w.create_element("published")
                .write_text_content(BytesText::new(&rfc3339(item.published_at)))?;
            w.create_element("author").write_inner_content(|w| {
                w.create_element("name")
                    .write_text_content(BytesText::new(&item.office_code))?;
                Ok(())
            })?;
            let href = absolute(req, &format!("/v1/accomplishments/{}", item.id), "");
            w.create_element("link")
                .with_attributes([
                    ("rel", "alternate"),
                    ("type", "application/json"),
                    ("href", href.as_str()),
                ])
                .write_empty()?;
            w.create_element("category")
                .with_attributes([
                    ("term", item.kind.as_str()),
                    ("label", item.kind.label(ui)),
                    ("scheme", "https://www.oas.org/ogsms/accomplishment-kinds"),
                ])
                .write_empty()?;
            w.create_element("category")
                .with_attributes([
                    ("term", item.member_state.as_str()),
                    ("scheme", "urn:iso:std:iso:3166:-1:alpha-2"),
                ])
                .write_empty()?;
            w.create_element("summary")
                .with_attributes([("type", "text")])
                .write_text_content(BytesText::new(&format!(
                    "{} · {} · {}",
                    item.occurred_on, item.office_code, title
                )))?;
            w.create_element("content")
                .with_attributes([("type", "text"), ("xml:lang", text_lang)])
                .write_text_content(BytesText::new(body))?;
            w.write_event(Event::End(BytesEnd::new("entry")))?;
        }
        w.write_event(Event::End(BytesEnd::new("feed")))?;
        Ok(())
    };
    write(&mut w).map_err(xml_error)?;
    Ok(w.into_inner())
}

/// Whether `Accept` prefers Atom to JSON.
fn wants_atom(req: &HttpRequest) -> bool {
    let mut atom_q = 0.0f32;
    let mut json_q = 0.0f32;
    for value in req.headers().get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                ATOM | "application/xml" | "text/xml" => atom_q = atom_q.max(q),
                "application/json" => json_q = json_q.max(q),
                _ => {}
            }
        }
    }
    atom_q > 0.0 && atom_q > json_q
}

/// 200 with the body, its strong ETag and public caching; 304 when `If-None-Match`
/// names the ETag.
fn cached(req: &HttpRequest, content_type: &str, body: Vec<u8>) -> HttpResponse {
    let etag = etag_of(&body);
    let cache = format!("public, max-age={MAX_AGE_SECS}");
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "Accept, Accept-Language"));
    if matches {
        return res.finish();
    }
    res.content_type(content_type).body(body)
}

/// The public feed of published events and accomplishments.
///
/// No token needed. JSON, or Atom 1.0 (RFC 4287) when `Accept` prefers
/// `application/atom+xml` (or use `/v1/feeds/accomplishments.atom`). Newest first; the
/// filters combine. Cacheable: a strong `ETag` (`If-None-Match` gives 304) and
/// `Cache-Control: public, max-age=300`.
#[utoipa::path(
    context_path = "/feeds",
    tag = "Accomplishments",
    params(FeedQuery),
    security(()),
    responses(
        (status = 200, description = "A page of the feed",
         content(
             (AccomplishmentFeed = "application/json"),
             (String = "application/atom+xml"),
         ),
         headers(
             ("ETag" = String, description = "Entity tag of the representation"),
             ("Cache-Control" = String, description = "`public, max-age=300`"),
         )),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 429, response = crate::core::error::responses::TooManyRequests),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/accomplishments")]
pub async fn feed(
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (page, key) = read(&state, &query, &req).await?;
    if wants_atom(&req) {
        let body = atom(&page, &key, &req)?;
        return Ok(cached(&req, ATOM, body));
    }
    let mut res = cached(
        &req,
        "application/json",
        serde_json::to_vec(&page).expect("the feed serializes"),
    );
    if let Some(next) = &page.next_cursor
        && res.status().is_success()
    {
        let url = absolute(&req, req.path(), &next_query(&req, next));
        if let Ok(v) = header::HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

/// The public feed as Atom 1.0 (RFC 4287).
///
/// The same items and filters as `/v1/feeds/accomplishments`, always as
/// `application/atom+xml`: one `entry` per item (id `urn:uuid:{id}`, title and content
/// in the `Accept-Language` language when the item has it, `updated`, `published`, the
/// office as `author`, the kind and member state as `category`), and
/// `<link rel="next">` to the next page. No token needed; cacheable like the JSON.
#[utoipa::path(
    context_path = "/feeds",
    tag = "Accomplishments",
    params(FeedQuery),
    security(()),
    responses(
        (status = 200, description = "A page of the feed as Atom", content_type = "application/atom+xml", body = String,
         headers(
             ("ETag" = String, description = "Entity tag of the representation"),
             ("Cache-Control" = String, description = "`public, max-age=300`"),
         )),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 429, response = crate::core::error::responses::TooManyRequests),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/accomplishments.atom")]
pub async fn feed_atom(
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (page, key) = read(&state, &query, &req).await?;
    let body = atom(&page, &key, &req)?;
    Ok(cached(&req, ATOM, body))
}
