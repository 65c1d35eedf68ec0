//! Writing to ledgers without a request, inside the caller's transaction (the demo
//! data): the same checks and the same `append` as the endpoints, so every entry has
//! its place in the hash chain, the ledger's running state, every summary and an audit
//! event, and every rule (balance, dates, closed periods, payees) holds.

use super::closings::close_in_tx;
use super::entries::reverse as reverse_entry;
use super::posting::{
    Head, Lookups, NewEntry, NewReversal, Posting, append, build, check_ledger, check_new_entry,
};
use super::*;
use crate::db::schema::{audit_events, executing_agencies};

/// Opens a ledger with the given id (the demo data's ids are stable).
pub async fn open(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    office_id: Uuid,
    fiscal_year: i32,
    fund: Fund,
    fund_code: Option<&str>,
) -> Result<(), ApiError> {
    caller.may_manage_finance()?;
    let row: LedgerRow = diesel::insert_into(ledgers::table)
        .values((
            ledgers::id.eq(id),
            ledgers::office_id.eq(office_id),
            ledgers::fiscal_year.eq(fiscal_year),
            ledgers::fund.eq(fund.as_str()),
            ledgers::fund_code.eq(fund_code),
        ))
        .returning(LedgerRow::as_returning())
        .get_result(conn)
        .await?;
    let ledger = Ledger::from(row);
    audit::record(
        conn,
        &caller.actor(),
        "create",
        "ledger",
        id,
        None,
        Some(&ledger),
    )
    .await
}

/// Posts `new` as entry `id` of `ledger_id`.
pub async fn post(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    id: Uuid,
    new: &NewEntry,
) -> Result<(), ApiError> {
    let mut posting = check_new_entry(new)?;
    posting.id = id;
    let ledger = load_ledger(conn, caller, ledger_id, true).await?;
    append(conn, caller, &ledger, posting, None)
        .await
        .map(|_| ())
}

/// Reverses entry `entry_id` of `ledger_id` on `date` as entry `id`.
pub async fn reverse(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    entry_id: Uuid,
    id: Uuid,
    date: NaiveDate,
    description: String,
) -> Result<(), ApiError> {
    let new = NewReversal {
        entry_date: Some(date),
        description: Some(description),
        reference: None,
    };
    reverse_entry(conn, caller, ledger_id, entry_id, new, Some(id), None)
        .await
        .map(|_| ())
}

/// Closes the period of `ledger_id` through `through`.
pub async fn close_period(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    through: NaiveDate,
) -> Result<(), ApiError> {
    close_in_tx(conn, caller, ledger_id, through)
        .await
        .map(|_| ())
}

/// One entry of [`post_all`].
pub enum Item {
    Post {
        id: Uuid,
        new: NewEntry,
    },
    /// Reverses an entry posted earlier (in this batch or before).
    Reverse {
        id: Uuid,
        of: Uuid,
        date: NaiveDate,
        description: String,
    },
}

