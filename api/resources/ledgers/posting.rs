//! Posting an entry: checking the body, converting the currency, and `append`, which
//! writes the entry, the ledger's running state, the totals and the audit event in one
//! pipeline (see the module `ledgers` for the hash chain).

use super::idempotency::{Created, KeyClaim, Stored, key_outcome};
use super::*;
use crate::db::schema::executing_agencies;

/// A new entry. (Reversals have their own operation.)
#[derive(Deserialize, ToSchema, Serialize)]
#[schema(example = json!({"kind": "allocation", "entry_date": "2026-03-02", "description": "Quarterly allocation", "amount": {"amount": "1250.50", "currency": "USD"}}))]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// `allocation`, `expense`, `refund` or `adjustment` (a reversal has an operation of
    /// its own).
    #[schema(value_type = PostableEntryKind)]
    pub kind: EntryKind,
    /// Required for expenses and refunds; refused otherwise.
    pub category: Option<Category>,
    /// Required for adjustments; refused otherwise.
    pub direction: Option<Direction>,
    /// Within the ledger's fiscal year, after its closed periods.
    pub entry_date: NaiveDate,
    #[schema(
        example = "Airfare Lima–Washington, electoral observation mission",
        pattern = "<line>",
        max_length = 1000
    )]
    pub description: String,
    #[schema(pattern = "<line>", max_length = 100)]
    pub reference: Option<String>,
    /// A project of the ledger's office.
    pub project_id: Option<Uuid>,
    /// The executing agency paid.
    pub payee_agency_id: Option<Uuid>,
    /// Greater than zero.
    #[schema(value_type = crate::core::money::PositiveMonetaryAmount)]
    pub amount: MonetaryAmount,
}

/// Schema-only type of the kinds of entry `POST /v1/ledgers/{id}/entries` posts: every
/// kind but `reversal`, which has an operation of its own.
pub struct PostableEntryKind;

impl utoipa::PartialSchema for PostableEntryKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "`allocation`, `expense`, `refund` or `adjustment` (a reversal is posted with \
                 `POST /v1/ledgers/{id}/entries/{entry_id}/reversal`).",
            ))
            .enum_values(Some(
                [
                    EntryKind::Allocation,
                    EntryKind::Expense,
                    EntryKind::Refund,
                    EntryKind::Adjustment,
                ]
                .map(|k| k.as_str()),
            ))
            .into()
    }
}

impl utoipa::ToSchema for PostableEntryKind {}

/// Reversing an entry.
#[derive(Deserialize, ToSchema, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewReversal {
    /// Defaults to today.
    pub entry_date: Option<NaiveDate>,
    /// Defaults to "Reversal of entry N".
    #[schema(pattern = "<line>", max_length = 1000)]
    pub description: Option<String>,
    #[schema(pattern = "<line>", max_length = 100)]
    pub reference: Option<String>,
}

/// The rate in force on `date` for `currency`: the latest on or before it.
pub(super) async fn rate_on(
    mut conn: &AsyncPgConnection,
    currency: &str,
    date: NaiveDate,
) -> QueryResult<Option<i64>> {
    exchange_rates::table
        .filter(exchange_rates::currency.eq(currency))
        .filter(exchange_rates::effective_on.le(date))
        .order(exchange_rates::effective_on.desc())
        .select(exchange_rates::usd_per_unit_e12)
        .first(&mut conn)
        .await
        .optional()
}

/// What a posting carries once the body is checked.
pub(super) struct Posting {
    /// The new entry's id (a UUID v7, or the demo data's own).
    pub(super) id: Uuid,
    pub(super) kind: EntryKind,
    pub(super) category: Option<Category>,
    pub(super) entry_date: NaiveDate,
    pub(super) description: String,
    pub(super) reference: Option<String>,
    pub(super) project_id: Option<Uuid>,
    pub(super) payee_agency_id: Option<Uuid>,
    pub(super) amount: Money,
    /// Sign of the effect: +1 or −1.
    pub(super) sign: i64,
    pub(super) reverses: Option<Uuid>,
}

