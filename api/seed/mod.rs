//! Demo and scale data.
//!
//! - `ogsms seed --demo` (and `ogsms serve` on an empty database) loads the reference
//!   data (Secretariats, Departments, offices from `seed/demo_reference.json`) and a
//!   realistic dataset: ~50 mandates, ~200 executing agencies, ~500 projects with their
//!   mandates, agencies and quarterly monitoring reports, and the offices' appointments.
//!   Then the money (`seed/money.rs`): every office's ledgers of the previous and the
//!   current fiscal year with a year of entries, posted through the ledgers' own checks.
//! - `ogsms seed --scale N` loads N projects (about ten reports each) with agencies and
//!   mandates in proportion, through `COPY … FROM STDIN`, for benchmarks.
//!
//! Everything is derived from a seeded PRNG and the reference data, and ids are UUID v5
//! of codes ([`demo_id`]), so the same command gives the same rows on every machine.
//! Dates are relative to a fixed "as of" date ([`AS_OF`]), not to the clock.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{Datelike, Duration, Months, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::core::localized::LocalizedText;
use crate::db::schema::{
    appointments, departments, executing_agencies, mandate_assignments, mandates, member_states,
    monitoring_reports, offices, project_agencies, project_mandates, projects,
};

pub mod money;

const DEMO_REFERENCE: &str = include_str!("demo_reference.json");
const DEMO_WORDS: &str = include_str!("demo_words.json");

/// Namespace of the demo data's UUID v5 ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f67_736d_7300_4000_8000_6465_6d6f_0001);

/// The date the generated data describes: statuses, report periods and appointments are
/// consistent as of this day.
pub const AS_OF: NaiveDate = match NaiveDate::from_ymd_opt(2026, 10, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// Rows per INSERT statement of the demo load.
const CHUNK: usize = 500;

/// The id the demo data gives to the resource of `kind` with `code`.
pub fn demo_id(kind: &str, code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{code}").as_bytes())
}

// ---------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Reference {
    departments: Vec<DemoDepartment>,
    offices: Vec<DemoOffice>,
}

#[derive(Deserialize)]
struct DemoDepartment {
    code: String,
    kind: String,
    parent_code: Option<String>,
    name: LocalizedText,
}

#[derive(Deserialize)]
struct DemoContacts {
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
}

#[derive(Deserialize)]
struct DemoOffice {
    code: String,
    kind: String,
    member_state: String,
    name: LocalizedText,
    city: String,
    address: Option<String>,
    contacts: DemoContacts,
    opened_on: NaiveDate,
}

fn reference() -> anyhow::Result<Reference> {
    Ok(serde_json::from_str(DEMO_REFERENCE)?)
}

/// Whether the database holds no office yet (a fresh database).
pub async fn is_empty(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    let n: i64 = offices::table.count().get_result(conn).await?;
    Ok(n == 0)
}

/// Inserts the departments and offices of the reference file.
async fn load_reference(conn: &mut AsyncPgConnection, reference: &Reference) -> anyhow::Result<()> {
    // Secretariats before the departments that belong to them.
    let mut ordered: Vec<&DemoDepartment> = reference.departments.iter().collect();
    ordered.sort_by_key(|d| d.parent_code.is_some());
    for d in ordered {
        diesel::insert_into(departments::table)
            .values((
                departments::id.eq(demo_id("department", &d.code)),
                departments::code.eq(&d.code),
                departments::kind.eq(&d.kind),
                departments::parent_id
                    .eq(d.parent_code.as_deref().map(|p| demo_id("department", p))),
                departments::name.eq(d.name.to_json()),
            ))
            .execute(conn)
            .await?;
    }
    let rows: Vec<_> = reference
        .offices
        .iter()
        .map(|o| {
            (
                offices::id.eq(demo_id("office", &o.code)),
                offices::code.eq(&o.code),
                offices::kind.eq(&o.kind),
                offices::member_state.eq(&o.member_state),
                offices::name.eq(o.name.to_json()),
                offices::city.eq(&o.city),
                offices::address.eq(&o.address),
                offices::email.eq(&o.contacts.email),
                offices::phone.eq(&o.contacts.phone),
                offices::website.eq(&o.contacts.website),
                offices::opened_on.eq(o.opened_on),
            )
        })
        .collect();
    diesel::insert_into(offices::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// The member states' names, by alpha-2 code (seeded by a migration).
async fn country_names(
    conn: &mut AsyncPgConnection,
) -> anyhow::Result<HashMap<String, LocalizedText>> {
    let rows: Vec<(String, Value)> = member_states::table
        .select((member_states::code, member_states::name))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(code, name)| (code, LocalizedText::from_json(name)))
        .collect())
}

// ---------------------------------------------------------------------------------------
// The PRNG
// ---------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and the same sequence on every platform and every version of
/// every crate, which is what deterministic data needs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (item, w) in items {
            if x < *w {
                return *item;
            }
            x -= w;
        }
        items[items.len() - 1].0
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.below(26) as u8))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Words {
    people: HashMap<String, Names>,
    agencies: AgencyWords,
    mandate_themes: HashMap<String, Vec<MandateTheme>>,
    project_themes: HashMap<String, Vec<ProjectTheme>>,
    donors: Vec<Donor>,
    narratives: HashMap<String, Vec<LocalizedText>>,
}

#[derive(Deserialize)]
struct Names {
    first: Vec<String>,
    last: Vec<String>,
}

#[derive(Deserialize)]
struct AgencyWords {
    government: Vec<LocalizedText>,
    ngo_prefix: Vec<LocalizedText>,
    ngo_theme: Vec<LocalizedText>,
    academic: Vec<LocalizedText>,
    international_organization: Vec<IntlOrg>,
    private_sector: Vec<LocalizedText>,
    other: Vec<LocalizedText>,
}

#[derive(Deserialize)]
struct IntlOrg {
    name: LocalizedText,
    acronym: LocalizedText,
}

#[derive(Deserialize)]
struct MandateTheme {
    title: LocalizedText,
    summary: LocalizedText,
}

#[derive(Deserialize)]
struct ProjectTheme {
    departments: Vec<String>,
    title: LocalizedText,
    description: LocalizedText,
}

#[derive(Deserialize)]
struct Donor {
    name: String,
    short: String,
}

const PILLARS: [&str; 5] = [
    "democracy",
    "human_rights",
    "integral_development",
    "multidimensional_security",
    "legal_cooperation",
];

/// A language of the localized texts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    En,
    Es,
    Fr,
    Pt,
}

fn get(t: &LocalizedText, lang: Lang) -> &str {
    let v = match lang {
        Lang::En => &t.en,
        Lang::Es => &t.es,
        Lang::Fr => &t.fr,
        Lang::Pt => &t.pt,
    };
    v.as_deref()
        .or(t.en.as_deref())
        .expect("word lists have English")
}