/// Appends many entries to one ledger, in order, as posting them one by one would: each
/// is checked by the same functions as `POST /v1/ledgers/{id}/entries` (body, ledger,
/// dates, payee, project, rate, balance) and chained to the one before; then the
/// entries, the ledger's running state, every summary and one audit event per entry
/// are written with a few statements instead of a few per entry. The first refusal
/// stops the batch (and, being in the caller's transaction, undoes it).
pub async fn post_all(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    items: Vec<Item>,
) -> Result<usize, ApiError> {
    let ledger = load_ledger(conn, caller, ledger_id, true).await?;
    let office_closed_on: Option<NaiveDate> = offices::table
        .find(ledger.office_id)
        .select(offices::closed_on)
        .first(conn)
        .await?;
    let now: DateTime<Utc> = diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
        "clock_timestamp()",
    ))
    .get_result(conn)
    .await?;
    let project_offices: std::collections::HashMap<Uuid, Uuid> = projects::table
        .filter(projects::office_id.eq(ledger.office_id))
        .select((projects::id, projects::office_id))
        .load(conn)
        .await?
        .into_iter()
        .collect();
    let payees: Vec<Uuid> = items
        .iter()
        .filter_map(|i| match i {
            Item::Post { new, .. } => new.payee_agency_id,
            Item::Reverse { .. } => None,
        })
        .collect();
    let agencies: std::collections::HashMap<Uuid, Option<NaiveDate>> = executing_agencies::table
        .filter(executing_agencies::id.eq_any(&payees))
        .select((executing_agencies::id, executing_agencies::suspended_on))
        .load(conn)
        .await?
        .into_iter()
        .collect();
    // The rates of the year (and the last before it), latest first per currency.
    let rates: Vec<(String, NaiveDate, i64)> = exchange_rates::table
        .filter(
            exchange_rates::effective_on
                .le(NaiveDate::from_ymd_opt(ledger.fiscal_year, 12, 31).expect("a valid date")),
        )
        .order((
            exchange_rates::currency,
            exchange_rates::effective_on.desc(),
        ))
        .select((
            exchange_rates::currency,
            exchange_rates::effective_on,
            exchange_rates::usd_per_unit_e12,
        ))
        .load(conn)
        .await?;
    let rate_on = |currency: &str, d: NaiveDate| {
        rates
            .iter()
            .find(|(c, on, _)| c.trim() == currency && *on <= d)
            .map(|r| r.2)
    };
    let mut head = Head::of(&ledger);
    let mut rows: Vec<EntryRow> = Vec::with_capacity(items.len());
    let mut by_id: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    for item in items {
        let posting = match item {
            Item::Post { id, new } => {
                let mut p = check_new_entry(&new)?;
                p.id = id;
                p
            }
            Item::Reverse {
                id,
                of,
                date,
                description,
            } => {
                let original = match by_id.get(&of) {
                    Some(&i) => rows[i].clone(),
                    None => ledger_entries::table
                        .filter(ledger_entries::ledger_id.eq(ledger_id))
                        .filter(ledger_entries::id.eq(of))
                        .select(EntryRow::as_select())
                        .first(conn)
                        .await
                        .optional()?
                        .ok_or_else(ApiError::not_found)?,
                };
                if original.kind == "reversal"
                    || rows.iter().any(|r| r.reverses_entry_id == Some(of))
                {
                    return Err(ApiError::new(
                        ProblemType::AlreadyReversed,
                        text!(
                            "The entry was reversed already.",
                            "El asiento ya fue revertido."
                        ),
                    ));
                }
                Posting {
                    id,
                    kind: EntryKind::Reversal,
                    category: original.category.as_deref().map(Category::from_db),
                    entry_date: date,
                    description,
                    reference: None,
                    project_id: original.project_id,
                    payee_agency_id: original.payee_agency_id,
                    amount: match original.usd_per_unit_e12 {
                        // As `reverse`: in USD at the original's converted amount.
                        Some(_) => Money::usd(original.usd_minor),
                        None => Money::from_db(original.amount_minor, &original.currency),
                    },
                    sign: if original.effect_minor > 0 { -1 } else { 1 },
                    reverses: Some(original.id),
                }
            }
        };
        let errors = check_ledger(caller, &ledger, &posting)?;
        let currency = posting.amount.currency.code;
        let lookups = Lookups {
            project_office: posting
                .project_id
                .and_then(|p| project_offices.get(&p).copied()),
            agency: posting
                .payee_agency_id
                .and_then(|a| agencies.get(&a).copied()),
            office_closed_on,
            rate: if currency == "USD" {
                None
            } else {
                rate_on(currency, posting.entry_date)
            },
            now,
        };
        let (mut row, available) = build(caller, &ledger, &head, posting, &lookups, errors)?;
        // One transaction, one clock: a microsecond apart keeps them in posting order.
        row.created_at = (now + chrono::Duration::microseconds(rows.len() as i64)).trunc_subsecs(6);
        row.hash = row.compute_hash();
        head = Head {
            entry_count: row.seq,
            hash: row.hash.clone(),
            available_minor: available,
        };
        by_id.insert(row.id, rows.len());
        rows.push(row);
    }
    for chunk in rows.chunks(500) {
        diesel::insert_into(ledger_entries::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    diesel::update(ledgers::table.find(ledger_id))
        .set((
            ledgers::entry_count.eq(head.entry_count),
            ledgers::head_hash.eq(&head.hash),
            ledgers::available_minor.eq(head.available_minor),
        ))
        .execute(conn)
        .await?;
    // The summaries, from the new entries, by the function a posting adds its entry with.
    Prepared(
        diesel::sql_query("SELECT ledger_add_totals($1, $2)")
            .bind::<diesel::sql_types::Uuid, _>(ledger_id)
            .bind::<diesel::sql_types::BigInt, _>(ledger.entry_count),
    )
    .execute(conn)
    .await?;
    let actor = caller.actor();
    let events: Vec<_> = rows
        .iter()
        .map(|row| {
            let entry = Entry::from(row.clone());
            let action = if row.kind == "reversal" {
                "reverse"
            } else {
                "post"
            };
            (
                audit_events::id.eq(Uuid::now_v7()),
                audit_events::actor_sub.eq(actor.sub.clone()),
                audit_events::actor_role.eq(actor.role.clone()),
                audit_events::action.eq(action),
                audit_events::resource_type.eq("ledger_entry"),
                audit_events::resource_id.eq(row.id.to_string()),
                audit_events::after.eq(Some(
                    serde_json::to_value(&entry).expect("audited state serializes"),
                )),
            )
        })
        .collect();
    for chunk in events.chunks(500) {
        diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(rows.len())
}