pub(super) fn check_new_entry(new: &NewEntry) -> Result<Posting, ApiError> {
    let mut errors = Vec::new();
    let amount = Money::validate("amount", &new.amount, &mut errors);
    if amount.is_some_and(|a| a.minor == 0) {
        errors.push(FieldError::new(
            "amount.amount",
            "not_positive",
            text!("must be greater than zero", "debe ser mayor que cero"),
        ));
    }
    let needs_category = matches!(new.kind, EntryKind::Expense | EntryKind::Refund);
    match (needs_category, new.category) {
        (true, None) => errors.push(FieldError::new(
            "category",
            "required",
            text!(
                "expenses and refunds name their object of expenditure",
                "los gastos y reembolsos indican su objeto de gasto"
            ),
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "category",
            "not_allowed",
            text!(
                "only expenses and refunds have a category",
                "solo los gastos y reembolsos tienen categoría"
            ),
        )),
        _ => {}
    }
    let sign = match (new.kind, new.direction) {
        (EntryKind::Adjustment, Some(Direction::Increase)) => 1,
        (EntryKind::Adjustment, Some(Direction::Decrease)) => -1,
        (EntryKind::Adjustment, None) => {
            errors.push(FieldError::new(
                "direction",
                "required",
                text!(
                    "an adjustment says whether it increases or decreases",
                    "un ajuste indica si aumenta o disminuye"
                ),
            ));
            1
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(
                "direction",
                "not_allowed",
                text!(
                    "only adjustments have a direction",
                    "solo los ajustes tienen dirección"
                ),
            ));
            1
        }
        (EntryKind::Allocation | EntryKind::Refund, None) => 1,
        (EntryKind::Expense, None) => -1,
        (EntryKind::Reversal, None) => {
            errors.push(FieldError::new(
                "kind",
                "use_reversal_operation",
                text!(
                    "post reversals with POST /v1/ledgers/{{id}}/entries/{{entry_id}}/reversal",
                    "las reversiones se registran con POST /v1/ledgers/{{id}}/entries/{{entry_id}}/reversal"
                ),
            ));
            1
        }
    };
    let description = new.description.clone();
    validate::line("description", &description, 1000, &mut errors);
    let reference = new.reference.clone();
    if let Some(r) = &reference {
        validate::line("reference", r, 100, &mut errors);
    }
    validate::finish(errors)?;
    Ok(Posting {
        id: Uuid::now_v7(),
        kind: new.kind,
        category: new.category,
        entry_date: new.entry_date,
        description,
        reference,
        project_id: new.project_id,
        payee_agency_id: new.payee_agency_id,
        amount: amount.expect("checked above"),
        sign,
        reverses: None,
    })
}

pub(super) fn insufficient_funds(available: i64, needed: i64) -> ApiError {
    let available = money::format_decimal(available, 2);
    let needed = money::format_decimal(needed, 2);
    ApiError::new(
        ProblemType::InsufficientFunds,
        text!(
            "The entry needs USD {needed} but the ledger has USD {available} available.",
            "El asiento necesita USD {needed} pero el libro tiene USD {available} disponibles."
        ),
    )
}

/// The date rules of an entry (issue 21 §5), against the payee's suspension date, the
/// office's closing date and the database's clock:
/// - nothing but a reversal is dated after today (`entry_date.in_future`) or after its
///   office's closing date (`entry_date.after_office_closed`); a reversal keeps its own
///   date rules (in the ledger's fiscal year, after its closed periods, today by default);
/// - no expense (a payment) to an executing agency is dated on or after the day it was
///   suspended (`payee_agency_id.agency_suspended`).
pub(super) fn date_rules(
    p: &Posting,
    agency_suspended_on: Option<NaiveDate>,
    office_closed_on: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let date = p.entry_date;
    let today = now.date_naive();
    if p.kind != EntryKind::Reversal && date > today {
        errors.push(FieldError::new(
            "entry_date",
            "in_future",
            text!(
                "must not be after today ({today})",
                "no puede ser posterior a hoy ({today})"
            ),
        ));
    }
    if p.kind != EntryKind::Reversal
        && let Some(closed) = office_closed_on
        && date > closed
    {
        errors.push(FieldError::new(
            "entry_date",
            "after_office_closed",
            text!(
                "must not be after the office's closing date {closed}",
                "no puede ser posterior a la fecha de cierre de la oficina, {closed}"
            ),
        ));
    }
    if p.kind == EntryKind::Expense
        && let (Some(agency), Some(since)) = (p.payee_agency_id, agency_suspended_on)
        && date >= since
    {
        errors.push(FieldError::new(
            "payee_agency_id",
            "agency_suspended",
            text!(
                "the executing agency {agency} is suspended since {since}; no payment to it may be dated on or after that day",
                "la agencia ejecutora {agency} está suspendida desde el {since}; ningún pago a ella puede fecharse ese día o después"
            ),
        ));
    }
    errors
}

