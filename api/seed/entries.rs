//! `ogsms seed --entries N`: N ledger entries, hash-chained and balanced, through COPY.
//!
//! Ledgers: one regular-fund ledger per office and fiscal year (2019 to the year of
//! [`AS_OF`]), plus specific, trust, development-cooperation and cost-recovery funds for
//! some of them; years before [`AS_OF`]'s are closed through 31 December. The entries are
//! skewed: the busiest ledger (the regular fund of the office with the most projects, in
//! the last complete year) holds 55% of them, so that a ledger many millions deep exists,
//! and the others share the rest by a Zipf law (weight 1/rank).
//!
//! Each ledger's entries are what the service would have written had they been posted one
//! by one (api/resources/ledgers, `append`): consecutive `seq`, dated in order through the fiscal
//! year, an allocation first and a new one whenever an expense would overdraw, refunds,
//! adjustments and reversals of earlier expenses, `prev_hash`/`hash` by the same function,
//! and the ledger's running state (`entry_count`, `head_hash`, `available_minor`). The
//! daily totals are rebuilt from the entries in the same transaction. What the service
//! would add and this does not: an audit event per entry and idempotency keys (the
//! entries were not posted by a caller).
//!
//! Generation runs on a thread of its own and hands COPY chunks to the connection through
//! a short channel, so memory stays at a few megabytes and the database ingests while the
//! next ledger is hashed.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::{AS_OF, CopyValue, Rng, demo_id};
use crate::resources::ledgers::EntryRow;

/// The busiest ledger's share of the entries, in percent.
const BUSIEST_SHARE: usize = 55;
/// The first fiscal year with ledgers.
const FIRST_YEAR: i32 = 2019;
/// Who the seeded rows name as their author.
const SEEDER: &str = "seed";

/// What `--entries` loaded.
#[derive(Debug, Clone)]
pub struct EntriesReport {
    pub ledgers: usize,
    pub entries: usize,
    /// The ledger with the most entries, and how many it has.
    pub busiest_ledger: Uuid,
    pub busiest_entries: usize,
    pub seconds: f64,
}

impl EntriesReport {
    pub fn entries_per_second(&self) -> f64 {
        self.entries as f64 / self.seconds.max(1e-9)
    }
}

struct Office {
    id: Uuid,
    code: String,
    projects: Vec<Uuid>,
}

/// A ledger to generate: who it is and how many entries it gets.
struct Plan {
    id: Uuid,
    office: usize,
    fiscal_year: i32,
    fund: &'static str,
    fund_code: Option<String>,
    entries: usize,
    seed: u64,
}

impl Plan {
    /// Years before [`AS_OF`]'s are closed through their last day.
    fn closed_through(&self) -> Option<NaiveDate> {
        (self.fiscal_year < AS_OF.year())
            .then(|| NaiveDate::from_ymd_opt(self.fiscal_year, 12, 31).expect("a valid date"))
    }
}

/// A ledger's state after its entries, written back to the ledger row.
struct Final {
    id: Uuid,
    entry_count: i64,
    head_hash: String,
    available_minor: i64,
}