/// A localized text with English and the given other languages, each made by `f`.
fn localized(langs: &[Lang], mut f: impl FnMut(Lang) -> String) -> LocalizedText {
    let mut t = LocalizedText::default();
    for &lang in langs {
        let v = Some(f(lang));
        match lang {
            Lang::En => t.en = v,
            Lang::Es => t.es = v,
            Lang::Fr => t.fr = v,
            Lang::Pt => t.pt = v,
        }
    }
    t
}

/// What the generator needs to know of a member state with an office.
struct State {
    /// The official language its agencies are named in (besides English).
    lang: Lang,
    /// Which list of people's names suits it.
    people: &'static str,
    calling_code: &'static str,
}

fn state(code: &str) -> State {
    let (lang, people, calling_code) = match code {
        "AR" => (Lang::Es, "es", "54"),
        "BO" => (Lang::Es, "es", "591"),
        "CO" => (Lang::Es, "es", "57"),
        "CR" => (Lang::Es, "es", "506"),
        "DO" => (Lang::Es, "es", "1 809"),
        "SV" => (Lang::Es, "es", "503"),
        "GT" => (Lang::Es, "es", "502"),
        "HN" => (Lang::Es, "es", "504"),
        "MX" => (Lang::Es, "es", "52"),
        "PA" => (Lang::Es, "es", "507"),
        "PY" => (Lang::Es, "es", "595"),
        "PE" => (Lang::Es, "es", "51"),
        "UY" => (Lang::Es, "es", "598"),
        "BR" => (Lang::Pt, "pt", "55"),
        "HT" => (Lang::Fr, "fr", "509"),
        "SR" => (Lang::En, "nl", "597"),
        "AG" => (Lang::En, "en", "1 268"),
        "BS" => (Lang::En, "en", "1 242"),
        "BB" => (Lang::En, "en", "1 246"),
        "BZ" => (Lang::En, "en", "501"),
        "DM" => (Lang::En, "en", "1 767"),
        "GD" => (Lang::En, "en", "1 473"),
        "GY" => (Lang::En, "en", "592"),
        "JM" => (Lang::En, "en", "1 876"),
        "KN" => (Lang::En, "en", "1 869"),
        "LC" => (Lang::En, "en", "1 758"),
        "VC" => (Lang::En, "en", "1 784"),
        "TT" => (Lang::En, "en", "1 868"),
        _ => (Lang::En, "en", "1"),
    };
    State {
        lang,
        people,
        calling_code,
    }
}

/// A capital's name in a language (the reference data names them in English).
fn city_in(city: &str, lang: Lang) -> &str {
    match (city, lang) {
        ("Mexico City", Lang::Es) => "Ciudad de México",
        ("Guatemala City", Lang::Es) => "Ciudad de Guatemala",
        ("Panama City", Lang::Es) => "Ciudad de Panamá",
        ("Washington, D.C.", Lang::Es) => "Washington D. C.",
        (c, _) => c,
    }
}

/// English plus the state's own language.
fn langs_of(lang: Lang) -> Vec<Lang> {
    if lang == Lang::En {
        vec![Lang::En]
    } else {
        vec![Lang::En, lang]
    }
}

/// ASCII, lower-case, letters and digits only (for e-mail addresses and URLs).
fn slug(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
                'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
                'ñ' | 'Ñ' => 'n',
                'ç' | 'Ç' => 'c',
                c => c,
            };
            c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
        })
        .collect()
}

const STOPWORDS: &[&str] = &[
    "de", "del", "la", "las", "los", "el", "y", "e", "para", "por", "en", "of", "the", "and",
    "for", "on", "des", "du", "et", "pour", "le", "les", "à", "au", "aux", "da", "do", "das",
    "dos", "a", "o", "as", "os", "em", "na", "no",
];

/// The initials of the significant words: "Ministerio de Relaciones Exteriores" → "MRE".
fn acronym(name: &str) -> Option<String> {
    let a: String = name
        .split(|c: char| c.is_whitespace() || c == '-' || c == ',')
        .map(|w| {
            w.trim_start_matches("l'")
                .trim_start_matches("d'")
                .trim_start_matches("L'")
                .trim_start_matches("D'")
        })
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_alphabetic())
        .map(|c| slug(&c.to_string()).to_ascii_uppercase())
        .collect();
    (a.len() >= 2).then(|| a.chars().take(8).collect())
}

fn roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, numeral) in TABLE {
        while n >= value {
            out.push_str(numeral);
            n -= value;
        }
    }
    out
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn add_months(d: NaiveDate, months: i64) -> NaiveDate {
    if months >= 0 {
        d.checked_add_months(Months::new(months as u32))
    } else {
        d.checked_sub_months(Months::new((-months) as u32))
    }
    .expect("dates in range")
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    date(d.year(), (d.month0() / 3) * 3 + 1, 1)
}

// ---------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------

#[derive(Insertable)]
#[diesel(table_name = executing_agencies)]
struct AgencyRow {
    id: Uuid,
    name: Value,
    acronym: Option<String>,
    member_state: String,
    kind: &'static str,
    registration_number: String,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    status: &'static str,
}

#[derive(Insertable)]
#[diesel(table_name = mandates)]
struct MandateRow {
    id: Uuid,
    reference: String,
    issuing_body: &'static str,
    document_kind: &'static str,
    adopted_on: NaiveDate,
    pillar: &'static str,
    title: Value,
    summary: Option<Value>,
    status: &'static str,
}

#[derive(Insertable)]
#[diesel(table_name = mandate_assignments)]
struct AssignmentRow {
    id: Uuid,
    mandate_id: Uuid,
    office_id: Uuid,
    due_on: Option<NaiveDate>,
    status: &'static str,
    progress_notes: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = appointments)]
struct AppointmentRow {
    id: Uuid,
    office_id: Uuid,
    person_name: String,
    email: Option<String>,
    position: &'static str,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
}

#[derive(Insertable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: Uuid,
    code: String,
    title: Value,
    description: Option<Value>,
    office_id: Uuid,
    department_id: Uuid,
    pillar: &'static str,
    status: &'static str,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    budget_amount: i64,
    budget_currency: &'static str,
    funding_source: &'static str,
    donor: Option<String>,
    donor_agreement: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = project_mandates)]
struct ProjectMandateRow {
    project_id: Uuid,
    mandate_id: Uuid,
}

#[derive(Insertable)]
#[diesel(table_name = project_agencies)]
struct ProjectAgencyRow {
    project_id: Uuid,
    agency_id: Uuid,
    role: &'static str,
}

#[derive(Insertable)]
#[diesel(table_name = monitoring_reports)]
struct ReportRow {
    id: Uuid,
    project_id: Uuid,
    period: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    physical_progress: i16,
    risk_level: &'static str,
    narrative: Value,
    created_by: String,
}

/// A generated dataset, in the order its tables must be loaded.
#[derive(Default)]
struct Dataset {
    agencies: Vec<AgencyRow>,
    mandates: Vec<MandateRow>,
    assignments: Vec<AssignmentRow>,
    appointments: Vec<AppointmentRow>,
    projects: Vec<ProjectRow>,
    project_mandates: Vec<ProjectMandateRow>,
    project_agencies: Vec<ProjectAgencyRow>,
    reports: Vec<ReportRow>,
}

