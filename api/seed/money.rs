//! The demo data's money: for every office, ledgers of the previous and the current fiscal
//! year (the regular fund, and the specific, trust and development-cooperation funds its
//! projects are financed by), quarterly allocations, a year of expenses in every object of
//! expenditure (personnel, rent and utilities monthly, travel, contracts, equipment and
//! disbursements to the projects' executing agencies as they come), refunds, reversals,
//! some of it in the member state's currency at monthly exchange rates, and closed
//! periods (month by month, the previous year through 31 December, the current one
//! through June or September, so that some offices are late closing the third quarter;
//! each closing made
//! [`CLOSED_AFTER_DAYS`] after the day it closes through), and every ledger's chain
//! verified once loaded.
//!
//! Every entry goes through the ledgers' own checks and writer
//! (`resources::ledgers::direct::post_all`, which checks and chains each entry with the
//! functions `POST /v1/ledgers/{id}/entries` uses and writes a ledger's entries in a few
//! statements), so the hash chains verify, the running balances and every summary
//! (daily, monthly, project totals) agree with the entries, each entry has its audit
//! event, and every rule holds (no overdraft, none after today or after a payee's
//! suspension). What is generated is deterministic (a seeded PRNG, the reference data,
//! dates relative to [`AS_OF`], ids as UUID v5 of codes); only `created_at` and the
//! hashes, which cover it, depend on when the data is loaded.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{AS_OF, Rng, demo_id};
use crate::auth::Caller;
use crate::auth::role::Role;
use crate::core::money::Money;
use crate::db::schema::{exchange_rates, executing_agencies, offices, project_agencies, projects};
use crate::resources::ledgers::closings::Closing;
use crate::resources::ledgers::direct;
use crate::resources::ledgers::posting::NewEntry;
use crate::resources::ledgers::verification;
use crate::resources::ledgers::{Category, EntryKind, Fund};

/// Days after the day it closes through that a demo closing was made.
const CLOSED_AFTER_DAYS: i32 = 12;

/// What the money load wrote.
#[derive(Debug, Default, Clone)]
pub struct MoneyReport {
    pub ledgers: usize,
    pub entries: usize,
    pub rates: usize,
    pub seconds: f64,
}

/// The member states whose offices pay part of their bills in local currency: the
/// currency and an approximate rate (US dollars per unit × 10^12) in early 2025.
const LOCAL_CURRENCIES: &[(&str, &str, i64)] = &[
    ("BO", "BOB", 144_700_000_000),
    ("BR", "BRL", 172_000_000_000),
    ("CO", "COP", 238_000_000),
    ("CR", "CRC", 1_980_000_000),
    ("DO", "DOP", 16_300_000_000),
    ("GT", "GTQ", 129_500_000_000),
    ("HN", "HNL", 39_300_000_000),
    ("JM", "JMD", 6_350_000_000),
    ("MX", "MXN", 49_100_000_000),
    ("PE", "PEN", 267_100_000_000),
    ("PY", "PYG", 127_000_000),
    ("TT", "TTD", 147_300_000_000),
    ("UY", "UYU", 22_900_000_000),
    ("AG", "XCD", 370_000_000_000),
    ("DM", "XCD", 370_000_000_000),
    ("GD", "XCD", 370_000_000_000),
    ("KN", "XCD", 370_000_000_000),
    ("LC", "XCD", 370_000_000_000),
    ("VC", "XCD", 370_000_000_000),
];

struct Office {
    id: Uuid,
    code: String,
    coordinating: bool,
    city: String,
    currency: Option<(&'static str, u32)>,
}

struct Project {
    id: Uuid,
    code: String,
    office_id: Uuid,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    budget_minor: i64,
    funding_source: String,
    donor_agreement: Option<String>,
    /// The lead agency first, then the partners; active ones only.
    payees: Vec<Uuid>,
}

impl Project {
    fn runs_on(&self, d: NaiveDate) -> bool {
        self.starts_on <= d && self.ends_on.is_none_or(|e| d <= e)
    }

    fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.starts_on <= to && self.ends_on.is_none_or(|e| from <= e)
    }
}

/// One entry to post, before it is posted.
struct Planned {
    date: NaiveDate,
    kind: EntryKind,
    category: Option<Category>,
    description: String,
    reference: Option<String>,
    project_id: Option<Uuid>,
    payee: Option<Uuid>,
    /// Minor units of `currency`.
    minor: i64,
    currency: &'static str,
    /// Reverse this entry (by its index in the ledger's plan) instead of posting it.
    reverses: Option<usize>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn month_name(m: u32) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ][m as usize - 1]
}