fn plan(offices: &[Office], total: usize) -> Vec<Plan> {
    let mut rng = Rng::new(0x6c65_6467_6572_7321 ^ total as u64);
    let last_year = AS_OF.year();
    let mut plans = Vec::new();
    for (i, office) in offices.iter().enumerate() {
        for year in FIRST_YEAR..=last_year {
            let mut funds: Vec<(&'static str, Option<String>)> = vec![("regular_fund", None)];
            if rng.chance(60) {
                funds.push(("specific_fund", Some(format!("SF-{year}-{}", office.code))));
            }
            if rng.chance(30) {
                funds.push(("trust_fund", Some(format!("TF-{year}-{}", office.code))));
            }
            if rng.chance(40) {
                funds.push(("development_cooperation_fund", None));
            }
            if rng.chance(30) {
                funds.push(("indirect_cost_recovery", None));
            }
            for (fund, fund_code) in funds {
                let key = format!(
                    "{}/{year}/{fund}/{}",
                    office.code,
                    fund_code.as_deref().unwrap_or("")
                );
                plans.push(Plan {
                    id: demo_id("ledger", &key),
                    office: i,
                    fiscal_year: year,
                    fund,
                    fund_code,
                    entries: 0,
                    seed: rng.next_u64(),
                });
            }
        }
    }
    // The busiest: the regular fund of the office with the most projects, last full year.
    let busiest_office = (0..offices.len())
        .max_by_key(|&i| (offices[i].projects.len(), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let busiest = plans
        .iter()
        .position(|p| {
            p.office == busiest_office && p.fiscal_year == last_year - 1 && p.fund == "regular_fund"
        })
        .unwrap_or(0);
    // Zipf over the others, in a shuffled order.
    let mut others: Vec<usize> = (0..plans.len()).filter(|&i| i != busiest).collect();
    for i in (1..others.len()).rev() {
        let j = rng.index(i + 1);
        others.swap(i, j);
    }
    let rest = total - total * BUSIEST_SHARE / 100;
    let weights: Vec<f64> = (1..=others.len()).map(|r| 1.0 / r as f64).collect();
    let sum: f64 = weights.iter().sum();
    let mut given = 0;
    for (&i, w) in others.iter().zip(&weights) {
        let n = (rest as f64 * w / sum).floor() as usize;
        plans[i].entries = n;
        given += n;
    }
    plans[busiest].entries = total - given;
    plans
}

/// Descriptions by category (and by kind where there is none).
fn description(rng: &mut Rng, kind: &str, category: Option<&str>) -> &'static str {
    let options: &[&'static str] = match (kind, category) {
        ("allocation", _) => &[
            "Budget allotment",
            "Supplementary allotment",
            "Transfer from Headquarters",
        ],
        ("adjustment", _) => &[
            "Exchange difference",
            "Correction of a posting error",
            "Year-end adjustment",
        ],
        (_, Some("personnel")) => &["Local staff salaries", "Consultant fees", "Staff insurance"],
        (_, Some("travel")) => &[
            "Mission travel",
            "Per diem for a field visit",
            "Airfare to Washington",
        ],
        (_, Some("rent")) => &["Office rent", "Storage rent"],
        (_, Some("utilities")) => &["Electricity", "Water", "Building services"],
        (_, Some("communications")) => &["Internet service", "Telephone lines", "Postage"],
        (_, Some("supplies")) => &["Office supplies", "Printing paper and toner"],
        (_, Some("equipment")) => &["Laptops", "Furniture", "Vehicle maintenance"],
        (_, Some("contractual_services")) => {
            &["Translation services", "Cleaning contract", "Audit fees"]
        }
        (_, Some("project_disbursement")) => &[
            "Disbursement to the executing agency",
            "Workshop costs",
            "Project milestone payment",
        ],
        (_, Some("bank_charges")) => &["Bank charges", "Wire transfer fees"],
        _ => &["Miscellaneous expense"],
    };
    rng.pick::<&'static str>(options)
}

const CATEGORIES: &[(&str, u32)] = &[
    ("personnel", 20),
    ("travel", 15),
    ("rent", 4),
    ("utilities", 5),
    ("communications", 5),
    ("supplies", 10),
    ("equipment", 4),
    ("contractual_services", 10),
    ("project_disbursement", 20),
    ("bank_charges", 3),
    ("other", 4),
];

/// An amount in cents, log-uniform between `lo` and `hi` dollars.
fn amount(rng: &mut Rng, lo: f64, hi: f64) -> i64 {
    let u = rng.next_u64() as f64 / u64::MAX as f64;
    let dollars = lo * (hi / lo).powf(u);
    (dollars * 100.0).round().max(1.0) as i64
}

/// An earlier entry a reversal may undo.
#[derive(Clone)]
struct Reversible {
    id: Uuid,
    seq: i64,
    category: Option<&'static str>,
    project_id: Option<Uuid>,
    payee_agency_id: Option<Uuid>,
    amount_minor: i64,
    effect_minor: i64,
}

/// Generates one ledger's entries, appending their COPY rows to `out` (flushing through
/// `flush` when it grows past a megabyte), and returns the ledger's final state.
fn generate_ledger(
    plan: &Plan,
    office: &Office,
    agencies: &[Uuid],
    out: &mut String,
    flush: &mut dyn FnMut(&mut String) -> bool,
) -> Option<Final> {
    let n = plan.entries;
    let mut rng = Rng::new(plan.seed);
    let start = NaiveDate::from_ymd_opt(plan.fiscal_year, 1, 1).expect("a valid date");
    let end = if plan.fiscal_year == AS_OF.year() {
        AS_OF
    } else {
        NaiveDate::from_ymd_opt(plan.fiscal_year, 12, 31).expect("a valid date")
    };
    let days = (end - start).num_days() as u128 + 1;
    let span_us = days * 86_400_000_000;
    let step_us = (span_us / n.max(1) as u128).max(1);
    let origin: DateTime<Utc> = start.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    // The year's allotment: about what the year will spend, half up front.
    let initial = (n as i64)
        .saturating_mul(300_000)
        .clamp(1_000_000, 10i64.pow(14));
    let mut available: i64 = 0;
    let mut prev_hash = crate::resources::ledgers::ZERO_HASH.to_owned();
    let mut recent: Vec<Reversible> = Vec::new();
    for i in 0..n {
        let seq = i as i64 + 1;
        let offset_us = i as u128 * span_us / n as u128 + u128::from(rng.below(step_us as u64));
        let created_at = origin + Duration::microseconds(offset_us as i64);
        let entry_date = created_at.date_naive();
        let roll = rng.below(1000);
        // (kind, category, amount, sign, reverses)
        let mut kind: &'static str;
        let mut category: Option<&'static str> = None;
        let mut amount_minor: i64;
        let mut sign: i64;
        let mut reverses: Option<Reversible> = None;
        if i == 0 {
            kind = "allocation";
            amount_minor = initial;
            sign = 1;
        } else if roll < 850 {
            kind = "expense";
            category = Some(rng.weighted(CATEGORIES));
            amount_minor = amount(&mut rng, 10.0, 50_000.0);
            sign = -1;
        } else if roll < 890 {
            kind = "refund";
            category = Some(rng.weighted(CATEGORIES));
            amount_minor = amount(&mut rng, 5.0, 2_000.0);
            sign = 1;
        } else if roll < 920 {
            kind = "allocation";
            amount_minor = initial / rng.range(4, 10);
            sign = 1;
        } else if roll < 950 {
            kind = "adjustment";
            amount_minor = amount(&mut rng, 0.5, 500.0);
            sign = if rng.chance(50) { 1 } else { -1 };
        } else if roll < 965 && !recent.is_empty() {
            let r = recent.swap_remove(rng.index(recent.len()));
            kind = "reversal";
            category = r.category;
            amount_minor = r.amount_minor;
            sign = -r.effect_minor.signum();
            reverses = Some(r);
        } else {
            kind = "expense";
            category = Some(rng.weighted(CATEGORIES));
            amount_minor = amount(&mut rng, 10.0, 2_000.0);
            sign = -1;
        }
        if available + sign * amount_minor < 0 {
            // What a finance officer does when the money runs out: a new allotment.
            if let Some(r) = reverses.take() {
                recent.push(r);
            }
            kind = "allocation";
            category = None;
            amount_minor += initial / 2;
            sign = 1;
        }
        let (project_id, payee_agency_id) = match &reverses {
            Some(r) => (r.project_id, r.payee_agency_id),
            None if kind == "expense" || kind == "refund" => {
                let tagged = category == Some("project_disbursement") || rng.chance(25);
                let project =
                    (tagged && !office.projects.is_empty()).then(|| *rng.pick(&office.projects));
                let paid = matches!(
                    category,
                    Some("project_disbursement" | "contractual_services")
                ) && !agencies.is_empty()
                    && rng.chance(70);
                (project, paid.then(|| *rng.pick(agencies)))
            }
            None => (None, None),
        };
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&(rng.next_u64() as u16).to_le_bytes());
        let id =
            uuid::Builder::from_unix_timestamp_millis(created_at.timestamp_millis() as u64, &bytes)
                .into_uuid();
        let prefix = match kind {
            "expense" => Some("INV"),
            "refund" => Some("RF"),
            "allocation" => Some("ALL"),
            _ => None,
        };
        let effect_minor = sign * amount_minor;
        available += effect_minor;
        let mut row = EntryRow {
            id,
            ledger_id: plan.id,
            seq,
            kind: kind.to_owned(),
            category: category.map(str::to_owned),
            entry_date,
            description: match &reverses {
                Some(r) => format!("Reversal of entry {}", r.seq),
                None => description(&mut rng, kind, category).to_owned(),
            },
            reference: prefix.map(|p| format!("{p}-{}-{seq:07}", plan.fiscal_year)),
            project_id,
            payee_agency_id,
            amount_minor,
            currency: "USD".to_owned(),
            usd_per_unit_e12: None,
            usd_minor: amount_minor,
            effect_minor,
            reverses_entry_id: reverses.as_ref().map(|r| r.id),
            created_by: SEEDER.to_owned(),
            created_at,
            prev_hash: std::mem::take(&mut prev_hash),
            hash: String::new(),
        };
        row.hash = row.compute_hash();
        if matches!(kind, "expense" | "refund") {
            if recent.len() >= 64 {
                let k = rng.index(recent.len());
                recent.swap_remove(k);
            }
            recent.push(Reversible {
                id,
                seq,
                category,
                project_id,
                payee_agency_id,
                amount_minor,
                effect_minor,
            });
        }
        copy_row!(
            out,
            row.id,
            row.ledger_id,
            row.seq,
            row.kind,
            row.category,
            row.entry_date,
            row.description,
            row.reference,
            row.project_id,
            row.payee_agency_id,
            row.amount_minor,
            row.currency,
            row.usd_per_unit_e12,
            row.usd_minor,
            row.effect_minor,
            row.reverses_entry_id,
            row.created_by,
            row.created_at,
            row.prev_hash,
            row.hash
        );
        prev_hash = row.hash;
        if out.len() >= 1 << 20 && !flush(out) {
            return None;
        }
    }
    Some(Final {
        id: plan.id,
        entry_count: n as i64,
        head_hash: prev_hash,
        available_minor: available,
    })
}

impl CopyValue for DateTime<Utc> {
    fn put(&self, out: &mut String) {
        write!(out, "{}", self.format("%Y-%m-%d %H:%M:%S%.6f+00")).expect("writes to a String");
    }
}

impl CopyValue for i32 {
    fn put(&self, out: &mut String) {
        write!(out, "{self}").expect("writes to a String");
    }
}

/// A table's keys, foreign keys and indexes, set aside for a bulk load. Indexes are built
/// faster once than row by row, and foreign keys are checked faster by one join than by
/// a trigger per row; putting them back (as the catalog defined them) checks every row
/// again, so a duplicate or a dangling reference fails the load. Primary and unique keys
/// that another table references stay.
struct SetAside {
    table: &'static str,
    constraints: Vec<(String, String)>,
    indexes: Vec<(String, String)>,
}

impl SetAside {
    async fn take(
        tx: &tokio_postgres::Transaction<'_>,
        table: &'static str,
    ) -> anyhow::Result<SetAside> {
        let pairs = |rows: Vec<tokio_postgres::Row>| -> Vec<(String, String)> {
            rows.iter().map(|r| (r.get(0), r.get(1))).collect()
        };
        let constraints = pairs(
            tx.query(
                "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint c \
                  WHERE conrelid = $1::text::regclass \
                    AND (contype = 'f' OR (contype IN ('p', 'u') AND NOT EXISTS ( \
                          SELECT 1 FROM pg_constraint r WHERE r.confrelid = c.conrelid \
                             AND r.conrelid <> c.conrelid))) \
                  ORDER BY contype = 'f' DESC, conname",
                &[&table],
            )
            .await?,
        );
        let indexes = pairs(
            tx.query(
                "SELECT c.relname::text, pg_get_indexdef(c.oid) FROM pg_index x \
                   JOIN pg_class c ON c.oid = x.indexrelid \
                  WHERE x.indrelid = $1::text::regclass \
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) \
                  ORDER BY 1",
                &[&table],
            )
            .await?,
        );
        // Foreign keys first: one may need a key dropped after it.
        for (name, _) in &constraints {
            tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""))
                .await?;
        }
        for (name, _) in &indexes {
            tx.batch_execute(&format!("DROP INDEX \"{name}\"")).await?;
        }
        Ok(SetAside {
            table,
            constraints,
            indexes,
        })
    }

    async fn restore(self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
        // Keys first: a foreign key needs the key it references.
        for (name, definition) in self.constraints.iter().rev() {
            tx.batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT \"{name}\" {definition}",
                self.table
            ))
            .await?;
        }
        for (_, definition) in &self.indexes {
            tx.batch_execute(definition).await?;
        }
        Ok(())
    }
}

