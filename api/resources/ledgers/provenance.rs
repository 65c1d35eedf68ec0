//! What a ledger's figures are as of: the data's watermark, the last closed period, the
//! last verification that found the hash chain intact, and the exchange rates its USD
//! figures used.

use super::*;

/// The last verification of a ledger's hash chain that found it intact.
#[derive(Serialize, ToSchema)]
pub struct VerificationRecord {
    pub verified_at: DateTime<Utc>,
    /// Entries the chain had then.
    pub entry_count: i64,
    /// The head hash it recomputed.
    pub head_hash: String,
}

/// A rate to USD that converted some of the counted entries.
#[derive(Serialize, ToSchema)]
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

/// What a ledger figure is as of.
#[derive(Serialize, ToSchema)]
pub struct LedgerProvenance {
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before
    /// this instant is counted; one made at or after it may not be.
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

/// The ledger's closings, verification and rates (entries dated on or before `through`).
/// Read the watermark before the figures, and these after them.
pub(super) async fn of_ledger(
    conn: &AsyncPgConnection,
    ledger: Uuid,
    closed_through: Option<NaiveDate>,
    through: NaiveDate,
    data_as_of: DateTime<Utc>,
) -> Result<LedgerProvenance, ApiError> {
    use crate::db::schema::ledger_verifications as v;
    let (last_verification, rates) = futures_util::try_join!(
        async {
            v::table
                .find(ledger)
                .select((v::verified_at, v::entry_count, v::head_hash))
                .first::<(DateTime<Utc>, i64, String)>(&mut { conn })
                .await
                .optional()
        },
        async {
            diesel::sql_query(
                "SELECT currency::text AS currency, usd_per_unit_e12 AS rate, count(*) AS entries, \
                 min(entry_date) AS first_entry_date, max(entry_date) AS last_entry_date \
                 FROM ledger_entries \
                 WHERE ledger_id = $1 AND currency <> 'USD' AND entry_date <= $2 \
                   AND usd_per_unit_e12 IS NOT NULL \
                 GROUP BY 1, 2 ORDER BY 1, 4, 2",
            )
            .bind::<diesel::sql_types::Uuid, _>(ledger)
            .bind::<diesel::sql_types::Date, _>(through)
            .load::<RateRow>(&mut { conn })
            .await
        },
    )?;
    Ok(LedgerProvenance {
        data_as_of,
        closed_through,
        last_verification: last_verification.map(|(verified_at, entry_count, head_hash)| {
            VerificationRecord {
                verified_at,
                entry_count,
                head_hash,
            }
        }),
        exchange_rates: rates
            .into_iter()
            .map(|r| RateUsed {
                currency: r.currency,
                rate: money::format_rate(r.rate),
                entries: r.entries,
                first_entry_date: r.first_entry_date,
                last_entry_date: r.last_entry_date,
            })
            .collect(),
    })
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
