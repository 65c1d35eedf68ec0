//! What a ledger's figures are as of: the data's watermark, the last closed period, the
//! last verification that found the hash chain intact, and the exchange rates its USD
//! figures used.

use super::*;

/// The last verification of a ledger's hash chain that found it intact.
#[derive(Serialize, ToSchema, Debug)]
pub struct VerificationRecord {
    /// The ledger verified.
    pub ledger_id: Uuid,
    pub verified_at: DateTime<Utc>,
    /// Entries the chain had then.
    pub entry_count: i64,
    /// The head hash it recomputed.
    pub head_hash: String,
}

/// A rate to USD that converted some of the counted entries.
#[derive(Serialize, ToSchema, Debug)]
pub struct RateUsed {
    /// ISO 4217 code of the entries' currency.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// USD per unit of the currency, as applied (a decimal string).
    pub rate: String,
    /// Entries converted with it.
    pub entries: i64,
    pub first_entry_date: NaiveDate,
    pub last_entry_date: NaiveDate,
}

/// What a ledger figure is as of. For a report over several ledgers, each bound holds for
/// every ledger counted: `closed_through` is the earliest of their last closed periods,
/// `last_verification` the least recent of their last intact verifications (null when
/// one of them has none), and `exchange_rates` those of all their counted entries.
#[derive(Serialize, ToSchema, Debug)]
pub struct LedgerProvenance {
    /// The data's watermark: every change committed before this instant is counted; one
    /// made at or after it may not be. Reports over many ledgers give the sync watermark
    /// (as `X-Sync-Watermark`: every row stamped before it is counted too); one ledger's
    /// balance, read in one snapshot, gives the instant its statement started.
    pub data_as_of: DateTime<Utc>,
    /// The last closed period: entries dated on or before it are frozen (null when no
    /// period is closed).
    pub closed_through: Option<NaiveDate>,
    /// The last verification (`GET /v1/ledgers/{id}/verification`) that found the hash
    /// chain intact; null when none has.
    pub last_verification: Option<VerificationRecord>,
    /// The exchange rates that converted the counted entries in other currencies to
    /// USD, by currency and rate (empty when every entry is in USD).
    pub exchange_rates: Vec<RateUsed>,
}

#[derive(QueryableByName)]
struct RateRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rate: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    entries: i64,
    #[diesel(sql_type = diesel::sql_types::Date)]
    first_entry_date: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Date)]
    last_entry_date: NaiveDate,
}

#[derive(QueryableByName)]
struct LedgerStateRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    closed_through: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    verified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    entry_count: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    head_hash: Option<String>,
}

/// What figures over several ledgers (a report) are as of: the bounds that hold for
/// every one of `ledgers`, and the rates of their entries dated in `from..=through`
/// (open ends when `None`), of `projects` only when given. Read the watermark before the
/// figures, and this after them.
pub async fn of_ledgers(
    conn: &mut AsyncPgConnection,
    ledgers: &[Uuid],
    from: Option<NaiveDate>,
    through: Option<NaiveDate>,
    projects: Option<&[Uuid]>,
    data_as_of: DateTime<Utc>,
) -> Result<LedgerProvenance, ApiError> {
    let states: Vec<LedgerStateRow> = diesel::sql_query(
        "SELECT l.id AS ledger_id, \
                (SELECT max(c.closed_through) FROM ledger_closings c WHERE c.ledger_id = l.id) \
                  AS closed_through, \
                v.verified_at, v.entry_count, v.head_hash \
           FROM unnest($1::uuid[]) AS l(id) \
           LEFT JOIN ledger_verifications v ON v.ledger_id = l.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ledgers.to_vec())
    .load(conn)
    .await?;
    let rates: Vec<RateRow> = diesel::sql_query(
        "SELECT currency::text AS currency, usd_per_unit_e12 AS rate, count(*) AS entries, \
         min(entry_date) AS first_entry_date, max(entry_date) AS last_entry_date \
         FROM ledger_entries \
         WHERE ledger_id = ANY($1) AND currency <> 'USD' AND usd_per_unit_e12 IS NOT NULL \
           AND ($2::date IS NULL OR entry_date >= $2) AND ($3::date IS NULL OR entry_date <= $3) \
           AND ($4::uuid[] IS NULL OR project_id = ANY($4)) \
         GROUP BY 1, 2 ORDER BY 1, 4, 2",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ledgers.to_vec())
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Date>, _>(from)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Date>, _>(through)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::Uuid>>, _>(
        projects.map(<[Uuid]>::to_vec),
    )
    .load(conn)
    .await?;
    let closed_through = if states.iter().all(|s| s.closed_through.is_some()) {
        states.iter().filter_map(|s| s.closed_through).min()
    } else {
        None
    };
    let last_verification = if states.iter().all(|s| s.verified_at.is_some()) {
        states
            .into_iter()
            .filter_map(|s| {
                Some(VerificationRecord {
                    ledger_id: s.ledger_id,
                    verified_at: s.verified_at?,
                    entry_count: s.entry_count?,
                    head_hash: s.head_hash?,
                })
            })
            .min_by_key(|v| v.verified_at)
    } else {
        None
    };
    Ok(LedgerProvenance {
        data_as_of,
        closed_through,
        last_verification,
        exchange_rates: rates.into_iter().map(RateUsed::from).collect(),
    })
}

impl From<RateRow> for RateUsed {
    fn from(r: RateRow) -> Self {
        RateUsed {
            currency: r.currency,
            rate: money::format_rate(r.rate),
            entries: r.entries,
            first_entry_date: r.first_entry_date,
            last_entry_date: r.last_entry_date,
        }
    }
}

/// Keeps a verification that found the chain intact (the latest one per ledger).
pub(super) async fn record_verification(
    conn: &mut AsyncPgConnection,
    ledger: Uuid,
    entry_count: i64,
    head_hash: &str,
) -> Result<DateTime<Utc>, ApiError> {
    use crate::db::schema::ledger_verifications as v;
    let now = Utc::now().trunc_subsecs(6);
    diesel::insert_into(v::table)
        .values((
            v::ledger_id.eq(ledger),
            v::verified_at.eq(now),
            v::entry_count.eq(entry_count),
            v::head_hash.eq(head_hash),
        ))
        .on_conflict(v::ledger_id)
        .do_update()
        .set((
            v::verified_at.eq(now),
            v::entry_count.eq(entry_count),
            v::head_hash.eq(head_hash),
        ))
        .execute(conn)
        .await?;
    Ok(now)
}