async fn read_offices(client: &tokio_postgres::Client) -> anyhow::Result<(Vec<Office>, Vec<Uuid>)> {
    let mut offices: Vec<Office> = client
        .query("SELECT id, code FROM offices ORDER BY code", &[])
        .await?
        .iter()
        .map(|r| Office {
            id: r.get(0),
            code: r.get(1),
            projects: Vec::new(),
        })
        .collect();
    if offices.is_empty() {
        anyhow::bail!(
            "--entries needs offices (and projects): load --demo or --scale N first, or with it"
        );
    }
    let index: std::collections::HashMap<Uuid, usize> =
        offices.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    for r in client
        .query("SELECT id, office_id FROM projects ORDER BY id", &[])
        .await?
    {
        let office: Uuid = r.get(1);
        if let Some(&i) = index.get(&office) {
            offices[i].projects.push(r.get(0));
        }
    }
    let agencies = client
        .query("SELECT id FROM executing_agencies ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((offices, agencies))
}

/// Loads `total` ledger entries (and their ledgers) into the database at `url`, in one
/// transaction. The same `total` on the same offices, projects and agencies gives the
/// same rows. Running it twice on one database fails on the second run (the ledgers
/// exist), changing nothing.
pub async fn load(url: &str, total: usize) -> anyhow::Result<EntriesReport> {
    use futures_util::SinkExt;
    let started = std::time::Instant::now();
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!("bulk-load connection: {e}");
        }
    });
    let (offices, agencies) = read_offices(&client).await?;
    let plans = plan(&offices, total);
    let tx = client.transaction().await?;

    super::copy_in(
        &tx,
        "ledgers",
        "id, office_id, fiscal_year, fund, fund_code, status, closed_through",
        &plans,
        |p, out| {
            let closed = p.closed_through();
            copy_row!(
                out,
                p.id,
                offices[p.office].id,
                p.fiscal_year,
                p.fund,
                p.fund_code,
                if closed.is_some() { "closed" } else { "open" },
                closed
            )
        },
    )
    .await?;
    // Past years were closed a fortnight after they ended.
    super::copy_in(
        &tx,
        "ledger_closings",
        "id, ledger_id, closed_through, created_by, created_at",
        &plans,
        |p, out| {
            if let Some(through) = p.closed_through() {
                let at = (through + Duration::days(15))
                    .and_hms_opt(14, 0, 0)
                    .expect("a valid time")
                    .and_utc();
                copy_row!(
                    out,
                    demo_id("ledger-closing", &p.id.to_string()),
                    p.id,
                    through,
                    SEEDER,
                    at
                )
            }
        },
    )
    .await?;

    tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL work_mem = '128MB'")
        .await?;
    let mut set_aside = Vec::new();
    for table in [
        "ledger_entries",
        "ledger_daily_totals",
        "project_daily_totals",
    ] {
        set_aside.push(SetAside::take(&tx, table).await?);
    }

    // The entries: generated on a thread, copied as they come.
    let (send, mut receive) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let generator = tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(1 << 21);
        let mut flush = |out: &mut String| {
            send.blocking_send(bytes::Bytes::from(std::mem::replace(
                out,
                String::with_capacity(1 << 21),
            )))
            .is_ok()
        };
        let mut finals = Vec::with_capacity(plans.len());
        for p in &plans {
            if p.entries == 0 {
                continue;
            }
            match generate_ledger(p, &offices[p.office], &agencies, &mut out, &mut flush) {
                Some(f) => finals.push(f),
                None => return (plans, finals),
            }
        }
        if !out.is_empty() {
            flush(&mut out);
        }
        (plans, finals)
    });
    let sink = tx
        .copy_in::<_, bytes::Bytes>(
            "COPY ledger_entries (id, ledger_id, seq, kind, category, entry_date, description, \
             reference, project_id, payee_agency_id, amount_minor, currency, usd_per_unit_e12, \
             usd_minor, effect_minor, reverses_entry_id, created_by, created_at, prev_hash, hash) \
             FROM STDIN",
        )
        .await?;
    futures_util::pin_mut!(sink);
    while let Some(chunk) = receive.recv().await {
        sink.send(chunk).await?;
    }
    let copied = sink.finish().await?;
    log::info!(
        "copied {copied} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (plans, finals) = generator.await?;
    anyhow::ensure!(
        copied as usize == total,
        "copied {copied} entries of {total}"
    );
    set_aside.remove(0).restore(&tx).await?;
    log::info!(
        "keys and indexes rebuilt at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The running state of each ledger, then the totals the service keeps per entry.
    tx.batch_execute(
        "CREATE TEMP TABLE seed_ledger_state (id uuid PRIMARY KEY, entry_count bigint, \
         head_hash text, available_minor bigint) ON COMMIT DROP",
    )
    .await?;
    super::copy_in(
        &tx,
        "seed_ledger_state",
        "id, entry_count, head_hash, available_minor",
        &finals,
        |f, out| copy_row!(out, f.id, f.entry_count, f.head_hash, f.available_minor),
    )
    .await?;
    // Fresh statistics, or the planner takes the new rows for an empty table.
    tx.batch_execute("ANALYZE ledger_entries; ANALYZE seed_ledger_state")
        .await?;
    tx.batch_execute(
        "UPDATE ledgers l SET entry_count = s.entry_count, head_hash = s.head_hash, \
         available_minor = s.available_minor FROM seed_ledger_state s WHERE s.id = l.id",
    )
    .await?;
    tx.execute(
        "INSERT INTO ledger_daily_totals (ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries) \
         SELECT ledger_id, entry_date, kind, coalesce(category, ''), sum(effect_minor), sum(usd_minor), count(*) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          GROUP BY ledger_id, entry_date, kind, coalesce(category, '')",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO ledger_monthly_totals (ledger_id, month, kind, category, effect_minor, usd_minor, entries) \
         SELECT ledger_id, date_trunc('month', entry_date)::date, kind, coalesce(category, ''), \
                sum(effect_minor), sum(usd_minor), count(*) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          GROUP BY ledger_id, date_trunc('month', entry_date)::date, kind, coalesce(category, '')",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO ledger_monthly_spending (ledger_id, month, effect_minor, entries) \
         SELECT ledger_id, date_trunc('month', entry_date)::date, sum(effect_minor), count(*) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          WHERE category IS NOT NULL \
          GROUP BY ledger_id, date_trunc('month', entry_date)::date",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO ledger_totals (ledger_id, kind, category, effect_minor, usd_minor, entries) \
         SELECT ledger_id, kind, coalesce(category, ''), sum(effect_minor), sum(usd_minor), count(*) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          GROUP BY ledger_id, kind, coalesce(category, '')",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO ledger_rate_totals (ledger_id, currency, usd_per_unit_e12, entries, first_entry_date, last_entry_date) \
         SELECT ledger_id, currency::text, usd_per_unit_e12, count(*), min(entry_date), max(entry_date) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          WHERE usd_per_unit_e12 IS NOT NULL \
          GROUP BY ledger_id, currency::text, usd_per_unit_e12",
        &[],
    )
    .await?;
    tx.execute(
        "INSERT INTO project_daily_totals (project_id, ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries) \
         SELECT project_id, ledger_id, entry_date, kind, coalesce(category, ''), sum(effect_minor), sum(usd_minor), count(*) \
           FROM ledger_entries e JOIN seed_ledger_state s ON s.id = e.ledger_id \
          WHERE project_id IS NOT NULL \
          GROUP BY project_id, ledger_id, entry_date, kind, coalesce(category, '')",
        &[],
    )
    .await?;
    for s in set_aside {
        s.restore(&tx).await?;
    }
    log::info!("totals rebuilt at {:.1} s", started.elapsed().as_secs_f64());
    tx.commit().await?;
    drop(client);
    let _ = driver.await;
    let busiest = plans
        .iter()
        .max_by_key(|p| p.entries)
        .expect("at least one ledger");
    Ok(EntriesReport {
        ledgers: plans.len(),
        entries: total,
        busiest_ledger: busiest.id,
        busiest_entries: busiest.entries,
        seconds: started.elapsed().as_secs_f64(),
    })
}