/// The checks of a posting that need nothing from the database: who may post, the
/// ledger's and its periods' closing, the fiscal year (returned as field errors, to be
/// reported with the others).
pub(super) fn check_ledger(
    caller: &Caller,
    ledger: &LedgerRow,
    p: &Posting,
) -> Result<Vec<FieldError>, ApiError> {
    caller.may_post_entries(ledger.office_id)?;
    if ledger.status == "closed" {
        return Err(ApiError::new(
            ProblemType::PeriodClosed,
            text!("The ledger is closed.", "El libro está cerrado."),
        ));
    }
    if let Some(through) = ledger.closed_through
        && p.entry_date <= through
    {
        return Err(ApiError::new(
            ProblemType::PeriodClosed,
            text!(
                "The period through {through} is closed; date the entry after it.",
                "El período hasta {through} está cerrado; feche el asiento después."
            ),
        )
        .with_errors(vec![FieldError::new(
            "entry_date",
            "period_closed",
            text!("falls in a closed period", "cae en un período cerrado"),
        )]));
    }
    let mut errors = Vec::new();
    if p.entry_date.year() != ledger.fiscal_year {
        let year = ledger.fiscal_year;
        errors.push(FieldError::new(
            "entry_date",
            "outside_fiscal_year",
            text!(
                "must fall in the ledger's fiscal year {year}",
                "debe caer en el año fiscal {year} del libro"
            ),
        ));
    }
    Ok(errors)
}

/// What a posting needs to know from the database.
pub(super) struct Lookups {
    /// The office of the entry's project (None without a project, or an unknown one).
    pub(super) project_office: Option<Uuid>,
    /// The payee, when the entry names one and it exists: since when it is suspended.
    pub(super) agency: Option<Option<NaiveDate>>,
    pub(super) office_closed_on: Option<NaiveDate>,
    /// The rate in force on the entry's date, for another currency than USD.
    pub(super) rate: Option<i64>,
    /// The database's clock, read inside the transaction.
    pub(super) now: DateTime<Utc>,
}

/// A ledger's running state: what the next entry chains to.
pub(super) struct Head {
    pub(super) entry_count: i64,
    pub(super) hash: String,
    pub(super) available_minor: i64,
}

impl Head {
    pub(super) fn of(ledger: &LedgerRow) -> Head {
        Head {
            entry_count: ledger.entry_count,
            hash: ledger.head_hash.clone(),
            available_minor: ledger.available_minor,
        }
    }
}

