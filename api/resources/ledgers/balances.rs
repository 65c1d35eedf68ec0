//! `/v1/ledgers/{id}/balance`: read from the totals kept with every entry.

use super::*;

/// Kind, category (`''` for none), effect, USD amount and entries of a ledger's totals.
pub(super) type TotalsRow = (String, String, i64, i64, i64);

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
#[get("/ledgers/{id}/balance")]
pub async fn get_balance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<BalanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let as_of = validate::param_date("as_of", query.as_of.as_deref())?;
    let mut conn = state.pool.get().await?;
    // Before the figures: every change committed before it is in them.
    let data_as_of = crate::core::sync::watermark(&mut conn).await?;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    // The ledger and, in the same pipeline (one round trip), without `as_of` its totals
    // over all dates (a few dozen rows), with it the daily totals up to that day. The
    // totals are read before the caller is checked but shown only after.
    let (ledger, rows): (Option<LedgerRow>, Vec<TotalsRow>) = {
        let c: &AsyncPgConnection = &conn;
        futures_util::try_join!(
            async {
                ledgers::table
                    .find(id)
                    .select(LedgerRow::as_select())
                    .first(&mut { c })
                    .await
                    .optional()
            },
            async {
                match as_of {
                    None => {
                        ledger_totals::table
                            .filter(ledger_totals::ledger_id.eq(id))
                            .select((
                                ledger_totals::kind,
                                ledger_totals::category,
                                ledger_totals::effect_minor,
                                ledger_totals::usd_minor,
                                ledger_totals::entries,
                            ))
                            .load(&mut { c })
                            .await
                    }
                    Some(d) => {
                        ledger_daily_totals::table
                            .filter(ledger_daily_totals::ledger_id.eq(id))
                            .filter(ledger_daily_totals::entry_date.le(d))
                            .group_by((ledger_daily_totals::kind, ledger_daily_totals::category))
                            .select((
                                ledger_daily_totals::kind,
                                ledger_daily_totals::category,
                                sql::<BigInt>("SUM(effect_minor)::bigint"),
                                sql::<BigInt>("SUM(usd_minor)::bigint"),
                                sql::<BigInt>("SUM(entries)::bigint"),
                            ))
                            .load(&mut { c })
                            .await
                    }
                }
            },
        )?
    };
    let ledger = visible_or_404(&mut conn, &caller, ledger).await?;
    caller.may_read_whole_ledger(ledger.office_id)?;
    let as_of = match as_of {
        Some(d) => d,
        None => {
            let last: Option<NaiveDate> = ledger_daily_totals::table
                .filter(ledger_daily_totals::ledger_id.eq(id))
                .select(diesel::dsl::max(ledger_daily_totals::entry_date))
                .first(&mut conn)
                .await?;
            let today = Utc::now().date_naive();
            last.map_or(today, |l| l.max(today))
        }
    };
    let provenance =
        super::provenance::of_ledger(&conn, id, ledger.closed_through, as_of, data_as_of).await?;
    // kind → (entries, gross, effect)
    let mut kinds: std::collections::BTreeMap<usize, (i64, i64, i64)> = Default::default();
    let mut spent: std::collections::BTreeMap<String, i64> = Default::default();
    let mut available = 0i64;
    let mut count = 0i64;
    for (kind, category, effect, usd, entries) in rows {
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
    // `available` and `entry_count` are the totals' own sums, so that the figures agree
    // with each other even while entries are being posted (the ledger row, read by
    // another statement, may already count one more).
    let balance = Balance {
        ledger_id: id,
        as_of: Some(as_of),
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
        provenance,
    };
    Ok(HttpResponse::Ok().json(balance))
}