impl Dataset {
    fn rows(&self) -> usize {
        self.agencies.len()
            + self.mandates.len()
            + self.assignments.len()
            + self.appointments.len()
            + self.projects.len()
            + self.project_mandates.len()
            + self.project_agencies.len()
            + self.reports.len()
    }
}

/// How much to generate.
struct Spec {
    seed: u64,
    projects: usize,
    agencies: usize,
    mandates: usize,
    /// Most quarterly reports a project gets (the latest ones).
    max_reports: usize,
    /// Scale data: codes, references and registration numbers from series of their own,
    /// so that it can be loaded next to the demo data.
    scale: bool,
}

impl Spec {
    fn demo() -> Spec {
        Spec {
            seed: 0x0A5_2026,
            projects: 500,
            agencies: 200,
            mandates: 50,
            max_reports: 12,
            scale: false,
        }
    }

    fn scale(projects: usize) -> Spec {
        Spec {
            seed: 0x5CA1E ^ projects as u64,
            projects,
            agencies: (projects / 25).max(200),
            mandates: (projects / 100).max(50),
            max_reports: 16,
            scale: true,
        }
    }
}

/// An office as the generator sees it.
struct OfficeInfo {
    id: Uuid,
    code: String,
    coordinating: bool,
    member_state: String,
    city: String,
    opened_on: NaiveDate,
}

struct Generator<'a> {
    rng: Rng,
    spec: &'a Spec,
    words: &'a Words,
    offices: Vec<OfficeInfo>,
    countries: &'a HashMap<String, LocalizedText>,
    data: Dataset,
    emails: HashSet<String>,
    people: HashSet<String>,
    /// The e-mail of each office's project officer (author of its reports).
    reporters: HashMap<Uuid, String>,
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

fn generate(
    spec: &Spec,
    words: &Words,
    reference: &Reference,
    countries: &HashMap<String, LocalizedText>,
) -> Dataset {
    let offices = reference
        .offices
        .iter()
        .map(|o| OfficeInfo {
            id: demo_id("office", &o.code),
            code: o.code.clone(),
            coordinating: o.kind == "coordinating_office",
            member_state: o.member_state.clone(),
            city: o.city.clone(),
            opened_on: o.opened_on,
        })
        .collect();
    let mut g = Generator {
        rng: Rng::new(spec.seed),
        spec,
        words,
        offices,
        countries,
        data: Dataset::default(),
        emails: HashSet::new(),
        people: HashSet::new(),
        reporters: HashMap::new(),
    };
    g.mandates();
    g.agencies();
    g.appointments();
    g.projects();
    g.data
}

/// The GA's regular session of a year and the day its resolutions were adopted.
fn general_assembly(year: i32) -> NaiveDate {
    let (m, d) = match year {
        2014 => (6, 5),
        2015 => (6, 16),
        2016 => (6, 15),
        2017 => (6, 21),
        2018 => (6, 5),
        2019 => (6, 28),
        2020 => (10, 21),
        2021 => (11, 12),
        2022 => (10, 7),
        2023 => (6, 23),
        2024 => (6, 28),
        _ => (6, 27),
    };
    date(year, m, d)
}

/// The first AG/RES number of a year's regular session.
fn ga_base(year: i32) -> u32 {
    match year {
        2014 => 2807,
        2015 => 2865,
        2016 => 2880,
        2017 => 2904,
        2018 => 2920,
        2019 => 2941,
        2020 => 2955,
        2021 => 2965,
        2022 => 2976,
        2023 => 2991,
        2024 => 3010,
        _ => 3030,
    }
}