/// The checks that read what the database told ([`Lookups`]), the conversion, the
/// balance, and the entry's row with its hash chained to `head`; `errors` are those of
/// [`check_ledger`]. Returns the row and the available balance after it.
pub(super) fn build(
    caller: &Caller,
    ledger: &LedgerRow,
    head: &Head,
    p: Posting,
    l: &Lookups,
    mut errors: Vec<FieldError>,
) -> Result<(EntryRow, i64), ApiError> {
    let currency = p.amount.currency.code.to_owned();
    let (project_office, agency, office_closed_on, rate, created_at) = (
        l.project_office,
        l.agency,
        l.office_closed_on,
        l.rate,
        l.now,
    );
    if p.project_id.is_some() && project_office != Some(ledger.office_id) {
        errors.push(FieldError::new(
            "project_id",
            "not_of_this_office",
            text!(
                "must be a project of the ledger's office",
                "debe ser un proyecto de la oficina del libro"
            ),
        ));
    }
    if p.payee_agency_id.is_some() && agency.is_none() {
        errors.push(FieldError::new(
            "payee_agency_id",
            "unknown",
            text!(
                "no such executing agency",
                "no existe esa agencia ejecutora"
            ),
        ));
    }
    errors.extend(date_rules(
        &p,
        agency.flatten(),
        office_closed_on,
        created_at,
    ));
    if currency != "USD" && rate.is_none() {
        let date = p.entry_date;
        errors.push(FieldError::new(
            "amount.currency",
            "no_rate",
            text!(
                "has no exchange rate in force on {date}",
                "no tiene tipo de cambio vigente el {date}"
            ),
        ));
    }
    validate::finish(errors)?;
    let usd_minor = match rate {
        None => p.amount.minor,
        Some(r) => money::to_usd_minor(p.amount.minor, p.amount.currency.exponent, r)
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "amount.amount",
                    "out_of_range",
                    text!(
                        "converts to an amount out of range",
                        "convierte a un monto fuera de rango"
                    ),
                )
            })?,
    };
    let effect = p.sign * usd_minor;
    let available = head
        .available_minor
        .checked_add(effect)
        .ok_or_else(|| insufficient_funds(head.available_minor, usd_minor))?;
    if available < 0 {
        return Err(insufficient_funds(head.available_minor, usd_minor));
    }
    let mut row = EntryRow {
        id: p.id,
        ledger_id: ledger.id,
        seq: head.entry_count + 1,
        kind: p.kind.as_str().to_owned(),
        category: p.category.map(|c| c.as_str().to_owned()),
        entry_date: p.entry_date,
        description: p.description,
        reference: p.reference,
        project_id: p.project_id,
        payee_agency_id: p.payee_agency_id,
        amount_minor: p.amount.minor,
        currency,
        usd_per_unit_e12: rate,
        usd_minor,
        effect_minor: effect,
        reverses_entry_id: p.reverses,
        created_by: caller.sub.clone(),
        created_at: created_at.trunc_subsecs(6),
        prev_hash: head.hash.clone(),
        hash: String::new(),
    };
    row.hash = row.compute_hash();
    Ok((row, available))
}

/// What a posting reads from the database, once its ledger is locked: the project's
/// office, the payee, the office's closing date, the rate and the database's clock, in
/// one pipeline (one round trip). For the writes that lock their ledger themselves
/// (reversals, the demo data); a posting reads them with [`open`].
pub(super) async fn lookups(
    conn: &mut AsyncPgConnection,
    ledger: &LedgerRow,
    p: &Posting,
) -> Result<Lookups, ApiError> {
    let currency = p.amount.currency.code;
    let c: &AsyncPgConnection = conn;
    let (project_office, agency, office_closed_on, rate, now) = futures_util::try_join!(
        async {
            match p.project_id {
                None => Ok(None),
                Some(project) => projects::table
                    .find(project)
                    .select(projects::office_id)
                    .first::<Uuid>(&mut { c })
                    .await
                    .optional(),
            }
        },
        // The payee: whether it exists, and since when it is suspended.
        async {
            match p.payee_agency_id {
                None => Ok(None),
                Some(agency) => executing_agencies::table
                    .find(agency)
                    .select(executing_agencies::suspended_on)
                    .first::<Option<NaiveDate>>(&mut { c })
                    .await
                    .optional(),
            }
        },
        // The office's closing date: nothing is dated after it.
        offices::table
            .find(ledger.office_id)
            .select(offices::closed_on)
            .first::<Option<NaiveDate>>(&mut { c }),
        async {
            if currency == "USD" {
                Ok(None)
            } else {
                rate_on(c, currency, p.entry_date).await
            }
        },
        // The database's clock, read inside the transaction: incremental sync relies
        // on it never being before the transaction's start (see `crate::core::sync`).
        Prepared(diesel::select(diesel::dsl::sql::<
            diesel::sql_types::Timestamptz,
        >("clock_timestamp()")))
        .get_result::<DateTime<Utc>>(&mut { c }),
    )?;
    Ok(Lookups {
        project_office,
        agency,
        office_closed_on,
        rate,
        now,
    })
}

