//! `GET /v1/exports/iati-activities.xml`: the projects as IATI Activity Standard 2.03
//! activities, for publication to the IATI Registry.
//!
//! ## Mapping
//! - `iati-identifier`: `{reporting-org ref}-{project code}`. The reporting
//!   organisation's ref comes from `OGSMS_IATI_REPORTING_ORG_REF` (default
//!   `XI-IATI-OAS`); it is the prefix of every identifier, so set it once and never
//!   change it after publishing.
//! - `reporting-org`: the OAS (type 40, multilateral), named in en/es/fr/pt.
//! - `title` and `description` (type 1, general): one `narrative` per language the
//!   project has, each with its `xml:lang`. A project without a description is described
//!   by its title (IATI requires a description).
//! - `participating-org`: role 1 Funding = the donor of a specific or trust fund (the
//!   OAS itself for the Regular Fund and the other institutional funds); role 2
//!   Accountable = the responsible HQ Secretariat or Department; role 3 Extending = the
//!   country office; role 4 Implementing = each executing agency (the lead first), its
//!   IATI organisation type from its kind. OAS units carry the reporting org's ref.
//! - `activity-status`: pipeline and approved → 1, active → 2, completed → 3, closed →
//!   4, cancelled → 5, suspended → 6.
//! - `activity-date`: the start (type 2 actual once the project is active, suspended,
//!   completed or closed; type 1 planned while in pipeline or approved, and for a
//!   cancelled project, which may never have started) and, when known, the end (type 4
//!   actual once completed or closed, else type 3 planned).
//! - `recipient-country`: the member state of the project's office, 100 %.
//! - `sector`: the project's OECD DAC 5-digit sectors (vocabulary 1) with their
//!   percentages, and its OAS pillar as vocabulary 99 (the reporting organisation's
//!   own), 100 %, named in en/es/fr/pt.
//! - `budget`: one per budget line (type 1 original or 2 revised; status 1 indicative
//!   while in pipeline, else 2 committed), value dated at the period's start. A project
//!   without budget lines has its budget split pro rata by days into the calendar years
//!   of its dates (type 1, status 1 indicative), so that no budget covers more than a
//!   year (IATI rule 7.5.3) and every year it runs has one; without an end date it has no
//!   budget element (IATI budgets need a period end).
//! - Organisation identifiers: a donor's (`donor_org_identifier`) and an executing
//!   agency's (`org_identifier`) are the `@ref` of their `participating-org` and of a
//!   transaction's `receiver-org`.
//! - `transaction`: from the ledger entries tagged to the project, in US dollars,
//!   `ref` the entry's id, `value-date` the entry's date (the date its rate was taken):
//!   allocations → type 2 (outgoing commitment); expenses → type 4 (expenditure);
//!   refunds → type 4 with a negative value; a reversal → the type of the entry it
//!   reverses, with the opposite sign, on the reversal's date (so the file keeps the
//!   history and each period nets correctly). Adjustments (and their reversals) are
//!   neither and are left out. Entries dated after today are left out until their day
//!   (IATI rule 11.2.1: no transaction in the future). The `provider-org` is the OAS (the
//!   reporting organisation's ref); an expenditure paid to an executing agency names it
//!   as `receiver-org`. Descriptions are the category's label, never the entry's own
//!   text.
//!
//! ## Who gets what
//! The activities are published data: every role, viewers included, gets every
//! activity. Transactions are ledger entries, so each caller gets those of the finance
//! it may see (`Caller::finance_scope`): the Coordinating Office and auditors all of
//! them; an office those in its own ledgers; an HQ department those of its projects;
//! viewers none. Publish with a coordinator's or an auditor's token.
//!
//! The document is streamed, a batch of projects at a time.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::FinanceScope;
use crate::core::error::ApiError;
use crate::core::i18n::Lang;
use crate::core::localized::LocalizedText;
use crate::core::money::{self, Money};
use crate::core::validate;
use crate::db::DbConn;
use crate::db::schema::{departments, offices, projects};
use crate::resources::agencies::AgencyKind;
use crate::resources::ledgers::{Category, EntryKind};
use crate::resources::projects::iati_fields;
use crate::resources::projects::{BudgetLineStatus, FundingSource, Pillar, ProjectStatus};
use crate::resources::shared::iati as codelists;
use crate::state::AppState;