impl Generator<'_> {
    fn mandates(&mut self) {
        // Slots first (body, kind, date), numbered in date order within each series.
        #[derive(Clone, Copy)]
        enum Body {
            Ga,
            Cp,
            Cidi,
        }
        let mut slots = Vec::new();
        for i in 0..self.spec.mandates {
            let body = self
                .rng
                .weighted(&[(Body::Ga, 60), (Body::Cp, 25), (Body::Cidi, 15)]);
            let year = self.rng.range(2014, 2025) as i32;
            let declaration = matches!(body, Body::Ga) && self.rng.chance(12);
            let adopted_on = match body {
                Body::Ga => general_assembly(year),
                _ => date(year, 1, 15) + Duration::days(self.rng.range(0, 330)),
            };
            slots.push((i, body, declaration, adopted_on));
        }
        slots.sort_by_key(|(i, _, _, d)| (*d, *i));
        let offset = if self.spec.scale { 5000 } else { 0 };
        let mut next: HashMap<(u8, bool, i32), u32> = HashMap::new();
        let mut rows = Vec::with_capacity(slots.len());
        let mut used = HashSet::new();
        for (i, body, declaration, adopted_on) in slots {
            let year = adopted_on.year();
            let yy = year % 100;
            let key = (body as u8, declaration, year);
            let step = self.rng.range(1, 4) as u32;
            let number = *next
                .entry(key)
                .and_modify(|n| *n += step)
                .or_insert_with(|| {
                    offset
                        + match (body, declaration) {
                            (Body::Ga, false) => ga_base(year),
                            (Body::Ga, true) => 74 + (year as u32 - 2014) * 5,
                            (Body::Cp, _) => 1056 + (year as u32 - 2014) * 18,
                            (Body::Cidi, _) => 280 + (year as u32 - 2014) * 7,
                        }
                });
            let (reference, issuing_body) = match body {
                Body::Ga => (
                    format!(
                        "AG/{}. {number} ({}-O/{yy:02})",
                        if declaration { "DEC" } else { "RES" },
                        roman((year - 1970) as u32)
                    ),
                    "general_assembly",
                ),
                Body::Cp => {
                    let meeting = offset
                        + 1985
                        + (year as u32 - 2014) * 45
                        + adopted_on.ordinal0() * 45 / 366;
                    (
                        format!("CP/RES. {number} ({meeting}/{yy:02})"),
                        "permanent_council",
                    )
                }
                Body::Cidi => (
                    format!(
                        "CIDI/RES. {number} ({}-O/{yy:02})",
                        roman((year - 1995) as u32)
                    ),
                    "cidi",
                ),
            };
            // CIDI speaks for integral development; the other bodies for every pillar.
            let pillar = match body {
                Body::Cidi => "integral_development",
                _ => PILLARS[i % PILLARS.len()],
            };
            // One resolution per topic and year.
            let themes = &self.words.mandate_themes[pillar];
            let mut t = self.rng.index(themes.len());
            for _ in 0..themes.len() {
                if used.insert((pillar, t, year)) {
                    break;
                }
                t = (t + 1) % themes.len();
            }
            let theme = &themes[t];
            let status = if year <= 2016 {
                self.rng
                    .weighted(&[("in_force", 40), ("superseded", 40), ("fulfilled", 20)])
            } else if year <= 2019 {
                self.rng.weighted(&[("in_force", 85), ("fulfilled", 15)])
            } else {
                "in_force"
            };
            rows.push(MandateRow {
                id: demo_id("mandate", &reference),
                reference,
                issuing_body,
                document_kind: if declaration {
                    "declaration"
                } else {
                    "resolution"
                },
                adopted_on,
                pillar,
                title: theme.title.to_json(),
                summary: Some(theme.summary.to_json()),
                status,
            });
        }
        self.data.mandates = rows;
    }

    /// A registration number in the form the state's registry uses.
    fn registration_number(&mut self, ms: &str, kind: &str) -> String {
        let r = &mut self.rng;
        let n = match ms {
            "PE" => format!("20{}", r.digits(9)),
            "AR" => format!("30-{}-{}", r.digits(8), r.digits(1)),
            "CO" => format!(
                "9{}.{}.{}-{}",
                r.digits(2),
                r.digits(3),
                r.digits(3),
                r.digits(1)
            ),
            "MX" => format!("{}{}{}", r.letters(3), r.digits(6), r.letters(3)),
            "BR" => format!(
                "{}.{}.{}/0001-{}",
                r.digits(2),
                r.digits(3),
                r.digits(3),
                r.digits(2)
            ),
            "GT" => format!("{}-{}", r.digits(7), r.digits(1)),
            "CR" if kind == "government" => format!("2-100-{}", r.digits(6)),
            "CR" => format!("3-101-{}", r.digits(6)),
            "UY" => format!("21{}0017", r.digits(6)),
            _ => format!("{ms}-{}", r.digits(7)),
        };
        if self.spec.scale { format!("S{n}") } else { n }
    }

    fn agencies(&mut self) {
        // Quotas: larger programmes in the Spanish-, Portuguese- and French-speaking
        // states; the total is spec.agencies exactly (largest remainder).
        let states: Vec<(String, String)> = self
            .offices
            .iter()
            .filter(|o| !o.coordinating)
            .map(|o| (o.member_state.clone(), o.city.clone()))
            .collect();
        let weights: Vec<u64> = states
            .iter()
            .map(|(ms, _)| if state(ms).people == "en" { 5 } else { 9 })
            .collect();
        let total_w: u64 = weights.iter().sum();
        let n = self.spec.agencies as u64;
        let mut quotas: Vec<u64> = weights.iter().map(|w| n * w / total_w).collect();
        let mut rest = n - quotas.iter().sum::<u64>();
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse((n * weights[i]) % total_w));
        for i in order {
            if rest == 0 {
                break;
            }
            quotas[i] += 1;
            rest -= 1;
        }
        // Mostly government counterparts; each state's sequence starts elsewhere in the
        // pattern, so that every kind occurs.
        const PATTERN: [&str; 10] = [
            "government",
            "ngo",
            "academic",
            "government",
            "international_organization",
            "ngo",
            "private_sector",
            "government",
            "other",
            "academic",
        ];
        let words = self.words;
        for (si, ((ms, city), quota)) in states.iter().zip(quotas).enumerate() {
            let st = state(ms);
            let langs = langs_of(st.lang);
            let mut registrations = HashSet::new();
            let mut gov = (0..words.agencies.government.len()).collect::<Vec<_>>();
            // A deterministic shuffle of the ministries each state gets.
            for i in (1..gov.len()).rev() {
                let j = self.rng.index(i + 1);
                gov.swap(i, j);
            }
            let mut names_used = HashSet::new();
            for k in 0..quota as usize {
                let kind = PATTERN[(k + si) % PATTERN.len()];
                // Distinct names within a state (a few tries, then a repeat is allowed:
                // registration numbers tell agencies apart).
                let mut attempt = 0;
                let (name, acronym) = loop {
                    let candidate =
                        self.agency_name(kind, k + attempt, &gov, &langs, st.lang, city);
                    attempt += 1;
                    if names_used.insert(get(&candidate.0, Lang::En).to_owned()) || attempt > 12 {
                        break candidate;
                    }
                };
                let registration = loop {
                    let r = self.registration_number(ms, kind);
                    if registrations.insert(r.clone()) {
                        break r;
                    }
                };
                let tld = ms.to_ascii_lowercase();
                let handle = acronym
                    .as_deref()
                    .map(slug)
                    .unwrap_or_else(|| format!("org{k}"));
                let gov_domain = match st.lang {
                    Lang::Es => "gob",
                    Lang::Fr => "gouv",
                    _ => "gov",
                };
                let mailbox = match st.lang {
                    Lang::Es => "contacto",
                    Lang::Pt => "contato",
                    _ => "info",
                };
                let (website, email) = match kind {
                    "government" => (
                        format!("https://www.{gov_domain}.{tld}/{handle}"),
                        format!("{mailbox}@{handle}.{gov_domain}.{tld}"),
                    ),
                    "academic" => (
                        format!("https://www.{handle}.edu.{tld}"),
                        format!("{mailbox}@{handle}.edu.{tld}"),
                    ),
                    "international_organization" => (
                        format!("https://www.{handle}.org/{tld}"),
                        format!("{handle}{tld}@{handle}.org"),
                    ),
                    _ => (
                        format!("https://www.{handle}.org.{tld}"),
                        format!("{mailbox}@{handle}.org.{tld}"),
                    ),
                };
                self.data.agencies.push(AgencyRow {
                    id: demo_id("agency", &format!("{ms}:{registration}")),
                    name: name.to_json(),
                    acronym,
                    member_state: ms.clone(),
                    kind,
                    registration_number: registration,
                    email: Some(email),
                    phone: Some(format!(
                        "+{} {} {}",
                        st.calling_code,
                        self.rng.digits(3),
                        self.rng.digits(4)
                    )),
                    website: Some(website),
                    status: if self.rng.chance(5) {
                        "suspended"
                    } else {
                        "active"
                    },
                });
            }
        }
    }

    /// An agency's name (English and the state's language) and acronym.
    fn agency_name(
        &mut self,
        kind: &str,
        k: usize,
        gov: &[usize],
        langs: &[Lang],
        lang: Lang,
        city: &str,
    ) -> (LocalizedText, Option<String>) {
        let words = self.words;
        let name = match kind {
            "government" => {
                let t = &words.agencies.government[gov[k % gov.len()]];
                localized(langs, |l| get(t, l).to_owned())
            }
            "ngo" => {
                let p = self.rng.pick(&words.agencies.ngo_prefix);
                let t = self.rng.pick(&words.agencies.ngo_theme);
                localized(langs, |l| format!("{} {}", get(p, l), get(t, l)))
            }
            "academic" => {
                let t = self.rng.pick(&words.agencies.academic);
                localized(langs, |l| get(t, l).replace("{city}", city_in(city, l)))
            }
            "international_organization" => {
                let o = self.rng.pick(&words.agencies.international_organization);
                let name = localized(langs, |l| get(&o.name, l).to_owned());
                return (name, Some(get(&o.acronym, lang).to_owned()));
            }
            "private_sector" => {
                let t = self.rng.pick(&words.agencies.private_sector);
                localized(langs, |l| get(t, l).replace("{city}", city_in(city, l)))
            }
            _ => {
                let t = self.rng.pick(&words.agencies.other);
                localized(langs, |l| get(t, l).to_owned())
            }
        };
        let acr = acronym(get(&name, lang));
        (name, acr)
    }

    fn person(&mut self, group: &str) -> (String, String) {
        let names = &self.words.people[group];
        // A name nobody else in the dataset has (a few tries).
        let mut tries = 0;
        let (first, last, full) = loop {
            let first = self.rng.pick(&names.first).clone();
            let last = self.rng.pick(&names.last).clone();
            // Hispanic names carry both surnames.
            let full = if group == "es" && self.rng.chance(60) {
                let second = self.rng.pick(&names.last);
                format!("{first} {last} {second}")
            } else {
                format!("{first} {last}")
            };
            tries += 1;
            if self.people.insert(full.clone()) || tries > 20 {
                break (first, last, full);
            }
        };
        let base = format!(
            "{}{}",
            slug(&first).chars().next().unwrap_or('x'),
            slug(&last)
        );
        let mut email = format!("{base}@oas.org");
        let mut n = 2;
        while !self.emails.insert(email.clone()) {
            email = format!("{base}{n}@oas.org");
            n += 1;
        }
        (full, email)
    }

    fn appoint(
        &mut self,
        office: usize,
        group: &str,
        position: &'static str,
        starts_on: NaiveDate,
        ends_on: Option<NaiveDate>,
    ) -> String {
        let (name, email) = self.person(group);
        let o = &self.offices[office];
        let n = self
            .data
            .appointments
            .iter()
            .filter(|a| a.office_id == o.id)
            .count();
        self.data.appointments.push(AppointmentRow {
            id: demo_id("appointment", &format!("{}:{n}", o.code)),
            office_id: o.id,
            person_name: name,
            email: Some(email.clone()),
            position,
            starts_on: starts_on.max(o.opened_on),
            ends_on,
        });
        email
    }

    fn appointments(&mut self) {
        for i in 0..self.offices.len() {
            let coordinating = self.offices[i].coordinating;
            let group = state(&self.offices[i].member_state).people;
            let pick_group = |rng: &mut Rng| -> &'static str {
                if coordinating {
                    rng.weighted(&[("en", 50), ("es", 40), ("pt", 10)])
                } else {
                    group
                }
            };
            if !coordinating {
                // The current representative and one or two predecessors, back to back.
                let mut start = AS_OF - Duration::days(self.rng.range(30, 6 * 365));
                let g = pick_group(&mut self.rng);
                self.appoint(i, g, "representative", start, None);
                for _ in 0..self.rng.range(1, 2) {
                    let end = start - Duration::days(1 + self.rng.range(0, 90));
                    let begin = add_months(end, -self.rng.range(36, 72));
                    let g = pick_group(&mut self.rng);
                    self.appoint(i, g, "representative", begin, Some(end));
                    start = begin;
                }
            }
            let since = |rng: &mut Rng| AS_OF - Duration::days(rng.range(60, 12 * 365));
            let s = since(&mut self.rng);
            let g = pick_group(&mut self.rng);
            self.appoint(i, g, "administrative_officer", s, None);
            let mut reporter = None;
            for _ in 0..self.rng.range(1, 2) {
                let s = since(&mut self.rng);
                let g = pick_group(&mut self.rng);
                let email = self.appoint(i, g, "project_officer", s, None);
                reporter.get_or_insert(email);
            }
            for _ in 0..self.rng.range(1, 3) {
                let s = since(&mut self.rng);
                let g = pick_group(&mut self.rng);
                self.appoint(i, g, "staff", s, None);
            }
            for _ in 0..self.rng.range(0, 2) {
                let end = AS_OF - Duration::days(self.rng.range(60, 5 * 365));
                let begin = add_months(end, -self.rng.range(12, 96));
                let g = pick_group(&mut self.rng);
                let position = if self.rng.chance(70) {
                    "staff"
                } else {
                    "project_officer"
                };
                self.appoint(i, g, position, begin, Some(end));
            }
            let id = self.offices[i].id;
            self.reporters
                .insert(id, reporter.expect("every office has a project officer"));
        }
    }

    fn projects(&mut self) {
        let words = self.words;
        // Offices weighted: the larger programmes, and regional projects of the
        // Coordinating Office.
        let office_weights: Vec<(usize, u32)> = self
            .offices
            .iter()
            .enumerate()
            .map(|(i, o)| {
                // Regional (Coordinating Office) and the smaller English-speaking
                // programmes weigh 2, the others 3.
                let w = if o.coordinating || state(&o.member_state).people == "en" {
                    2
                } else {
                    3
                };
                (i, w)
            })
            .collect();
        let mut agencies_by_state: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, a) in self.data.agencies.iter().enumerate() {
            agencies_by_state
                .entry(a.member_state.as_str())
                .or_default()
                .push(i);
        }
        // Agencies (indices) by state, and all of them for regional projects.
        let agencies_by_state: HashMap<String, Vec<usize>> = agencies_by_state
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let all_agencies: Vec<usize> = (0..self.data.agencies.len()).collect();
        let mut mandates_by_pillar: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, m) in self.data.mandates.iter().enumerate() {
            mandates_by_pillar.entry(m.pillar).or_default().push(i);
        }
        let mut seq: HashMap<String, u32> = HashMap::new();
        let mut phases: HashMap<(usize, String), u32> = HashMap::new();
        let mut assignments: HashMap<(Uuid, Uuid), Vec<&'static str>> = HashMap::new();
        for _ in 0..self.spec.projects {
            let oi = self.rng.weighted(&office_weights);
            let (office_id, ms, coordinating) = {
                let o = &self.offices[oi];
                (o.id, o.member_state.clone(), o.coordinating)
            };
            let st = state(&ms);
            let pillar = *self.rng.pick(&PILLARS);
            let theme_index = self.rng.index(words.project_themes[pillar].len());
            let theme = &words.project_themes[pillar][theme_index];
            let dept = self.rng.pick(&theme.departments).clone();
            let status = self.rng.weighted(&[
                ("pipeline", 7),
                ("approved", 7),
                ("active", 40),
                ("suspended", 4),
                ("completed", 20),
                ("closed", 16),
                ("cancelled", 6),
            ]);
            let long = self.spec.scale;
            let (starts_on, ends_on) = match status {
                "pipeline" => {
                    let s = add_months(AS_OF, self.rng.range(2, 12));
                    (s, Some(add_months(s, self.rng.range(12, 48))))
                }
                "approved" => {
                    let s = add_months(AS_OF, self.rng.range(0, 6)) + Duration::days(1);
                    (s, Some(add_months(s, self.rng.range(12, 48))))
                }
                "active" | "suspended" => {
                    let back = if long { (18, 48) } else { (3, 36) };
                    let s = add_months(AS_OF, -self.rng.range(back.0, back.1));
                    let e = add_months(AS_OF, self.rng.range(3, 36));
                    (s, Some(e))
                }
                "completed" => {
                    let e = AS_OF - Duration::days(self.rng.range(10, 330));
                    let dur = if long { (30, 60) } else { (12, 48) };
                    (add_months(e, -self.rng.range(dur.0, dur.1)), Some(e))
                }
                "closed" => {
                    let e = add_months(AS_OF, -self.rng.range(12, 72));
                    let dur = if long { (30, 60) } else { (12, 48) };
                    (add_months(e, -self.rng.range(dur.0, dur.1)), Some(e))
                }
                _ => {
                    // Cancelled: some before they started, some midway.
                    let s = add_months(AS_OF, -self.rng.range(1, 48));
                    let e = if self.rng.chance(50) {
                        None
                    } else {
                        Some(add_months(s, self.rng.range(3, 18)).min(AS_OF))
                    };
                    (s, e)
                }
            };
            let year = starts_on.year();
            let prefix = if coordinating { "RG" } else { ms.as_str() };
            let series = format!("{prefix}-{dept}-{year}");
            let n = seq.entry(series.clone()).or_insert(0);
            *n += 1;
            let code = if self.spec.scale {
                format!("{series}-{n:05}")
            } else {
                format!("{series}-{n:03}")
            };
            let phase = phases
                .entry((oi, format!("{pillar}/{theme_index}")))
                .or_insert(0);
            *phase += 1;
            let phase = *phase;
            let mut langs = vec![Lang::En, Lang::Es];
            match st.lang {
                Lang::Fr if !coordinating => langs.push(Lang::Fr),
                Lang::Pt if !coordinating => langs.push(Lang::Pt),
                _ => {}
            }
            let title = localized(&langs, |l| {
                let mut t = get(&theme.title, l).to_owned();
                if coordinating {
                    t = match l {
                        Lang::En => format!("Hemispheric programme: {t}"),
                        Lang::Es => format!("Programa hemisférico: {t}"),
                        Lang::Fr => format!("Programme hémisphérique : {t}"),
                        Lang::Pt => format!("Programa hemisférico: {t}"),
                    };
                }
                if phase > 1 {
                    let p = roman(phase);
                    t = match l {
                        Lang::Es | Lang::Pt => format!("{t}, fase {p}"),
                        _ => format!("{t}, phase {p}"),
                    };
                }
                t
            });
            let description = localized(&[Lang::En, Lang::Es], |l| {
                let country = if coordinating {
                    match l {
                        Lang::Es => "los Estados Miembros".to_owned(),
                        _ => "the member states".to_owned(),
                    }
                } else {
                    self.countries
                        .get(&ms)
                        .map(|c| get(c, l).to_owned())
                        .unwrap_or_else(|| ms.clone())
                };
                get(&theme.description, l).replace("{country}", &country)
            });
            let funding = self.rng.weighted(&[
                ("regular_fund", 25),
                ("specific_fund", 35),
                ("trust_fund", 15),
                ("development_cooperation_fund", 15),
                ("indirect_cost_recovery", 10),
            ]);
            let (donor, agreement) = match funding {
                "specific_fund" | "trust_fund" => {
                    let d = self.rng.pick(&words.donors);
                    let agreement = format!(
                        "{}{}-{}-{:03}",
                        if funding == "trust_fund" { "TF-" } else { "" },
                        d.short,
                        year,
                        self.rng.range(1, 250)
                    );
                    (Some(d.name.clone()), Some(agreement))
                }
                _ => (None, None),
            };
            // USD in cents, rounded to hundreds of dollars.
            let budget_usd = match funding {
                "regular_fund" | "indirect_cost_recovery" => self.rng.range(300, 4_000),
                _ => self.rng.range(800, 30_000),
            } * 100;
            let id = demo_id("project", &code);
            let department_id = demo_id("department", &dept);

            // Mandates: of the pillar, adopted before the project started.
            let candidates: Vec<usize> = mandates_by_pillar
                .get(pillar)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|&m| self.data.mandates[m].adopted_on <= starts_on)
                        .collect()
                })
                .unwrap_or_default();
            let candidates = if candidates.is_empty() {
                mandates_by_pillar.get(pillar).cloned().unwrap_or_default()
            } else {
                candidates
            };
            let mut chosen = Vec::new();
            for _ in 0..self.rng.range(1, 3) {
                if candidates.is_empty() {
                    break;
                }
                let m = *self.rng.pick(&candidates);
                if !chosen.contains(&m) {
                    chosen.push(m);
                }
            }
            for &m in &chosen {
                let mandate_id = self.data.mandates[m].id;
                self.data.project_mandates.push(ProjectMandateRow {
                    project_id: id,
                    mandate_id,
                });
                assignments
                    .entry((mandate_id, office_id))
                    .or_default()
                    .push(status);
            }

            // Agencies: one lead, up to two partners, from the office's state.
            let pool = agencies_by_state.get(&ms).unwrap_or(&all_agencies);
            let lead = *self.rng.pick(pool);
            let mut team = vec![lead];
            for _ in 0..self.rng.range(0, 2) {
                let a = *self.rng.pick(pool);
                if !team.contains(&a) {
                    team.push(a);
                }
            }
            for (k, &a) in team.iter().enumerate() {
                self.data.project_agencies.push(ProjectAgencyRow {
                    project_id: id,
                    agency_id: self.data.agencies[a].id,
                    role: if k == 0 { "lead" } else { "partner" },
                });
            }

            self.reports(id, &code, status, starts_on, ends_on, office_id);

            self.data.projects.push(ProjectRow {
                id,
                code,
                title: title.to_json(),
                description: Some(description.to_json()),
                office_id,
                department_id,
                pillar,
                status,
                starts_on,
                ends_on,
                budget_amount: budget_usd * 100,
                budget_currency: "USD",
                funding_source: funding,
                donor,
                donor_agreement: agreement,
            });
        }
        let mut keys: Vec<_> = assignments.into_iter().collect();
        keys.sort_by_key(|((m, o), _)| (*m, *o));
        for ((mandate_id, office_id), statuses) in keys {
            let adopted_on = self
                .data
                .mandates
                .iter()
                .find(|m| m.id == mandate_id)
                .map(|m| m.adopted_on)
                .expect("a generated mandate");
            let done = statuses
                .iter()
                .all(|s| matches!(*s, "completed" | "closed" | "cancelled"));
            let started = statuses
                .iter()
                .any(|s| *s != "pipeline" && *s != "approved");
            self.data.assignments.push(AssignmentRow {
                id: demo_id("assignment", &format!("{mandate_id}:{office_id}")),
                mandate_id,
                office_id,
                due_on: Some(add_months(adopted_on, 48)),
                status: if done {
                    "fulfilled"
                } else if started {
                    "in_progress"
                } else {
                    "assigned"
                },
                progress_notes: None,
            });
        }
    }

    /// Quarterly reports from the project's first quarter to the last quarter that has
    /// ended (by [`AS_OF`]) while the project ran; physical progress increases.
    fn reports(
        &mut self,
        project_id: Uuid,
        code: &str,
        status: &str,
        starts_on: NaiveDate,
        ends_on: Option<NaiveDate>,
        office_id: Uuid,
    ) {
        if matches!(status, "pipeline" | "approved") || starts_on > AS_OF {
            return;
        }
        let last_day = ends_on.unwrap_or(AS_OF).min(AS_OF);
        let mut quarters = Vec::new();
        let mut q = quarter_start(starts_on);
        loop {
            let q_end = add_months(q, 3) - Duration::days(1);
            if q > last_day || q_end > AS_OF {
                break;
            }
            quarters.push((q, q_end));
            q = add_months(q, 3);
        }
        if quarters.is_empty() {
            return;
        }
        let skip = quarters.len().saturating_sub(self.spec.max_reports);
        let planned_end = ends_on.unwrap_or_else(|| add_months(starts_on, 36));
        let span = (planned_end - starts_on).num_days().max(1) as f64;
        let pace = self.rng.range(75, 105) as f64 / 100.0;
        let author = self.reporters[&office_id].clone();
        let count = quarters.len();
        let mut prev: i16 = 0;
        for (k, (q_start, q_end)) in quarters.into_iter().enumerate() {
            let elapsed = (q_end - starts_on).num_days().max(0) as f64;
            let expected = (100.0 * pace * elapsed / span).round().clamp(0.0, 100.0) as i16;
            let last = k + 1 == count;
            let ceiling = match status {
                "completed" | "closed" => 100,
                "cancelled" => 60,
                _ => 99,
            };
            let mut progress = expected.max(prev + 1).min(ceiling);
            // The last report of a finished project is its final one.
            if last && matches!(status, "completed" | "closed") {
                progress = 100;
            }
            prev = progress;
            if k < skip {
                continue;
            }
            let risk = match status {
                "suspended" if last => self.rng.weighted(&[("high", 60), ("critical", 40)]),
                "cancelled" if last => "critical",
                _ => {
                    self.rng
                        .weighted(&[("low", 55), ("medium", 30), ("high", 12), ("critical", 3)])
                }
            };
            let finished = progress == 100;
            let risk = if finished { "low" } else { risk };
            let template = self
                .rng
                .pick(&self.words.narratives[if finished { "completed" } else { risk }]);
            let narrative = localized(&[Lang::En, Lang::Es], |l| {
                get(template, l).replace("{progress}", &progress.to_string())
            });
            let period = format!("{}-Q{}", q_start.year(), q_start.month0() / 3 + 1);
            self.data.reports.push(ReportRow {
                id: demo_id("report", &format!("{code}:{period}")),
                project_id,
                period,
                period_start: q_start,
                period_end: q_end,
                physical_progress: progress,
                risk_level: risk,
                narrative: narrative.to_json(),
                created_by: author.clone(),
            });
        }
    }
}