/// Appends a posting to a locked ledger: checks, hashes, writes the entry, the running
/// state, every summary and the audit event. Call inside the transaction that locked
/// `ledger`.
pub(super) async fn append(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger: &LedgerRow,
    p: Posting,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    let errors = check_ledger(caller, ledger, &p)?;
    let lookups = lookups(conn, ledger, &p).await?;
    write(conn, caller, ledger, p, &lookups, errors, claim).await
}

/// What `ledger_post_open` (migration `2026-12-08-601_ledger_post_functions`) answers.
#[derive(QueryableByName)]
struct Opened {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    stored_hash: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
    stored_status: Option<i16>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    stored_body: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    stored_location: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ledger_found: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    l_office_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    l_fiscal_year: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    l_fund: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    l_fund_code: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    l_currency: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    l_status: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    l_closed_through: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    l_entry_count: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    l_head_hash: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    l_available_minor: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    l_created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    l_updated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bool>)]
    department_sees: Option<bool>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    project_office: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bool>)]
    agency_found: Option<bool>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    agency_suspended_on: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    office_closed_on: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    rate: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    now: Option<DateTime<Utc>>,
}

/// Posts `p` to ledger `ledger_id` in the caller's transaction, with two statements:
/// `ledger_post_open` (the key's lock and stored response, the ledger's lock, what the
/// checks read), then, once the entry is checked and hashed here, `ledger_post_write`.
/// The answers and their order are those of claiming the key ([`claim_key`]), loading
/// the ledger (`load_ledger`) and [`append`]: 409 while another request holds the key,
/// the stored response (`Err`) or 422 for a used key, 404 for a ledger the caller does
/// not see, then the checks of the posting.
///
/// [`claim_key`]: super::idempotency::claim_key
pub(super) async fn post(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger_id: Uuid,
    p: Posting,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Result<Created, Stored>, ApiError> {
    use diesel::sql_types::{Date, Nullable, Text, Uuid as SqlUuid};
    let department = match caller.finance_scope() {
        FinanceScope::Department(d) => Some(d),
        _ => None,
    };
    let o: Opened = Prepared(
        diesel::sql_query("SELECT * FROM ledger_post_open($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind::<SqlUuid, _>(ledger_id)
            .bind::<Text, _>(&caller.sub)
            .bind::<Nullable<Text>, _>(claim.map(|c| c.key))
            .bind::<Nullable<SqlUuid>, _>(department)
            .bind::<Nullable<SqlUuid>, _>(p.project_id)
            .bind::<Nullable<SqlUuid>, _>(p.payee_agency_id)
            .bind::<Text, _>(p.amount.currency.code)
            .bind::<Date, _>(p.entry_date),
    )
    .get_result(conn)
    .await?;
    if let Some(claim) = claim {
        let stored = match (o.stored_hash, o.stored_status, o.stored_body) {
            (Some(hash), Some(status), Some(body)) => Some((hash, status, body, o.stored_location)),
            _ => None,
        };
        if let Some(stored) = key_outcome(o.locked, stored, claim.hash)? {
            return Ok(Err(stored));
        }
    }
    let ledger = match (
        o.ledger_found,
        o.l_office_id,
        o.l_fiscal_year,
        o.l_fund,
        o.l_currency,
        o.l_status,
        o.l_entry_count,
        o.l_head_hash,
        o.l_available_minor,
        o.l_created_at,
        o.l_updated_at,
    ) {
        (
            true,
            Some(office_id),
            Some(fiscal_year),
            Some(fund),
            Some(currency),
            Some(status),
            Some(entry_count),
            Some(head_hash),
            Some(available_minor),
            Some(created_at),
            Some(updated_at),
        ) => LedgerRow {
            id: ledger_id,
            office_id,
            fiscal_year,
            fund,
            fund_code: o.l_fund_code,
            currency,
            status,
            closed_through: o.l_closed_through,
            entry_count,
            head_hash,
            available_minor,
            created_at,
            updated_at,
        },
        _ => return Err(ApiError::not_found()),
    };
    let visible = match caller.finance_scope() {
        FinanceScope::All => true,
        FinanceScope::Office(office) => office == ledger.office_id,
        FinanceScope::Department(_) => o.department_sees == Some(true),
        FinanceScope::Nothing => false,
    };
    if !visible {
        return Err(ApiError::not_found());
    }
    let errors = check_ledger(caller, &ledger, &p)?;
    let lookups = Lookups {
        project_office: o.project_office,
        agency: if o.agency_found == Some(true) {
            Some(o.agency_suspended_on)
        } else {
            None
        },
        office_closed_on: o.office_closed_on,
        rate: o.rate,
        now: o.now.ok_or_else(ApiError::not_found)?,
    };
    write(conn, caller, &ledger, p, &lookups, errors, claim)
        .await
        .map(Ok)
}

/// The checks that read the database ([`build`]) and then the write, in one statement
/// (`ledger_post_write`): the entry, the ledger's running state, every summary
/// (`ledger_add_totals`, as the demo's batch writer adds them), the audit event and the
/// response stored for the key.
async fn write(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger: &LedgerRow,
    p: Posting,
    lookups: &Lookups,
    errors: Vec<FieldError>,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    use diesel::sql_types::{BigInt, Binary, Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let (row, available) = build(caller, ledger, &Head::of(ledger), p, lookups, errors)?;
    let entry = Entry::from(row.clone());
    let action = if entry.kind == EntryKind::Reversal {
        "reverse"
    } else {
        "post"
    };
    let location = format!("/v1/ledgers/{}/entries/{}", entry.ledger_id, entry.id);
    let tagged = Tagged::new(&entry);
    let after = std::str::from_utf8(&tagged.bytes).expect("JSON is UTF-8");
    let actor = caller.actor();
    Prepared(
        diesel::sql_query(
            "SELECT ledger_post_write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27::jsonb, $28, \
             $29, $30, $31)",
        )
        .bind::<SqlUuid, _>(row.id)
        .bind::<SqlUuid, _>(row.ledger_id)
        .bind::<BigInt, _>(row.seq)
        .bind::<Text, _>(&row.kind)
        .bind::<Nullable<Text>, _>(&row.category)
        .bind::<Date, _>(row.entry_date)
        .bind::<Text, _>(&row.description)
        .bind::<Nullable<Text>, _>(&row.reference)
        .bind::<Nullable<SqlUuid>, _>(row.project_id)
        .bind::<Nullable<SqlUuid>, _>(row.payee_agency_id)
        .bind::<BigInt, _>(row.amount_minor)
        .bind::<Text, _>(&row.currency)
        .bind::<Nullable<BigInt>, _>(row.usd_per_unit_e12)
        .bind::<BigInt, _>(row.usd_minor)
        .bind::<BigInt, _>(row.effect_minor)
        .bind::<Nullable<SqlUuid>, _>(row.reverses_entry_id)
        .bind::<Text, _>(&row.created_by)
        .bind::<Timestamptz, _>(row.created_at)
        .bind::<Text, _>(&row.prev_hash)
        .bind::<Text, _>(&row.hash)
        .bind::<BigInt, _>(available)
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<Text, _>(&actor.sub)
        .bind::<Text, _>(&actor.role)
        .bind::<Text, _>(action)
        .bind::<Nullable<Text>, _>(&actor.request_id)
        .bind::<Text, _>(after)
        .bind::<Nullable<Text>, _>(claim.map(|c| c.key))
        .bind::<Nullable<Text>, _>(claim.map(|c| c.hash))
        .bind::<Nullable<Binary>, _>(claim.map(|_| tagged.bytes.as_slice()))
        .bind::<Nullable<Text>, _>(claim.map(|_| location.as_str())),
    )
    .execute(conn)
    .await?;
    Ok(Created { tagged, location })
}