/// The default IATI organisation identifier of the OAS as reporting organisation.
pub const DEFAULT_REPORTING_ORG_REF: &str = "XI-IATI-OAS";

/// The reporting organisation's IATI ref: `OGSMS_IATI_REPORTING_ORG_REF`, or
/// [`DEFAULT_REPORTING_ORG_REF`].
pub fn reporting_org_ref() -> &'static str {
    static REF: OnceLock<String> = OnceLock::new();
    REF.get_or_init(|| {
        std::env::var("OGSMS_IATI_REPORTING_ORG_REF")
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_REPORTING_ORG_REF.to_owned())
    })
}

const OAS_NAME: [(&str, &str); 4] = [
    ("en", "Organization of American States"),
    ("es", "Organización de los Estados Americanos"),
    ("fr", "Organisation des États Américains"),
    ("pt", "Organização dos Estados Americanos"),
];

/// IATI OrganisationType 40: multilateral.
const MULTILATERAL: &str = "40";

/// Projects per streamed batch.
const BATCH: i64 = 100;

/// The IATI ActivityStatus code of a project status.
pub fn activity_status(s: ProjectStatus) -> &'static str {
    match s {
        ProjectStatus::Pipeline | ProjectStatus::Approved => "1",
        ProjectStatus::Active => "2",
        ProjectStatus::Completed => "3",
        ProjectStatus::Closed => "4",
        ProjectStatus::Cancelled => "5",
        ProjectStatus::Suspended => "6",
    }
}

/// The IATI OrganisationType code of an executing agency's kind.
fn organisation_type(k: AgencyKind) -> &'static str {
    match k {
        AgencyKind::Government => "10",
        AgencyKind::Ngo => "22",
        AgencyKind::Academic => "80",
        AgencyKind::InternationalOrganization => "40",
        AgencyKind::PrivateSector => "70",
        AgencyKind::Other => "90",
    }
}

/// A pillar's name in the four languages (the narrative of its vocabulary-99 sector).
fn pillar_names(p: Pillar) -> [(&'static str, &'static str); 4] {
    match p {
        Pillar::Democracy => [
            ("en", "Democracy"),
            ("es", "Democracia"),
            ("fr", "Démocratie"),
            ("pt", "Democracia"),
        ],
        Pillar::HumanRights => [
            ("en", "Human rights"),
            ("es", "Derechos humanos"),
            ("fr", "Droits de la personne"),
            ("pt", "Direitos humanos"),
        ],
        Pillar::IntegralDevelopment => [
            ("en", "Integral development"),
            ("es", "Desarrollo integral"),
            ("fr", "Développement intégré"),
            ("pt", "Desenvolvimento integral"),
        ],
        Pillar::MultidimensionalSecurity => [
            ("en", "Multidimensional security"),
            ("es", "Seguridad multidimensional"),
            ("fr", "Sécurité multidimensionnelle"),
            ("pt", "Segurança multidimensional"),
        ],
        Pillar::LegalCooperation => [
            ("en", "Legal cooperation"),
            ("es", "Cooperación jurídica"),
            ("fr", "Coopération juridique"),
            ("pt", "Cooperação jurídica"),
        ],
    }
}