fn words() -> anyhow::Result<Words> {
    Ok(serde_json::from_str(DEMO_WORDS)?)
}

// ---------------------------------------------------------------------------------------
// The demo load (diesel, many rows per statement)
// ---------------------------------------------------------------------------------------

macro_rules! insert_chunks {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(CHUNK) {
            diesel::insert_into($table)
                .values(chunk)
                .execute($conn)
                .await?;
        }
    };
}

async fn insert_dataset(conn: &mut AsyncPgConnection, d: &Dataset) -> anyhow::Result<()> {
    insert_chunks!(conn, mandates::table, d.mandates);
    insert_chunks!(conn, executing_agencies::table, d.agencies);
    insert_chunks!(conn, appointments::table, d.appointments);
    insert_chunks!(conn, projects::table, d.projects);
    insert_chunks!(conn, project_mandates::table, d.project_mandates);
    insert_chunks!(conn, project_agencies::table, d.project_agencies);
    insert_chunks!(conn, mandate_assignments::table, d.assignments);
    insert_chunks!(conn, monitoring_reports::table, d.reports);
    Ok(())
}

/// Loads the demo dataset in one transaction. Fails (changing nothing) when any of its
/// rows exists already.
/// Only the reference part of the demo data (departments and offices), in one
/// transaction: what tests that make their own mandates, agencies and projects start from.
pub async fn demo_reference(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let reference = reference()?;
    conn.transaction(async |conn| load_reference(conn, &reference).await)
        .await
}