/// The rate of `currency` in force in month `m` of year `y` (set on the first of the
/// month): the base, drifting a little month by month.
fn rate_in(base: i64, currency: &str, y: i32, m: u32) -> i64 {
    let months = i64::from((y - (AS_OF.year() - 1)) * 12 + m as i32 - 1);
    let mut rng = Rng::new(u64::from_le_bytes(
        *demo_id("rate", currency)
            .as_bytes()
            .first_chunk()
            .expect("16 bytes"),
    ));
    let mut per_mille = 1000i64;
    for _ in 0..=months {
        per_mille += rng.range(-12, 10);
    }
    base / 1000 * per_mille
}

fn caller() -> Caller {
    Caller {
        sub: "seed".to_owned(),
        role: Role::Coordinator,
        office_id: None,
        department_id: None,
        jti: String::new(),
        expires_at: i64::MAX,
        request_id: None,
    }
}

async fn read_offices(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<Office>> {
    let rows: Vec<(Uuid, String, String, String, String)> = offices::table
        .filter(offices::status.eq("open"))
        .order(offices::code.asc())
        .select((
            offices::id,
            offices::code,
            offices::kind,
            offices::member_state,
            offices::city,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, code, kind, state, city)| Office {
            id,
            code,
            coordinating: kind == "coordinating_office",
            city,
            currency: LOCAL_CURRENCIES
                .iter()
                .find(|(s, _, _)| *s == state.trim())
                .map(|(_, c, _)| {
                    (
                        *c,
                        crate::core::money::exponent(c).expect("a known currency"),
                    )
                }),
        })
        .collect())
}

