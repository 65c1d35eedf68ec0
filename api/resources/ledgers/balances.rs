//! `/v1/ledgers/{id}/balance`: read from the totals kept with every entry.

use super::*;

/// Totals of one kind.
#[derive(Serialize, ToSchema)]
pub struct KindTotal {
    pub kind: EntryKind,
    pub entries: i64,
    /// Gross amount in USD.
    pub amount: MonetaryAmount,
    /// Signed effect on the available balance.
    pub effect: SignedAmount,
}

/// Net spending on one object of expenditure (expenses − refunds, net of reversals).
#[derive(Serialize, ToSchema)]
pub struct CategoryTotal {
    pub category: Category,
    pub spent: SignedAmount,
}

/// A ledger's balance as of a day.
#[derive(Serialize, ToSchema)]
pub struct Balance {
    pub ledger_id: Uuid,
    /// Entries dated on or before this day count: the `as_of` asked for, else today or
    /// the ledger's last entry date, whichever is later (all entries count). Always set.
    pub as_of: Option<NaiveDate>,
    pub by_kind: Vec<KindTotal>,
    pub by_category: Vec<CategoryTotal>,
    /// Allocations − expenses + refunds ± adjustments ∓ reversals.
    pub available: MonetaryAmount,
    pub entry_count: i64,
    /// What these figures are as of.
    pub provenance: super::provenance::LedgerProvenance,
}

/// Query parameters of the balance.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Count entries dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub as_of: Option<String>,
}

/// A ledger's balance: totals by kind and category and the available balance, in USD.
///
/// Read from totals kept with every entry, never by summing the entries.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id"), BalanceQuery),
    responses(
        (status = 200, description = "The balance", body = Balance),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/balance")]
pub async fn get_balance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<BalanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let as_of = validate::param_date("as_of", query.as_of.as_deref())?;
    let department = match caller.finance_scope() {
        FinanceScope::Department(d) => Some(d),
        _ => None,
    };
    let mut conn = state.pool.get().await?;
    // One statement, one snapshot: the ledger, its totals, the day they are as of, the
    // last verification, the rates and the watermark (see `BALANCE_SQL`). The totals are
    // read before the caller is checked but shown only after.
    let mut query = diesel::sql_query(balance_sql(as_of.is_some(), department.is_some()))
        .into_boxed()
        .bind::<diesel::sql_types::Uuid, _>(id);
    if let Some(as_of) = as_of {
        query = query.bind::<diesel::sql_types::Date, _>(as_of);
    }
    if let Some(department) = department {
        query = query.bind::<diesel::sql_types::Uuid, _>(department);
    }
    let row: Option<BalanceRow> = Prepared(query).get_result(&mut conn).await.optional()?;
    drop(conn);
    let row = row.ok_or_else(ApiError::not_found)?;
    let visible = match caller.finance_scope() {
        FinanceScope::All => true,
        FinanceScope::Office(o) => o == row.office_id,
        FinanceScope::Department(_) => row.department_sees,
        FinanceScope::Nothing => false,
    };
    if !visible {
        return Err(ApiError::not_found());
    }
    caller.may_read_whole_ledger(row.office_id)?;
    // kind → (entries, gross, effect)
    let mut kinds: std::collections::BTreeMap<usize, (i64, i64, i64)> = Default::default();
    let mut spent: std::collections::BTreeMap<String, i64> = Default::default();
    let mut available = 0i64;
    let mut count = 0i64;
    let totals = row
        .kinds
        .unwrap_or_default()
        .into_iter()
        .zip(row.categories.unwrap_or_default())
        .zip(row.effects.unwrap_or_default())
        .zip(row.usds.unwrap_or_default())
        .zip(row.counts.unwrap_or_default());
    for ((((kind, category), effect), usd), entries) in totals {
        available += effect;
        count += entries;
        let k = EntryKind::from_db(&kind);
        let slot = kinds
            .entry(EntryKind::ALL.iter().position(|x| *x == k).unwrap_or(0))
            .or_default();
        slot.0 += entries;
        slot.1 += usd;
        slot.2 += effect;
        if !category.is_empty() {
            *spent.entry(category).or_default() -= effect;
        }
    }
    let by_kind: Vec<KindTotal> = kinds
        .into_iter()
        .map(|(i, (entries, gross, effect))| KindTotal {
            kind: EntryKind::ALL[i],
            entries,
            amount: Money::usd(gross).to_json(),
            effect: Money::usd(effect).to_signed(),
        })
        .collect();
    let last_verification = match (
        row.verified_at,
        row.verified_entries,
        row.verified_head_hash,
    ) {
        (Some(verified_at), Some(entry_count), Some(head_hash)) => {
            Some(super::provenance::VerificationRecord {
                ledger_id: id,
                verified_at,
                entry_count,
                head_hash,
            })
        }
        _ => None,
    };
    let exchange_rates = row
        .rate_currencies
        .unwrap_or_default()
        .into_iter()
        .zip(row.rates.unwrap_or_default())
        .zip(row.rate_entries.unwrap_or_default())
        .zip(row.rate_firsts.unwrap_or_default())
        .zip(row.rate_lasts.unwrap_or_default())
        .map(
            |((((currency, rate), entries), first_entry_date), last_entry_date)| {
                super::provenance::RateUsed {
                    currency,
                    rate: money::format_rate(rate),
                    entries,
                    first_entry_date,
                    last_entry_date,
                }
            },
        )
        .collect();
    // `available` and `entry_count` are the totals' own sums (the ledger row's running
    // figures are the same snapshot's, but the totals are what the figures break down).
    let balance = Balance {
        ledger_id: id,
        as_of: Some(row.as_of),
        by_kind,
        by_category: spent
            .into_iter()
            .map(|(c, v)| CategoryTotal {
                category: Category::from_db(&c),
                spent: Money::usd(v).to_signed(),
            })
            .collect(),
        available: Money::usd(available).to_json(),
        entry_count: count,
        provenance: super::provenance::LedgerProvenance {
            data_as_of: row.data_as_of,
            closed_through: row.closed_through,
            last_verification,
            exchange_rates,
        },
    };
    Ok(HttpResponse::Ok().json(balance))
}