/// A budget of `minor` units over `[start, end]` split pro rata by days into the
/// calendar years it touches: each piece rounded down at the cumulative share, so the
/// pieces sum to the budget exactly.
fn pro_rata(start: NaiveDate, end: NaiveDate, minor: i64) -> Vec<(NaiveDate, NaiveDate, i64)> {
    use chrono::Datelike;
    let mut pieces = Vec::new();
    let mut from = start;
    while from <= end {
        let year_end = NaiveDate::from_ymd_opt(from.year(), 12, 31).expect("Dec 31");
        let to = year_end.min(end);
        pieces.push((from, to));
        match to.succ_opt() {
            Some(next) => from = next,
            None => break,
        }
    }
    let total_days = i128::from((end - start).num_days() + 1);
    let mut done_days = 0i128;
    let mut done = 0i64;
    pieces
        .into_iter()
        .map(|(s, e)| {
            done_days += i128::from((e - s).num_days() + 1);
            let upto = i64::try_from(i128::from(minor) * done_days / total_days).unwrap_or(minor);
            let piece = upto - done;
            done = upto;
            (s, e, piece)
        })
        .collect()
}

/// Query parameters of the IATI export.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IatiQuery {
    /// Only projects of these offices (ids), comma-separated.
    pub office_id: Option<String>,
    /// Only projects in these statuses, comma-separated.
    pub status: Option<String>,
}

struct Filters {
    office_ids: Option<Vec<Uuid>>,
    statuses: Option<Vec<&'static str>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: Uuid,
    code: String,
    title: serde_json::Value,
    description: Option<serde_json::Value>,
    office_id: Uuid,
    department_id: Uuid,
    status: String,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    budget_amount: i64,
    budget_currency: String,
    funding_source: String,
    donor: Option<String>,
    updated_at: DateTime<Utc>,
    pillar: String,
    sectors: serde_json::Value,
    budget_lines: serde_json::Value,
    donor_org_identifier: Option<String>,
}

struct Org {
    name: LocalizedText,
    member_state: String,
}

#[derive(diesel::QueryableByName)]
struct AgencyRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    name: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    org_identifier: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct TransactionRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    category: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Date)]
    entry_date: NaiveDate,
    #[diesel(sql_type = BigInt)]
    effect_minor: i64,
    #[diesel(sql_type = Nullable<Text>)]
    reversed_kind: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    payee_kind: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Jsonb>)]
    payee_name: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    payee_org_identifier: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

/// An entry as an IATI transaction: its type code and signed value (USD minor units);
/// none for entries that are neither commitments nor expenditures.
fn transaction_of(kind: EntryKind, reversed: Option<EntryKind>, effect: i64) -> Option<(u8, i64)> {
    let base = match kind {
        EntryKind::Reversal => reversed?,
        k => k,
    };
    match base {
        // Effect +amount for an allocation, −amount for its reversal.
        EntryKind::Allocation => Some((2, effect)),
        // Effect −amount for an expense, +amount for a refund; the other way round for
        // their reversals. Spending is the opposite of the effect.
        EntryKind::Expense | EntryKind::Refund => Some((4, -effect)),
        EntryKind::Adjustment | EntryKind::Reversal => None,
    }
}

/// Where the export is.
#[derive(PartialEq, Eq)]
enum Phase {
    Start,
    Body,
    Done,
}

/// Writes the document a batch of projects at a time.
struct Exporter {
    conn: DbConn,
    filters: Filters,
    scope: FinanceScope,
    generated_at: DateTime<Utc>,
    offices: HashMap<Uuid, Org>,
    departments: HashMap<Uuid, LocalizedText>,
    after: Option<String>,
    phase: Phase,
}

fn io_error(e: std::io::Error) -> ApiError {
    log::error!("writing the IATI document: {e}");
    ApiError::internal()
}

fn narratives(w: &mut Writer<Vec<u8>>, text: &LocalizedText) -> std::io::Result<()> {
    for (lang, value) in text.values() {
        w.create_element("narrative")
            .with_attribute(("xml:lang", lang))
            .write_text_content(BytesText::new(value))?;
    }
    Ok(())
}

fn oas_narratives(w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
    for (lang, value) in OAS_NAME {
        w.create_element("narrative")
            .with_attribute(("xml:lang", lang))
            .write_text_content(BytesText::new(value))?;
    }
    Ok(())
}