async fn read_projects(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<Project>> {
    type Row = (
        Uuid,
        String,
        Uuid,
        String,
        NaiveDate,
        Option<NaiveDate>,
        i64,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = projects::table
        .filter(projects::budget_currency.eq("USD"))
        .order(projects::code.asc())
        .select((
            projects::id,
            projects::code,
            projects::office_id,
            projects::status,
            projects::starts_on,
            projects::ends_on,
            projects::budget_amount,
            projects::funding_source,
            projects::donor_agreement,
        ))
        .load(conn)
        .await?;
    let links: Vec<(Uuid, Uuid, String)> = project_agencies::table
        .inner_join(executing_agencies::table)
        .filter(executing_agencies::status.eq("active"))
        .order((project_agencies::project_id, project_agencies::agency_id))
        .select((
            project_agencies::project_id,
            project_agencies::agency_id,
            project_agencies::role,
        ))
        .load(conn)
        .await?;
    let mut payees: BTreeMap<Uuid, Vec<(bool, Uuid)>> = BTreeMap::new();
    for (project, agency, role) in links {
        payees
            .entry(project)
            .or_default()
            .push((role != "lead", agency));
    }
    Ok(rows
        .into_iter()
        // Money moves on projects under way or done, not on those in the pipeline.
        .filter(|r| !matches!(r.3.as_str(), "pipeline" | "approved" | "cancelled"))
        .map(|r| {
            let mut p = payees.remove(&r.0).unwrap_or_default();
            p.sort();
            Project {
                id: r.0,
                code: r.1,
                office_id: r.2,
                starts_on: r.4,
                ends_on: r.5,
                budget_minor: r.6,
                funding_source: r.7,
                donor_agreement: r.8,
                payees: p.into_iter().map(|(_, a)| a).collect(),
            }
        })
        .collect())
}

/// Inserts the monthly exchange rates of every local currency, from January of the
/// previous year through [`AS_OF`]'s month.
async fn load_rates(conn: &mut AsyncPgConnection) -> anyhow::Result<usize> {
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    for (_, currency, base) in LOCAL_CURRENCIES {
        if !seen.insert(*currency) {
            continue;
        }
        for y in [AS_OF.year() - 1, AS_OF.year()] {
            for m in 1..=12u32 {
                let on = date(y, m, 1);
                if on > AS_OF {
                    break;
                }
                rows.push((
                    exchange_rates::id.eq(demo_id("exchange-rate", &format!("{currency}/{on}"))),
                    exchange_rates::currency.eq(*currency),
                    exchange_rates::effective_on.eq(on),
                    exchange_rates::usd_per_unit_e12.eq(rate_in(*base, currency, y, m)),
                    exchange_rates::created_by.eq("seed"),
                ));
            }
        }
    }
    diesel::insert_into(exchange_rates::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(rows.len())
}

/// A ledger to load: who it is and what it holds.
struct LedgerPlan {
    id: Uuid,
    code: String,
    office_id: Uuid,
    year: i32,
    fund: Fund,
    fund_code: Option<String>,
    entries: Vec<Planned>,
    /// Closed through these days, in order, after the entries.
    closings: Vec<NaiveDate>,
}

/// Money in minor units: `usd` dollars and cents as minor units of USD.
fn usd(cents: i64) -> (i64, &'static str) {
    (cents, "USD")
}

/// `usd_cents` worth of the office's local currency (at the base rate, rounded to
/// whole units), or the dollars themselves when it has none.
fn local(office: &Office, usd_cents: i64) -> (i64, &'static str) {
    match office.currency {
        None => usd(usd_cents),
        Some((code, exponent)) => {
            let base = LOCAL_CURRENCIES
                .iter()
                .find(|(_, c, _)| *c == code)
                .expect("listed")
                .2;
            // units = usd_cents / 100 / (base / 1e12)
            let units = (i128::from(usd_cents) * 10_000_000_000 / i128::from(base)) as i64;
            (units.max(1) * 10i64.pow(exponent), code)
        }
    }
}

/// The approximate US-dollar cents of an amount (for keeping the plan within the
/// balance; the service converts exactly).
fn approx_usd(minor: i64, currency: &str) -> i64 {
    if currency == "USD" {
        return minor;
    }
    let (_, _, base) = LOCAL_CURRENCIES
        .iter()
        .find(|(_, c, _)| *c == currency)
        .expect("listed");
    let exponent = crate::core::money::exponent(currency).expect("known");
    // Drift is at most a few percent: count 10% more, to be safe.
    (i128::from(minor) * i128::from(*base) * 110 / 100 / 10_000_000_000 / 10i128.pow(exponent))
        as i64
}

impl Planned {
    fn new(
        date: NaiveDate,
        kind: EntryKind,
        category: Option<Category>,
        description: String,
        (minor, currency): (i64, &'static str),
    ) -> Planned {
        Planned {
            date,
            kind,
            category,
            description,
            reference: None,
            project_id: None,
            payee: None,
            minor,
            currency,
            reverses: None,
        }
    }

    fn effect_usd(&self) -> i64 {
        let v = approx_usd(self.minor, self.currency);
        match self.kind {
            EntryKind::Expense => -v,
            _ => v,
        }
    }
}

/// The plan of the regular fund of `office` in `year`, through `end`.
fn regular_fund(
    rng: &mut Rng,
    office: &Office,
    projects: &[&Project],
    year: i32,
    end: NaiveDate,
) -> Vec<Planned> {
    let envelope = if office.coordinating {
        rng.range(900_000, 1_200_000)
    } else {
        rng.range(180_000, 420_000)
    } * 100;
    let mut plan = Vec::new();
    for (q, m) in [(1, 1u32), (2, 4), (3, 7), (4, 10)] {
        let d = date(year, m, 2);
        if d <= end {
            plan.push(Planned::new(
                d,
                EntryKind::Allocation,
                None,
                format!("Regular Fund allotment, Q{q} {year}"),
                usd(envelope / 4),
            ));
        }
    }
    let city = &office.city;
    for m in 1..=12u32 {
        let last = (date(year, m, 1) + chrono::Months::new(1)) - Duration::days(1);
        if last > end {
            break;
        }
        let month = month_name(m);
        let pct = |rng: &mut Rng, share_per_mille: i64| {
            envelope * share_per_mille / 1000 / 12 * rng.range(97, 103) / 100
        };
        let personnel = pct(rng, 430);
        plan.push(Planned::new(
            date(year, m, 25),
            EntryKind::Expense,
            Some(Category::Personnel),
            format!("Local staff salaries and benefits, {month} {year}"),
            usd(personnel),
        ));
        let rent = envelope * 110 / 1000 / 12;
        plan.push(Planned::new(
            date(year, m, 5),
            EntryKind::Expense,
            Some(Category::Rent),
            format!("Office rent, {city}, {month} {year}"),
            local(office, rent),
        ));
        let utilities = pct(rng, 18);
        plan.push(Planned::new(
            date(year, m, 12),
            EntryKind::Expense,
            Some(Category::Utilities),
            format!("Electricity and water, {month} {year}"),
            local(office, utilities),
        ));
        if m % 2 == 0 {
            let comms = pct(rng, 28);
            plan.push(Planned::new(
                date(year, m, 15),
                EntryKind::Expense,
                Some(Category::Communications),
                format!(
                    "Internet, telephone and courier, {} and {month} {year}",
                    month_name(m - 1)
                ),
                usd(comms),
            ));
        }
        if m % 3 == 0 {
            plan.push(Planned::new(
                last,
                EntryKind::Expense,
                Some(Category::BankCharges),
                format!("Bank charges, Q{} {year}", m / 3),
                usd(rng.range(4_500, 27_000)),
            ));
        }
        if rng.chance(55) {
            let day = rng.range(3, 27) as u32;
            let to = *rng.pick(&[
                "Washington, D.C.",
                "the interior of the country",
                "Panama City",
                "the capital's ministries",
            ]);
            plan.push(Planned::new(
                date(year, m, day),
                EntryKind::Expense,
                Some(Category::Travel),
                format!("Mission travel to {to}: airfare and per diem"),
                usd(rng.range(80_000, 600_000)),
            ));
        }
        if m % 3 == 1 {
            plan.push(Planned::new(
                date(year, m, rng.range(8, 20) as u32),
                EntryKind::Expense,
                Some(Category::Supplies),
                format!("Office supplies, Q{} {year}", m.div_ceil(3)),
                local(office, rng.range(40_000, 250_000)),
            ));
        }
        if rng.chance(12) {
            let what = *rng.pick(&[
                "Laptop computers (2)",
                "Multifunction printer",
                "Videoconference equipment",
                "Uninterruptible power supply",
            ]);
            plan.push(Planned::new(
                date(year, m, rng.range(3, 27) as u32),
                EntryKind::Expense,
                Some(Category::Equipment),
                what.to_owned(),
                usd(rng.range(150_000, 1_100_000)),
            ));
        }
        if rng.chance(35) {
            let what = *rng.pick(&[
                "Interpretation services, national dialogue workshop",
                "Translation of technical documents",
                "Consultancy: electoral observation logistics",
                "Cleaning and security services",
            ]);
            plan.push(Planned::new(
                date(year, m, rng.range(3, 27) as u32),
                EntryKind::Expense,
                Some(Category::ContractualServices),
                what.to_owned(),
                usd(rng.range(200_000, 1_400_000)),
            ));
        }
        if rng.chance(15) {
            plan.push(Planned::new(
                date(year, m, rng.range(3, 27) as u32),
                EntryKind::Expense,
                Some(Category::Other),
                "Official hospitality, visit of a delegation".to_owned(),
                usd(rng.range(10_000, 150_000)),
            ));
        }
        // The regular fund's share of projects under way this month.
        let running: Vec<&&Project> = projects
            .iter()
            .filter(|p| p.funding_source == "regular_fund" && p.runs_on(date(year, m, 20)))
            .collect();
        if !running.is_empty() && rng.chance(30) {
            let p = running[rng.index(running.len())];
            let mut e = Planned::new(
                date(year, m, 20),
                EntryKind::Expense,
                Some(Category::ProjectDisbursement),
                format!("Disbursement to the executing agency, project {}", p.code),
                usd(rng.range(300_000, 2_500_000)),
            );
            e.project_id = Some(p.id);
            e.payee = <[Uuid]>::first(&p.payees).copied();
            plan.push(e);
        }
    }
    plan
}

/// The plan of an earmarked fund (`projects` share its donor agreement) in `year`.
fn earmarked_fund(
    rng: &mut Rng,
    office: &Office,
    projects: &[&Project],
    year: i32,
    end: NaiveDate,
    agreement: &str,
) -> Vec<Planned> {
    let (from, to) = (date(year, 1, 1), end);
    let funded: Vec<&&Project> = projects.iter().filter(|p| p.overlaps(from, to)).collect();
    // A year's share of each project's budget, in two tranches.
    let yearly: i64 = funded
        .iter()
        .map(|p| {
            let years = p
                .ends_on
                .map_or(3, |e| (e.year() - p.starts_on.year() + 1).max(1));
            p.budget_minor / i64::from(years)
        })
        .sum::<i64>()
        .max(5_000_000);
    let mut plan = Vec::new();
    for (t, m) in [(1, 2u32), (2, 7)] {
        let d = date(year, m, 3);
        if d <= end {
            plan.push(Planned::new(
                d,
                EntryKind::Allocation,
                None,
                format!("Donor contribution under agreement {agreement}, tranche {t}"),
                usd(yearly / 2),
            ));
        }
    }
    for m in 2..=12u32 {
        let d = date(year, m, rng.range(8, 26) as u32);
        if d > end {
            break;
        }
        for p in &funded {
            if !rng.chance(30) {
                continue;
            }
            // Mostly within the project's dates; now and then a last payment after it
            // ended, which the reconciliation flags.
            let late = p.ends_on.is_some_and(|e| e < d) && rng.chance(8);
            if !p.runs_on(d) && !late {
                continue;
            }
            let (category, what) = *rng.pick(&[
                (
                    Category::ProjectDisbursement,
                    "Disbursement to the executing agency",
                ),
                (
                    Category::ProjectDisbursement,
                    "Disbursement to the executing agency",
                ),
                (Category::Travel, "Field monitoring visit"),
                (Category::ContractualServices, "Evaluation consultancy"),
                (Category::Supplies, "Workshop materials"),
            ]);
            let amount = if category == Category::ProjectDisbursement {
                usd(rng.range(500_000, 4_000_000))
            } else if category == Category::Supplies {
                local(office, rng.range(30_000, 200_000))
            } else {
                usd(rng.range(100_000, 900_000))
            };
            let mut e = Planned::new(
                d,
                EntryKind::Expense,
                Some(category),
                format!("{what}, project {}", p.code),
                amount,
            );
            e.project_id = Some(p.id);
            if category == Category::ProjectDisbursement {
                e.payee = <[Uuid]>::first(&p.payees).copied();
            }
            plan.push(e);
        }
    }
    plan
}

/// Adds refunds and reversals to a plan, keeps it within the balance, and sorts it by
/// date.
fn finish(rng: &mut Rng, mut plan: Vec<Planned>, end: NaiveDate) -> Vec<Planned> {
    plan.sort_by_key(|e| (e.date, e.kind != EntryKind::Allocation));
    // Drop what the balance cannot carry (the service would refuse it).
    let mut available = 0i64;
    plan.retain(|e| {
        let effect = e.effect_usd();
        if available + effect < 0 {
            return false;
        }
        available += effect;
        true
    });
    let expenses: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i].kind == EntryKind::Expense)
        .collect();
    if expenses.is_empty() {
        return plan;
    }
    let mut extra = Vec::new();
    // Refunds: part of a trip not made, unspent project funds returned.
    for _ in 0..rng.range(1, 3) {
        let i = expenses[rng.index(expenses.len())];
        let original = &plan[i];
        let d = original.date + Duration::days(rng.range(10, 40));
        if d > end || original.currency != "USD" {
            continue;
        }
        let mut r = Planned::new(
            d,
            EntryKind::Refund,
            original.category,
            format!("Refund: {}", original.description),
            usd(original.minor * rng.range(10, 40) / 100),
        );
        r.project_id = original.project_id;
        r.payee = original.payee;
        extra.push(r);
    }
    // Reversals: a duplicate payment, an invoice posted to the wrong fund.
    for _ in 0..rng.range(1, 2) {
        let i = expenses[rng.index(expenses.len())];
        let d = plan[i].date + Duration::days(rng.range(2, 20));
        if d > end || extra.iter().any(|e: &Planned| e.reverses == Some(i)) {
            continue;
        }
        let why = *rng.pick(&["duplicate payment", "posted to the wrong fund"]);
        let mut r = Planned::new(
            d,
            EntryKind::Reversal,
            None,
            format!("Reversal of {}: {why}", plan[i].description),
            (0, "USD"),
        );
        r.reverses = Some(i);
        extra.push(r);
    }
    let n = plan.len();
    plan.extend(extra);
    // Refunds and reversals only add to the balance: sorting them in keeps it positive.
    // Reversals keep pointing at their original (indices below `n` do not move).
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| (plan[i].date, i >= n, i));
    let position: BTreeMap<usize, usize> = order.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let mut slots: Vec<Option<Planned>> = plan.into_iter().map(Some).collect();
    order
        .iter()
        .map(|&i| {
            let mut e = slots[i].take().expect("each once");
            e.reverses = e.reverses.map(|r| position[&r]);
            e
        })
        .collect()
}

fn plans(offices: &[Office], projects: &[Project]) -> Vec<LedgerPlan> {
    let mut out = Vec::new();
    for office in offices {
        let own: Vec<&Project> = projects
            .iter()
            .filter(|p| p.office_id == office.id)
            .collect();
        let mut rng = Rng::new(u64::from_le_bytes(
            *demo_id("money", &office.code)
                .as_bytes()
                .first_chunk()
                .expect("16 bytes"),
        ));
        for year in [AS_OF.year() - 1, AS_OF.year()] {
            let end = if year == AS_OF.year() {
                AS_OF
            } else {
                date(year, 12, 31)
            };
            // Month by month, each within its deadline, through December of the previous
            // year and through September or June of the current one.
            let through = if year < AS_OF.year() {
                12
            } else if rng.chance(50) {
                9
            } else {
                6
            };
            let closings: Vec<NaiveDate> = (1..=through)
                .map(|m| date(year, m, 1) + Duration::days(31))
                .map(|d| d.with_day(1).unwrap() - Duration::days(1))
                .collect();
            let mut ledger = |fund: Fund, fund_code: Option<String>, entries: Vec<Planned>| {
                let code = format!(
                    "{}/{year}/{}{}",
                    office.code,
                    fund.as_str(),
                    fund_code
                        .as_deref()
                        .map(|c| format!("/{c}"))
                        .unwrap_or_default()
                );
                out.push(LedgerPlan {
                    id: demo_id("ledger", &code),
                    code,
                    office_id: office.id,
                    year,
                    fund,
                    fund_code,
                    entries,
                    closings: closings.clone(),
                });
            };
            let regular = regular_fund(&mut rng, office, &own, year, end);
            ledger(Fund::RegularFund, None, finish(&mut rng, regular, end));
            // Earmarked funds: a donor agreement of the office's projects
            // under way this year, and the development cooperation fund if it has any.
            let mut agreements: BTreeMap<(String, String), Vec<&Project>> = BTreeMap::new();
            for p in &own {
                if let Some(a) = &p.donor_agreement
                    && p.overlaps(date(year, 1, 1), end)
                {
                    agreements
                        .entry((p.funding_source.clone(), a.clone()))
                        .or_default()
                        .push(p);
                }
            }
            for ((fund, agreement), funded) in agreements.into_iter().take(1) {
                let entries = earmarked_fund(&mut rng, office, &funded, year, end, &agreement);
                ledger(
                    Fund::from_db(&fund),
                    Some(agreement),
                    finish(&mut rng, entries, end),
                );
            }
            let dcf: Vec<&Project> = own
                .iter()
                .copied()
                .filter(|p| {
                    p.funding_source == "development_cooperation_fund"
                        && p.overlaps(date(year, 1, 1), end)
                })
                .collect();
            if !dcf.is_empty() {
                let entries = earmarked_fund(&mut rng, office, &dcf, year, end, "DCF");
                ledger(
                    Fund::DevelopmentCooperationFund,
                    None,
                    finish(&mut rng, entries, end),
                );
            }
        }
    }
    out
}

/// Writes closings of a ledger as they were made, each [`CLOSED_AFTER_DAYS`] after the
/// day it closes through, with their audit events, in one statement.
async fn record_history(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    through: &[NaiveDate],
) -> anyhow::Result<()> {
    if through.is_empty() {
        return Ok(());
    }
    let actor = caller.actor();
    let rows: Vec<serde_json::Value> = through
        .iter()
        .map(|&d| {
            let closing = Closing {
                id: Uuid::now_v7(),
                ledger_id,
                closed_through: d,
                created_by: caller.sub.clone(),
                created_at: (d + Duration::days(i64::from(CLOSED_AFTER_DAYS)))
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight exists")
                    .and_utc(),
            };
            serde_json::json!({
                "audit_id": Uuid::now_v7(),
                "after": closing,
                "id": closing.id,
                "closed_through": closing.closed_through,
                "created_at": closing.created_at,
            })
        })
        .collect();
    diesel::sql_query(
        "WITH x AS (SELECT * FROM jsonb_to_recordset($1) AS x(audit_id uuid, after jsonb, id uuid, \
                    closed_through date, created_at timestamptz)), \
              c AS (INSERT INTO ledger_closings (id, ledger_id, closed_through, created_by, created_at) \
                    SELECT id, $2, closed_through, $3, created_at FROM x) \
         INSERT INTO audit_events (id, actor_sub, actor_role, action, resource_type, resource_id, \
                                   request_id, after) \
         SELECT audit_id, $3, $4, 'close_period', 'ledger', $2::text, NULL, after FROM x",
    )
    .bind::<diesel::sql_types::Jsonb, _>(serde_json::Value::Array(rows))
    .bind::<diesel::sql_types::Uuid, _>(ledger_id)
    .bind::<diesel::sql_types::Text, _>(&actor.sub)
    .bind::<diesel::sql_types::Text, _>(&actor.role)
    .execute(conn)
    .await?;
    Ok(())
}

/// Loads the demo money into the database, in the caller's transaction, after the
/// offices, projects and agencies.
pub async fn load(conn: &mut AsyncPgConnection) -> anyhow::Result<MoneyReport> {
    let offices = read_offices(conn).await?;
    let projects = read_projects(conn).await?;
    let rates = load_rates(conn).await?;
    let caller = caller();
    let mut report = MoneyReport {
        rates,
        ..MoneyReport::default()
    };
    let fail = |what: String| move |e: crate::core::error::ApiError| anyhow::anyhow!("{what}: {e}");
    for plan in plans(&offices, &projects) {
        direct::open(
            conn,
            &caller,
            plan.id,
            plan.office_id,
            plan.year,
            plan.fund,
            plan.fund_code.as_deref(),
        )
        .await
        .map_err(fail(format!("opening ledger {}", plan.code)))?;
        report.ledgers += 1;
        let ids: Vec<Uuid> = (0..plan.entries.len())
            .map(|i| demo_id("ledger-entry", &format!("{}/{}", plan.code, i + 1)))
            .collect();
        let items: Vec<direct::Item> = plan
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| match e.reverses {
                Some(r) => direct::Item::Reverse {
                    id: ids[i],
                    of: ids[r],
                    date: e.date,
                    description: e.description.clone(),
                },
                None => direct::Item::Post {
                    id: ids[i],
                    new: NewEntry {
                        kind: e.kind,
                        category: e.category,
                        direction: None,
                        entry_date: e.date,
                        description: e.description.clone(),
                        reference: e.reference.clone(),
                        project_id: e.project_id,
                        payee_agency_id: e.payee,
                        amount: Money::from_db(e.minor, e.currency).to_json(),
                    },
                },
            })
            .collect();
        report.entries += direct::post_all(conn, &caller, plan.id, items)
            .await
            .map_err(fail(format!("posting the entries of {}", plan.code)))?;
        // Closed after the entries: what is dated in them was posted before. The months
        // before the last are history, written in one statement with their audit events
        // (a closing at a time costs ~6 round trips, ~1,500 closings in all); the last
        // goes through the closings' own checks and sets the ledger's `closed_through`.
        // Each closing is history as of AS_OF, like the entries' dates: made
        // CLOSED_AFTER_DAYS after the day it closes through, within the deadline the
        // reconciliation checks, so that only the periods the demo leaves open show as
        // late (made at load time, every closing would be). `record_history` writes that
        // time; the last closing is dated after its own code has written it.
        if let Some((last, earlier)) = plan.closings.split_last() {
            record_history(conn, &caller, plan.id, earlier).await?;
            direct::close_period(conn, &caller, plan.id, *last)
                .await
                .map_err(fail(format!("closing {} through {last}", plan.code)))?;
            diesel::sql_query(
                "UPDATE ledger_closings SET created_at = (closed_through + $3)::timestamptz \
                  WHERE ledger_id = $1 AND closed_through = $2",
            )
            .bind::<diesel::sql_types::Uuid, _>(plan.id)
            .bind::<diesel::sql_types::Date, _>(*last)
            .bind::<diesel::sql_types::Integer, _>(CLOSED_AFTER_DAYS)
            .execute(conn)
            .await?;
        }
        // And the chain is verified once loaded, as an office would after a closing.
        let (count, head): (i64, String) = crate::db::schema::ledgers::table
            .find(plan.id)
            .select((
                crate::db::schema::ledgers::entry_count,
                crate::db::schema::ledgers::head_hash,
            ))
            .first(conn)
            .await?;
        let intact = verification::verify_and_record(conn, plan.id, count, &head)
            .await
            .map_err(fail(format!("verifying {}", plan.code)))?;
        anyhow::ensure!(intact, "the chain of {} does not verify", plan.code);
    }
    Ok(report)
}