/// The balance in one statement (one snapshot, one round trip), `$1` the ledger, `$2`
/// the `as_of` asked for (null: all entries), `$3` the caller's department when its
/// finance scope is one (null otherwise). No row when the ledger does not exist.
///
/// - `data_as_of` is the statement's start, before its snapshot: every posting committed
///   before it is in the figures (one ledger read in one snapshot needs no more; the
///   sync watermark of `crate::core::sync` reads `pg_stat_activity`, which cost more
///   than the rest of the statement: 0.22 of 0.6 ms in EXPLAIN ANALYZE, issue 19);
/// - without `$2`, the totals over all dates (a few dozen rows kept with every entry)
///   and the day they are as of: today (UTC) or the ledger's last entry date, whichever
///   is later; with it, the daily totals up to that day;
/// - the rates that converted the entries counted: without `$2`, the per-rate counts kept
///   with every entry (`ledger_rate_totals`, a few rows); with it, the foreign entries up
///   to that day, grouped (a partial index holds them);
/// - for a department, whether any entry of the ledger is tagged to its projects.
///
/// Arrays carry the row sets (one element per totals row, per rate), each aggregated in
/// the same pass so their elements line up.
const BALANCE_SQL: &str = concat!(
    "SELECT l.office_id, l.closed_through, ",
    "statement_timestamp() AS data_as_of, ",
    "d.as_of, t.kinds, t.categories, t.effects, t.usds, t.counts, ",
    "v.verified_at, v.entry_count AS verified_entries, v.head_hash AS verified_head_hash, ",
    "r.rate_currencies, r.rates, r.rate_entries, r.rate_firsts, r.rate_lasts, ",
    "CASE WHEN $3::uuid IS NULL THEN false ELSE EXISTS (",
    "SELECT 1 FROM ledger_entries e JOIN projects p ON p.id = e.project_id ",
    "WHERE e.ledger_id = l.id AND p.department_id = $3::uuid) END AS department_sees ",
    "FROM ledgers l ",
    "CROSS JOIN LATERAL (SELECT coalesce($2::date, greatest(",
    "(SELECT max(dt.entry_date) FROM ledger_daily_totals dt WHERE dt.ledger_id = l.id), ",
    "(now() AT TIME ZONE 'UTC')::date)) AS as_of) d ",
    "CROSS JOIN LATERAL (SELECT array_agg(x.kind) AS kinds, array_agg(x.category) AS categories, ",
    "array_agg(x.effect) AS effects, array_agg(x.usd) AS usds, array_agg(x.n) AS counts FROM (",
    "SELECT lt.kind, lt.category, lt.effect_minor AS effect, lt.usd_minor AS usd, lt.entries AS n ",
    "FROM ledger_totals lt WHERE lt.ledger_id = l.id AND $2::date IS NULL ",
    "UNION ALL ",
    "SELECT dt.kind, dt.category, sum(dt.effect_minor)::bigint, sum(dt.usd_minor)::bigint, ",
    "sum(dt.entries)::bigint FROM ledger_daily_totals dt ",
    "WHERE dt.ledger_id = l.id AND $2::date IS NOT NULL AND dt.entry_date <= $2::date ",
    "GROUP BY dt.kind, dt.category) x) t ",
    "LEFT JOIN ledger_verifications v ON v.ledger_id = l.id ",
    "CROSS JOIN LATERAL (SELECT ",
    "array_agg(y.currency ORDER BY y.currency, y.first, y.rate) AS rate_currencies, ",
    "array_agg(y.rate ORDER BY y.currency, y.first, y.rate) AS rates, ",
    "array_agg(y.n ORDER BY y.currency, y.first, y.rate) AS rate_entries, ",
    "array_agg(y.first ORDER BY y.currency, y.first, y.rate) AS rate_firsts, ",
    "array_agg(y.last ORDER BY y.currency, y.first, y.rate) AS rate_lasts FROM (",
    "SELECT rt.currency, rt.usd_per_unit_e12 AS rate, rt.entries AS n, ",
    "rt.first_entry_date AS first, rt.last_entry_date AS last FROM ledger_rate_totals rt ",
    "WHERE rt.ledger_id = l.id AND $2::date IS NULL ",
    "UNION ALL ",
    "SELECT e.currency::text, e.usd_per_unit_e12, count(*), min(e.entry_date), ",
    "max(e.entry_date) FROM ledger_entries e ",
    "WHERE e.ledger_id = l.id AND $2::date IS NOT NULL AND e.currency <> 'USD' ",
    "AND e.entry_date <= $2::date AND e.usd_per_unit_e12 IS NOT NULL GROUP BY 1, 2) y) r ",
    "WHERE l.id = $1",
);