pub async fn demo(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let reference = reference()?;
    let words = words()?;
    let rows = conn
        .transaction(async |conn| {
            load_reference(conn, &reference).await?;
            let countries = country_names(conn).await?;
            let data = generate(&Spec::demo(), &words, &reference, &countries);
            insert_dataset(conn, &data).await?;
            sectors::apply(conn).await?;
            let assets = assets::load(conn).await?;
            log::info!("loaded {assets} demo assets");
            let money_started = std::time::Instant::now();
            let mut money = money::load(conn).await?;
            money.seconds = money_started.elapsed().as_secs_f64();
            let memoranda = memoranda::load(conn).await?;
            Ok::<_, anyhow::Error>((data, money, memoranda))
        })
        .await?;
    let (rows, money, (memos, answers, items)) = rows;
    log::info!(
        "loaded demo data in {:.2} s: {} departments, {} offices, {} mandates, {} executing agencies, {} projects, {} monitoring reports, {} appointments",
        started.elapsed().as_secs_f64(),
        reference.departments.len(),
        reference.offices.len(),
        rows.mandates.len(),
        rows.agencies.len(),
        rows.projects.len(),
        rows.reports.len(),
        rows.appointments.len(),
    );
    log::info!(
        "loaded demo money in {:.2} s: {} ledgers, {} entries, {} exchange rates",
        money.seconds,
        money.ledgers,
        money.entries,
        money.rates,
    );
    log::info!(
        "loaded {memos} memoranda with {answers} offices' answers, and {items} events and accomplishments"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The scale load (COPY … FROM STDIN)
// ---------------------------------------------------------------------------------------

/// What a scale load did.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    pub projects: usize,
    pub rows: usize,
    pub seconds: f64,
}

impl ScaleReport {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// A value in COPY's text format.
trait CopyValue {
    fn put(&self, out: &mut String);
}

impl CopyValue for str {
    fn put(&self, out: &mut String) {
        for c in self.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
    }
}

impl CopyValue for String {
    fn put(&self, out: &mut String) {
        self.as_str().put(out);
    }
}

impl CopyValue for &str {
    fn put(&self, out: &mut String) {
        (*self).put(out);
    }
}

impl CopyValue for Uuid {
    fn put(&self, out: &mut String) {
        write!(out, "{self}").expect("writes to a String");
    }
}

impl CopyValue for NaiveDate {
    fn put(&self, out: &mut String) {
        write!(out, "{self}").expect("writes to a String");
    }
}

impl CopyValue for i64 {
    fn put(&self, out: &mut String) {
        write!(out, "{self}").expect("writes to a String");
    }
}

impl CopyValue for i16 {
    fn put(&self, out: &mut String) {
        write!(out, "{self}").expect("writes to a String");
    }
}

impl CopyValue for Value {
    fn put(&self, out: &mut String) {
        self.to_string().put(out);
    }
}

impl<T: CopyValue> CopyValue for Option<T> {
    fn put(&self, out: &mut String) {
        match self {
            Some(v) => v.put(out),
            None => out.push_str("\\N"),
        }
    }
}

/// Writes one row: the values tab-separated, then a newline.
macro_rules! copy_row {
    ($out:expr, $first:expr $(, $rest:expr)* $(,)?) => {{
        CopyValue::put(&$first, $out);
        $( $out.push('\t'); CopyValue::put(&$rest, $out); )*
        $out.push('\n');
    }};
}

/// Streams `rows` into `table (columns)` with COPY, in chunks of about a megabyte.
async fn copy_in<T>(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    columns: &str,
    rows: &[T],
    write: impl Fn(&T, &mut String),
) -> anyhow::Result<()> {
    use futures_util::SinkExt;
    let started = std::time::Instant::now();
    let sink = tx
        .copy_in::<_, bytes::Bytes>(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await?;
    futures_util::pin_mut!(sink);
    let mut buf = String::with_capacity(1 << 20);
    for row in rows {
        write(row, &mut buf);
        if buf.len() >= 1 << 20 {
            sink.send(bytes::Bytes::from(std::mem::take(&mut buf)))
                .await?;
        }
    }
    if !buf.is_empty() {
        sink.send(bytes::Bytes::from(buf)).await?;
    }
    sink.finish().await?;
    log::debug!(
        "copied {} rows into {table} in {:.2} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn copy_dataset(url: &str, d: &Dataset) -> anyhow::Result<()> {
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!("bulk-load connection: {e}");
        }
    });
    let tx = client.transaction().await?;
    copy_in(
        &tx,
        "mandates",
        "id, reference, issuing_body, document_kind, adopted_on, pillar, title, summary, status",
        &d.mandates,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.reference,
                r.issuing_body,
                r.document_kind,
                r.adopted_on,
                r.pillar,
                r.title,
                r.summary,
                r.status
            )
        },
    )
    .await?;
    copy_in(
        &tx,
        "executing_agencies",
        "id, name, acronym, member_state, kind, registration_number, email, phone, website, status",
        &d.agencies,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.name,
                r.acronym,
                r.member_state,
                r.kind,
                r.registration_number,
                r.email,
                r.phone,
                r.website,
                r.status
            )
        },
    )
    .await?;
    copy_in(
        &tx,
        "appointments",
        "id, office_id, person_name, email, position, starts_on, ends_on",
        &d.appointments,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.office_id,
                r.person_name,
                r.email,
                r.position,
                r.starts_on,
                r.ends_on
            )
        },
    )
    .await?;
    copy_in(
        &tx,
        "projects",
        "id, code, title, description, office_id, department_id, pillar, status, starts_on, ends_on, \
         budget_amount, budget_currency, funding_source, donor, donor_agreement",
        &d.projects,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.code,
                r.title,
                r.description,
                r.office_id,
                r.department_id,
                r.pillar,
                r.status,
                r.starts_on,
                r.ends_on,
                r.budget_amount,
                r.budget_currency,
                r.funding_source,
                r.donor,
                r.donor_agreement
            )
        },
    )
    .await?;
    copy_in(
        &tx,
        "project_mandates",
        "project_id, mandate_id",
        &d.project_mandates,
        |r, out| copy_row!(out, r.project_id, r.mandate_id),
    )
    .await?;
    copy_in(
        &tx,
        "project_agencies",
        "project_id, agency_id, role",
        &d.project_agencies,
        |r, out| copy_row!(out, r.project_id, r.agency_id, r.role),
    )
    .await?;
    copy_in(
        &tx,
        "mandate_assignments",
        "id, mandate_id, office_id, due_on, status, progress_notes",
        &d.assignments,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.mandate_id,
                r.office_id,
                r.due_on,
                r.status,
                r.progress_notes
            )
        },
    )
    .await?;
    copy_in(
        &tx,
        "monitoring_reports",
        "id, project_id, period, period_start, period_end, physical_progress, risk_level, narrative, created_by",
        &d.reports,
        |r, out| {
            copy_row!(
                out,
                r.id,
                r.project_id,
                r.period,
                r.period_start,
                r.period_end,
                r.physical_progress,
                r.risk_level,
                r.narrative,
                r.created_by
            )
        },
    )
    .await?;
    tx.commit().await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Loads a deterministic dataset of `projects` projects (about ten monitoring reports
/// each, agencies and mandates in proportion) into the database at `url`, with COPY in
/// one transaction. Loads the reference data (departments, offices) first when the
/// database has none. Its codes, references and registration numbers are series of their
/// own, so it can sit next to the demo data; appointments are added only to a database
/// that has none. Running it twice on one database fails on the second run, changing
/// nothing.
pub async fn scale(url: &str, projects: usize) -> anyhow::Result<ScaleReport> {
    let started = std::time::Instant::now();
    let reference = reference()?;
    let words = words()?;
    let mut conn = AsyncPgConnection::establish(url).await?;
    if is_empty(&mut conn).await? {
        conn.transaction(async |conn| load_reference(conn, &reference).await)
            .await?;
    }
    let countries = country_names(&mut conn).await?;
    let have_appointments: i64 = appointments::table.count().get_result(&mut conn).await?;
    drop(conn);
    let generating = std::time::Instant::now();
    let mut data = generate(&Spec::scale(projects), &words, &reference, &countries);
    if have_appointments > 0 {
        data.appointments.clear();
    }
    log::debug!(
        "generated {} rows in {:.2} s",
        data.rows(),
        generating.elapsed().as_secs_f64()
    );
    copy_dataset(url, &data).await?;
    Ok(ScaleReport {
        projects: data.projects.len(),
        rows: data.rows(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

mod assets;
mod entries;
mod memoranda;
mod sectors;
pub use entries::{EntriesReport, load as entries};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acronyms_take_the_significant_initials() {
        assert_eq!(
            acronym("Ministerio de Relaciones Exteriores").as_deref(),
            Some("MRE")
        );
        assert_eq!(
            acronym("Ministère de l'Éducation nationale").as_deref(),
            Some("MEN")
        );
        assert_eq!(acronym("Salud"), None);
    }

    #[test]
    fn roman_numerals() {
        assert_eq!(roman(52), "LII");
        assert_eq!(roman(44), "XLIV");
        assert_eq!(roman(49), "XLIX");
    }

    #[test]
    fn the_generator_is_deterministic() {
        let reference = reference().unwrap();
        let words = words().unwrap();
        let countries = HashMap::new();
        let a = generate(&Spec::demo(), &words, &reference, &countries);
        let b = generate(&Spec::demo(), &words, &reference, &countries);
        let codes = |d: &Dataset| {
            d.projects
                .iter()
                .map(|p| p.code.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&a), codes(&b));
        assert_eq!(a.reports.len(), b.reports.len());
    }
}
