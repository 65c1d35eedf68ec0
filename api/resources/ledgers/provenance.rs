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