/// [`BALANCE_SQL`] as sent: an argument not given is a NULL written in the text, not a
/// parameter, and the parameters are numbered in the order they are bound. With NULL
/// parameters PostgreSQL planned the statement again at every run (a custom plan: 0.32 ms
/// of planning for 0.13 ms of execution, `EXPLAIN (ANALYZE) EXECUTE` after six runs;
/// issue 19); with the ledger its only parameter, it keeps one generic plan.
fn balance_sql(as_of: bool, department: bool) -> &'static str {
    static VARIANTS: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
        let variant = |as_of: bool, department: bool| {
            let sql = if as_of {
                BALANCE_SQL.to_owned()
            } else {
                BALANCE_SQL.replace("$2::date", "NULL::date")
            };
            match (as_of, department) {
                (_, false) => sql.replace("$3::uuid", "NULL::uuid"),
                (false, true) => sql.replace("$3::uuid", "$2::uuid"),
                (true, true) => sql,
            }
        };
        [
            variant(false, false),
            variant(false, true),
            variant(true, false),
            variant(true, true),
        ]
    });
    &VARIANTS[usize::from(as_of) * 2 + usize::from(department)]
}

/// The row of [`BALANCE_SQL`].
#[derive(QueryableByName)]
struct BalanceRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    office_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    closed_through: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    data_as_of: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Date)]
    as_of: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Text>>)]
    kinds: Option<Vec<String>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Text>>)]
    categories: Option<Vec<String>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    effects: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    usds: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    counts: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    verified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    verified_entries: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    verified_head_hash: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Text>>)]
    rate_currencies: Option<Vec<String>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    rates: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    rate_entries: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Date>>)]
    rate_firsts: Option<Vec<NaiveDate>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Date>>)]
    rate_lasts: Option<Vec<NaiveDate>>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    department_sees: bool,
}

#[cfg(test)]
mod tests {
    /// One ledger in one snapshot: its `data_as_of` is the statement's start, not the
    /// sync watermark, whose `pg_stat_activity` read cost more than the rest of the
    /// statement (issue 19).
    #[test]
    fn a_balance_without_its_options_has_the_ledger_as_its_only_parameter() {
        let plain = super::balance_sql(false, false);
        assert!(plain.contains("$1") && !plain.contains("$2") && !plain.contains("$3"));
        let department = super::balance_sql(false, true);
        assert!(department.contains("$2::uuid") && !department.contains("$3"));
        let both = super::balance_sql(true, true);
        assert!(both.contains("$2::date") && both.contains("$3::uuid"));
        assert!(!super::balance_sql(true, false).contains("$3"));
    }

    #[test]
    fn the_balance_reads_no_backend_status() {
        assert!(!super::BALANCE_SQL.contains("pg_stat_activity"));
        assert!(super::BALANCE_SQL.contains("statement_timestamp() AS data_as_of"));
    }
}
