//! Reports read across resources: statistics, finance reports, exports, IATI. They sit above the resources whose types they read.

pub mod exports;
pub mod finance_reports;
pub mod iati;
pub mod reconciliation;
pub mod stats;

use actix_web::HttpResponseBuilder;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::resources::ledgers::provenance::LedgerProvenance;

/// Response header of exports and CSV reports: the data's watermark (RFC 3339), as the
/// `as_of` of JSON reports.
pub const AS_OF: &str = "ogsms-as-of";
/// Response header of CSV reports: the earliest last closed period of the ledgers counted.
pub const CLOSED_THROUGH: &str = "ogsms-closed-through";
/// Response header of CSV reports: the exchange rates that converted counted entries to
/// USD, comma-separated `CUR=rate;first_entry_date/last_entry_date;entries`.
pub const EXCHANGE_RATES: &str = "ogsms-exchange-rates";

/// The `OGSMS-As-Of` header value of a watermark.
pub fn as_of_header(as_of: DateTime<Utc>) -> (&'static str, String) {
    (AS_OF, as_of.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A report's provenance in headers, for the formats that have no place for it (CSV).
pub fn provenance_headers(res: &mut HttpResponseBuilder, p: &LedgerProvenance) {
    res.insert_header(as_of_header(p.data_as_of));
    if let Some(closed) = p.closed_through {
        res.insert_header((CLOSED_THROUGH, closed.to_string()));
    }
    let rates: Vec<String> = p
        .exchange_rates
        .iter()
        .map(|r| {
            format!(
                "{}={};{}/{};{}",
                r.currency, r.rate, r.first_entry_date, r.last_entry_date, r.entries
            )
        })
        .collect();
    res.insert_header((EXCHANGE_RATES, rates.join(", ")));
}