fn labels(w: &mut Writer<Vec<u8>>, en: &str, es: &str) -> std::io::Result<()> {
    w.create_element("narrative")
        .with_attribute(("xml:lang", "en"))
        .write_text_content(BytesText::new(en))?;
    w.create_element("narrative")
        .with_attribute(("xml:lang", "es"))
        .write_text_content(BytesText::new(es))?;
    Ok(())
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl Exporter {
    async fn new(
        mut conn: DbConn,
        filters: Filters,
        scope: FinanceScope,
    ) -> Result<Exporter, ApiError> {
        let offices: HashMap<Uuid, Org> = offices::table
            .select((offices::id, offices::name, offices::member_state))
            .load::<(Uuid, serde_json::Value, String)>(&mut conn)
            .await?
            .into_iter()
            .map(|(id, name, member_state)| {
                (
                    id,
                    Org {
                        name: LocalizedText::from_json(name),
                        member_state,
                    },
                )
            })
            .collect();
        let departments: HashMap<Uuid, LocalizedText> = departments::table
            .select((departments::id, departments::name))
            .load::<(Uuid, serde_json::Value)>(&mut conn)
            .await?
            .into_iter()
            .map(|(id, name)| (id, LocalizedText::from_json(name)))
            .collect();
        Ok(Exporter {
            conn,
            filters,
            scope,
            generated_at: Utc::now(),
            offices,
            departments,
            after: None,
            phase: Phase::Start,
        })
    }

    /// The next piece of the document; none once it is complete.
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        if self.phase == Phase::Done {
            return Ok(None);
        }
        let mut w = Writer::new(Vec::new());
        if self.phase == Phase::Start {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
                .map_err(io_error)?;
            w.get_mut().push(b'\n');
            let generated = self.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
            w.write_event(Event::Start(
                BytesStart::new("iati-activities").with_attributes([
                    ("version", "2.03"),
                    ("generated-datetime", generated.as_str()),
                ]),
            ))
            .map_err(io_error)?;
            w.get_mut().push(b'\n');
            self.phase = Phase::Body;
        }
        let mut q = projects::table
            .select(ProjectRow::as_select())
            .order(projects::code.asc())
            .limit(BATCH)
            .into_boxed();
        if let Some(v) = &self.filters.office_ids {
            q = q.filter(projects::office_id.eq_any(v.clone()));
        }
        if let Some(v) = &self.filters.statuses {
            q = q.filter(projects::status.eq_any(v.clone()));
        }
        if let Some(after) = &self.after {
            q = q.filter(projects::code.gt(after.clone()));
        }
        let rows: Vec<ProjectRow> = q.load(&mut self.conn).await?;
        let last_batch = (rows.len() as i64) < BATCH;
        self.after = rows.last().map(|r| r.code.clone());
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut agencies: HashMap<Uuid, Vec<AgencyRow>> = HashMap::new();
        let mut transactions: HashMap<Uuid, Vec<TransactionRow>> = HashMap::new();
        if !ids.is_empty() {
            let found: Vec<AgencyRow> = diesel::sql_query(
                "SELECT pa.project_id, a.kind, a.name, a.org_identifier FROM project_agencies pa \
                   JOIN executing_agencies a ON a.id = pa.agency_id \
                  WHERE pa.project_id = ANY($1) \
                  ORDER BY pa.project_id, pa.role, pa.agency_id",
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
            .load(&mut self.conn)
            .await?;
            for a in found {
                agencies.entry(a.project_id).or_default().push(a);
            }
            let (all, office, department) = match self.scope {
                FinanceScope::All => (true, None, None),
                FinanceScope::Office(o) => (true, Some(o), None),
                FinanceScope::Department(d) => (true, None, Some(d)),
                FinanceScope::Nothing => (false, None, None),
            };
            if all {
                let found: Vec<TransactionRow> = diesel::sql_query(
                    "SELECT e.id, e.project_id, e.kind, e.category, e.entry_date, e.effect_minor, \
                            r.kind AS reversed_kind, a.kind AS payee_kind, a.name AS payee_name, \
                            a.org_identifier AS payee_org_identifier, e.created_at \
                       FROM ledger_entries e \
                       JOIN ledgers l ON l.id = e.ledger_id \
                       JOIN projects p ON p.id = e.project_id \
                       LEFT JOIN ledger_entries r ON r.id = e.reverses_entry_id \
                       LEFT JOIN executing_agencies a ON a.id = e.payee_agency_id \
                      WHERE e.project_id = ANY($1) \
                        AND e.kind <> 'adjustment' \
                        AND e.entry_date <= current_date \
                        AND ($2::uuid IS NULL OR l.office_id = $2) \
                        AND ($3::uuid IS NULL OR p.department_id = $3) \
                      ORDER BY e.project_id, e.entry_date, e.created_at, e.id",
                )
                .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
                .bind::<Nullable<diesel::sql_types::Uuid>, _>(office)
                .bind::<Nullable<diesel::sql_types::Uuid>, _>(department)
                .load(&mut self.conn)
                .await?;
                for t in found {
                    transactions.entry(t.project_id).or_default().push(t);
                }
            }
        }
        for p in rows {
            let a = agencies.remove(&p.id).unwrap_or_default();
            let t = transactions.remove(&p.id).unwrap_or_default();
            self.activity(&mut w, &p, &a, &t).map_err(io_error)?;
            w.get_mut().push(b'\n');
        }
        if last_batch {
            w.write_event(Event::End(BytesEnd::new("iati-activities")))
                .map_err(io_error)?;
            w.get_mut().push(b'\n');
            self.phase = Phase::Done;
        }
        Ok(Some(w.into_inner()))
    }

    fn activity(
        &self,
        w: &mut Writer<Vec<u8>>,
        p: &ProjectRow,
        agencies: &[AgencyRow],
        transactions: &[TransactionRow],
    ) -> std::io::Result<()> {
        let org_ref = reporting_org_ref();
        let status = ProjectStatus::from_db(&p.status);
        let updated = transactions
            .iter()
            .map(|t| t.created_at)
            .fold(p.updated_at, DateTime::max)
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let identifier = format!("{org_ref}-{}", p.code);
        let title = LocalizedText::from_json(p.title.clone());
        let description = p
            .description
            .clone()
            .map(LocalizedText::from_json)
            .filter(|d| d.values().next().is_some())
            .unwrap_or_else(|| title.clone());
        let office = self.offices.get(&p.office_id);
        let department = self.departments.get(&p.department_id);
        w.create_element("iati-activity")
            .with_attributes([
                ("last-updated-datetime", updated.as_str()),
                ("xml:lang", "en"),
                ("default-currency", "USD"),
                ("hierarchy", "1"),
            ])
            .write_inner_content(|w| {
                w.create_element("iati-identifier")
                    .write_text_content(BytesText::new(&identifier))?;
                w.create_element("reporting-org")
                    .with_attributes([("ref", org_ref), ("type", MULTILATERAL)])
                    .write_inner_content(oas_narratives)?;
                w.create_element("title")
                    .write_inner_content(|w| narratives(w, &title))?;
                w.create_element("description")
                    .with_attribute(("type", "1"))
                    .write_inner_content(|w| narratives(w, &description))?;
                // 1 Funding.
                let funding = FundingSource::from_db(&p.funding_source);
                match (&p.donor, funding.has_donor()) {
                    (Some(donor), true) => {
                        let mut e = w
                            .create_element("participating-org")
                            .with_attribute(("role", "1"));
                        if let Some(r) = &p.donor_org_identifier {
                            e = e.with_attribute(("ref", r.as_str()));
                        }
                        e.write_inner_content(|w| {
                            w.create_element("narrative")
                                .write_text_content(BytesText::new(donor))?;
                            Ok(())
                        })?;
                    }
                    _ => {
                        w.create_element("participating-org")
                            .with_attributes([
                                ("role", "1"),
                                ("ref", org_ref),
                                ("type", MULTILATERAL),
                            ])
                            .write_inner_content(oas_narratives)?;
                    }
                }
                // 2 Accountable, 3 Extending.
                for (role, name) in [("2", department), ("3", office.map(|o| &o.name))] {
                    w.create_element("participating-org")
                        .with_attributes([("role", role), ("ref", org_ref), ("type", MULTILATERAL)])
                        .write_inner_content(|w| match name {
                            Some(n) => narratives(w, n),
                            None => oas_narratives(w),
                        })?;
                }
                // 4 Implementing.
                for a in agencies {
                    let name = LocalizedText::from_json(a.name.clone());
                    let mut e = w
                        .create_element("participating-org")
                        .with_attribute(("role", "4"));
                    if let Some(r) = &a.org_identifier {
                        e = e.with_attribute(("ref", r.as_str()));
                    }
                    e.with_attribute(("type", organisation_type(AgencyKind::from_db(&a.kind))))
                        .write_inner_content(|w| narratives(w, &name))?;
                }
                w.create_element("activity-status")
                    .with_attribute(("code", activity_status(status)))
                    .write_empty()?;
                // A cancelled project may never have started: its dates stay planned.
                let started = !matches!(
                    status,
                    ProjectStatus::Pipeline | ProjectStatus::Approved | ProjectStatus::Cancelled
                );
                let starts_on = iso(p.starts_on);
                w.create_element("activity-date")
                    .with_attributes([
                        ("type", if started { "2" } else { "1" }),
                        ("iso-date", starts_on.as_str()),
                    ])
                    .write_empty()?;
                if let Some(end) = p.ends_on {
                    let ended = matches!(status, ProjectStatus::Completed | ProjectStatus::Closed);
                    let ends_on = iso(end);
                    w.create_element("activity-date")
                        .with_attributes([
                            ("type", if ended { "4" } else { "3" }),
                            ("iso-date", ends_on.as_str()),
                        ])
                        .write_empty()?;
                }
                if let Some(o) = office {
                    w.create_element("recipient-country")
                        .with_attributes([("code", o.member_state.trim()), ("percentage", "100")])
                        .write_empty()?;
                }
                for sector in iati_fields::sectors_from_json(p.sectors.clone()) {
                    let name = codelists::sectors()
                        .get(&sector.code)
                        .map(|i| i.name.as_str())
                        .unwrap_or("");
                    w.create_element("sector")
                        .with_attributes([
                            ("vocabulary", "1"),
                            ("code", sector.code.as_str()),
                            ("percentage", sector.percentage.as_str()),
                        ])
                        .write_inner_content(|w| {
                            if !name.is_empty() {
                                w.create_element("narrative")
                                    .with_attribute(("xml:lang", "en"))
                                    .write_text_content(BytesText::new(name))?;
                            }
                            Ok(())
                        })?;
                }
                let pillar = Pillar::from_db(&p.pillar);
                w.create_element("sector")
                    .with_attributes([
                        ("vocabulary", "99"),
                        ("code", pillar.as_str()),
                        ("percentage", "100"),
                    ])
                    .write_inner_content(|w| {
                        for (lang, value) in pillar_names(pillar) {
                            w.create_element("narrative")
                                .with_attribute(("xml:lang", lang))
                                .write_text_content(BytesText::new(value))?;
                        }
                        Ok(())
                    })?;
                let budget = Money::from_db(p.budget_amount, &p.budget_currency);
                let committed = if status == ProjectStatus::Pipeline {
                    "1"
                } else {
                    "2"
                };
                let lines =
                    iati_fields::lines_from_json(p.budget_lines.clone(), &p.budget_currency);
                let budgets: Vec<(NaiveDate, NaiveDate, String, &str, &str)> = if lines.is_empty() {
                    p.ends_on
                        .map(|end| {
                            pro_rata(p.starts_on, end, budget.minor)
                                .into_iter()
                                .map(|(s, e, minor)| {
                                    let m = Money {
                                        minor,
                                        currency: budget.currency,
                                    };
                                    (s, e, m.amount_string(), "1", "1")
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                } else {
                    lines
                        .into_iter()
                        .map(|l| {
                            let kind = match l.status {
                                BudgetLineStatus::Original => "1",
                                BudgetLineStatus::Revised => "2",
                            };
                            (
                                l.period_start,
                                l.period_end,
                                l.amount.amount,
                                kind,
                                committed,
                            )
                        })
                        .collect()
                };
                for (start, end, amount, kind, budget_status) in budgets {
                    let (start, end) = (iso(start), iso(end));
                    w.create_element("budget")
                        .with_attributes([("type", kind), ("status", budget_status)])
                        .write_inner_content(|w| {
                            w.create_element("period-start")
                                .with_attribute(("iso-date", start.as_str()))
                                .write_empty()?;
                            w.create_element("period-end")
                                .with_attribute(("iso-date", end.as_str()))
                                .write_empty()?;
                            w.create_element("value")
                                .with_attributes([
                                    ("currency", budget.currency.code),
                                    ("value-date", start.as_str()),
                                ])
                                .write_text_content(BytesText::new(&amount))?;
                            Ok(())
                        })?;
                }
                for t in transactions {
                    self.transaction(w, t)?;
                }
                Ok(())
            })?;
        Ok(())
    }

    fn transaction(&self, w: &mut Writer<Vec<u8>>, t: &TransactionRow) -> std::io::Result<()> {
        let kind = EntryKind::from_db(&t.kind);
        let reversed = t.reversed_kind.as_deref().map(EntryKind::from_db);
        let Some((code, value)) = transaction_of(kind, reversed, t.effect_minor) else {
            return Ok(());
        };
        let id = t.id.to_string();
        let date = iso(t.entry_date);
        let amount = money::format_decimal(value, 2);
        let code = code.to_string();
        w.create_element("transaction")
            .with_attribute(("ref", id.as_str()))
            .write_inner_content(|w| {
                w.create_element("transaction-type")
                    .with_attribute(("code", code.as_str()))
                    .write_empty()?;
                w.create_element("transaction-date")
                    .with_attribute(("iso-date", date.as_str()))
                    .write_empty()?;
                w.create_element("value")
                    .with_attributes([("currency", "USD"), ("value-date", date.as_str())])
                    .write_text_content(BytesText::new(&amount))?;
                w.create_element("description").write_inner_content(|w| {
                    match t.category.as_deref().map(Category::from_db) {
                        Some(c) => labels(w, c.label(Lang::En), c.label(Lang::Es)),
                        None => labels(
                            w,
                            EntryKind::Allocation.label(Lang::En),
                            EntryKind::Allocation.label(Lang::Es),
                        ),
                    }
                })?;
                w.create_element("provider-org")
                    .with_attributes([("ref", reporting_org_ref()), ("type", MULTILATERAL)])
                    .write_inner_content(oas_narratives)?;
                if code == "4"
                    && let (Some(kind), Some(name)) = (&t.payee_kind, &t.payee_name)
                {
                    let name = LocalizedText::from_json(name.clone());
                    let mut e = w.create_element("receiver-org");
                    if let Some(r) = &t.payee_org_identifier {
                        e = e.with_attribute(("ref", r.as_str()));
                    }
                    e.with_attribute(("type", organisation_type(AgencyKind::from_db(kind))))
                        .write_inner_content(|w| narratives(w, &name))?;
                }
                Ok(())
            })?;
        Ok(())
    }
}

/// The projects as IATI 2.03 activities (XML).
///
/// Every role gets every activity (published data); the transactions, which are ledger
/// entries, are those of the finance the caller may see, so viewers get none. Projects
/// map onto activities as described in the API's introduction: identifier
/// `{OGSMS_IATI_REPORTING_ORG_REF}-{project code}`, participating organisations
/// (1 funding: the donor, 2 accountable: the HQ department, 3 extending: the office,
/// 4 implementing: the executing agencies), activity status, dates, recipient country,
/// budget, and transactions (2 commitments from allocations, 4 expenditures from
/// expenses, refunds and reversals negative). Streamed in batches of projects.
#[utoipa::path(
    context_path = "/exports",
    tag = "Exports",
    params(IatiQuery),
    responses(
        (status = 200, description = "An `iati-activities` document (IATI 2.03); its `generated-datetime` is when it was written",
         content_type = "application/xml", body = String,
         headers(("OGSMS-As-Of" = String, description = "What the document is as of: the data's watermark (RFC 3339); every change committed before it is in the document"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/iati-activities.xml")]
pub async fn iati_activities(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<IatiQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_statistics()?;
    let filters = Filters {
        office_ids: validate::param_uuids("office_id", query.office_id.as_deref())?,
        statuses: query
            .status
            .as_deref()
            .map(|s| ProjectStatus::parse_filter("status", s))
            .transpose()?,
    };
    let mut conn = state.read_pool().get().await?;
    // Before the first batch: every change committed before it is in the document.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let mut exporter = Exporter::new(conn, filters, caller.finance_scope()).await?;
    // The first batch before the status line, so that a failure there is a problem.
    let first = exporter.chunk().await?;
    let stream =
        futures_util::stream::unfold((exporter, first), |(mut exporter, pending)| async move {
            let next = match pending {
                Some(bytes) => Ok(Some(bytes)),
                None => exporter.chunk().await,
            };
            match next {
                Ok(Some(bytes)) => Some((
                    Ok::<_, std::io::Error>(web::Bytes::from(bytes)),
                    (exporter, None),
                )),
                Ok(None) => None,
                Err(e) => {
                    // The status line is sent: all that is left is to cut the body short.
                    exporter.phase = Phase::Done;
                    Some((Err(std::io::Error::other(e.to_string())), (exporter, None)))
                }
            }
        });
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header(crate::reports::as_of_header(as_of))
        .streaming(stream))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/exports")
        .handler_decides()
        .service(iati_activities);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_iati_activity_statuses() {
        use ProjectStatus::*;
        let got: Vec<(ProjectStatus, &str)> = ProjectStatus::ALL
            .iter()
            .map(|s| (*s, activity_status(*s)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Pipeline, "1"),
                (Approved, "1"),
                (Active, "2"),
                (Suspended, "6"),
                (Completed, "3"),
                (Closed, "4"),
                (Cancelled, "5"),
            ]
        );
    }

    #[test]
    fn budgets_split_pro_rata_into_calendar_years() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let got = pro_rata(d("2025-07-01"), d("2027-06-30"), 1_000_001);
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0, got[0].1), (d("2025-07-01"), d("2025-12-31")));
        assert_eq!((got[2].0, got[2].1), (d("2027-01-01"), d("2027-06-30")));
        assert_eq!(got.iter().map(|p| p.2).sum::<i64>(), 1_000_001);
        // 184 of 730 days, 365 of 730, 181 of 730.
        assert_eq!(got[0].2, 1_000_001 * 184 / 730);
        assert!(got.iter().all(|(s, e, _)| (*e - *s).num_days() <= 365));
        assert_eq!(
            pro_rata(d("2026-03-01"), d("2026-03-01"), 5),
            vec![(d("2026-03-01"), d("2026-03-01"), 5)]
        );
    }

    #[test]
    fn entries_map_onto_commitments_and_expenditures() {
        use EntryKind::*;
        assert_eq!(transaction_of(Allocation, None, 500), Some((2, 500)));
        assert_eq!(
            transaction_of(Reversal, Some(Allocation), -500),
            Some((2, -500))
        );
        assert_eq!(transaction_of(Expense, None, -300), Some((4, 300)));
        assert_eq!(
            transaction_of(Reversal, Some(Expense), 300),
            Some((4, -300))
        );
        assert_eq!(transaction_of(Refund, None, 100), Some((4, -100)));
        assert_eq!(transaction_of(Reversal, Some(Refund), -100), Some((4, 100)));
        assert_eq!(transaction_of(Adjustment, None, 100), None);
        assert_eq!(transaction_of(Reversal, Some(Adjustment), -100), None);
    }
}
