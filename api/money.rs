//! Exact money: integer minor units of an ISO 4217 currency; in JSON
//! `{"amount": "1234.56", "currency": "USD"}` with the amount a decimal string.
//!
//! Conversions to US dollars multiply by an exchange rate kept as an exact decimal
//! (US dollars per unit, scaled by 10^12) in 128-bit integers and round once, half to
//! even, to the cent.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::text;

/// The largest amount accepted, in minor units (10^15: ten trillion dollars).
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Scale of exchange rates: a rate is stored as US dollars per unit × 10^12.
pub const RATE_SCALE: i128 = 1_000_000_000_000;
const RATE_DECIMALS: usize = 12;

/// ISO 4217 minor-unit exponent of the currencies the service accepts: the member
/// states' currencies and the usual currencies of donors.
pub fn exponent(currency: &str) -> Option<u32> {
    Some(match currency {
        // No minor unit.
        "CLP" | "PYG" | "JPY" | "KRW" | "ISK" | "UYI" | "VND" | "XAF" | "XOF" => 0,
        // Three decimals.
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        // Two decimals.
        "USD" | "EUR" | "CAD" | "GBP" | "CHF" | "AUD" | "NZD" | "SEK" | "NOK" | "DKK" | "CNY"
        | "ARS" | "BBD" | "BSD" | "BZD" | "BOB" | "BRL" | "COP" | "CRC" | "CUP" | "DOP" | "XCD"
        | "GTQ" | "GYD" | "HTG" | "HNL" | "JMD" | "MXN" | "NIO" | "PAB" | "PEN" | "SRD" | "TTD"
        | "UYU" | "VES" | "SVC" | "KYD" | "AWG" | "ANG" | "INR" | "ZAR" => 2,
        _ => return None,
    })
}

/// Money as JSON carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "1234.56", "currency": "USD"}))]
pub struct MoneyJson {
    /// A decimal string with at most as many decimals as the currency has (USD 2,
    /// JPY 0, BHD 3), never a float.
    #[schema(example = "1234.56", pattern = "^[0-9]+(\\.[0-9]+)?$")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "USD", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

/// An exact amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: [u8; 3],
}

impl Money {
    pub fn new(minor: i64, currency: &str) -> Money {
        let mut c = [0u8; 3];
        c.copy_from_slice(&currency.as_bytes()[..3]);
        Money { minor, currency: c }
    }

    pub fn usd(minor: i64) -> Money {
        Money::new(minor, "USD")
    }

    pub fn currency(&self) -> &str {
        std::str::from_utf8(&self.currency).unwrap_or("XXX")
    }

    pub fn exponent(&self) -> u32 {
        exponent(self.currency()).unwrap_or(2)
    }

    /// Parses a JSON amount: positive (zero too when `allow_zero`), no more decimals
    /// than the currency has, at most [`MAX_MINOR`]. Faults are named `{field}.amount`
    /// and `{field}.currency`.
    pub fn parse(
        field: &str,
        json: &MoneyJson,
        allow_zero: bool,
        errors: &mut Vec<FieldError>,
    ) -> Option<Money> {
        let Some(exp) = exponent(&json.currency) else {
            errors.push(FieldError::new(
                format!("{field}.currency"),
                "unknown_currency",
                text!(
                    "is not an ISO 4217 currency the service accepts",
                    "no es una moneda ISO 4217 aceptada"
                ),
            ));
            return None;
        };
        match parse_decimal(&json.amount, exp as usize) {
            Ok(minor) if minor == 0 && !allow_zero => {
                errors.push(FieldError::new(
                    format!("{field}.amount"),
                    "not_positive",
                    text!("must be greater than zero", "debe ser mayor que cero"),
                ));
                None
            }
            Ok(minor) if minor > MAX_MINOR => {
                errors.push(FieldError::new(
                    format!("{field}.amount"),
                    "too_large",
                    text!(
                        "is over the largest amount accepted",
                        "supera el monto máximo aceptado"
                    ),
                ));
                None
            }
            Ok(minor) => Some(Money::new(minor, &json.currency)),
            Err(DecimalError::TooManyDecimals) => {
                let cur = &json.currency;
                errors.push(FieldError::new(
                    format!("{field}.amount"),
                    "too_many_decimals",
                    text!(
                        "has more decimals than {cur} allows ({exp})",
                        "tiene más decimales de los que {cur} admite ({exp})"
                    ),
                ));
                None
            }
            Err(DecimalError::Negative) => {
                errors.push(FieldError::new(
                    format!("{field}.amount"),
                    "negative",
                    text!("must not be negative", "no debe ser negativo"),
                ));
                None
            }
            Err(DecimalError::Invalid | DecimalError::Overflow) => {
                errors.push(FieldError::new(
                    format!("{field}.amount"),
                    "invalid_format",
                    text!(
                        "must be a decimal string such as \"1234.56\"",
                        "debe ser una cadena decimal como \"1234.56\""
                    ),
                ));
                None
            }
        }
    }

    pub fn to_json(&self) -> MoneyJson {
        MoneyJson {
            amount: format_decimal(self.minor, self.exponent() as usize),
            currency: self.currency().to_owned(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum DecimalError {
    Invalid,
    Negative,
    TooManyDecimals,
    Overflow,
}

/// `"1234.56"` with `decimals = 2` → 123456. Plain digits and one point only: no sign,
/// exponent, spaces or thousands separators. Trailing zeros beyond `decimals` are
/// accepted ("1.50" for a 1-decimal scale is 15), other digits beyond it are not.
pub fn parse_decimal(s: &str, decimals: usize) -> Result<i64, DecimalError> {
    if s.starts_with('-') {
        return Err(DecimalError::Negative);
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty()
        || int.len() > 19
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return Err(DecimalError::Invalid);
    }
    let (kept, extra) = frac.split_at(frac.len().min(decimals));
    if extra.bytes().any(|b| b != b'0') {
        return Err(DecimalError::TooManyDecimals);
    }
    let mut value: i128 = int.parse::<i128>().map_err(|_| DecimalError::Invalid)?;
    for _ in 0..decimals {
        value *= 10;
    }
    let mut frac_value: i128 = if kept.is_empty() {
        0
    } else {
        kept.parse().map_err(|_| DecimalError::Invalid)?
    };
    for _ in kept.len()..decimals {
        frac_value *= 10;
    }
    i64::try_from(value + frac_value).map_err(|_| DecimalError::Overflow)
}

/// 123456 with `decimals = 2` → `"1234.56"`; negative values keep their sign.
pub fn format_decimal(minor: i64, decimals: usize) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs().to_string();
    if decimals == 0 {
        return format!("{sign}{abs}");
    }
    let padded = format!("{abs:0>width$}", width = decimals + 1);
    let (int, frac) = padded.split_at(padded.len() - decimals);
    format!("{sign}{int}.{frac}")
}

/// An exchange rate (US dollars per unit) from a decimal string with at most 12
/// decimals, scaled by 10^12.
pub fn parse_rate(s: &str) -> Option<i64> {
    parse_decimal(s, RATE_DECIMALS).ok().filter(|r| *r > 0)
}

pub fn format_rate(e12: i64) -> String {
    let s = format_decimal(e12, RATE_DECIMALS);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.')
        .map(|s| format!("{s}.0"))
        .unwrap_or_else(|| s.to_owned())
}

/// Converts `minor` units of a currency with `exp` decimals to US cents at
/// `rate_e12`, rounding half to even once. `None` when the result is out of range.
pub fn to_usd_minor(minor: i64, exp: u32, rate_e12: i64) -> Option<i64> {
    let numerator = i128::from(minor) * i128::from(rate_e12) * 100;
    let denominator = RATE_SCALE * 10i128.pow(exp);
    let q = numerator.div_euclid(denominator);
    let r = numerator.rem_euclid(denominator);
    let rounded = match (2 * r).cmp(&denominator) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Equal => q + (q & 1),
    };
    i64::try_from(rounded).ok().filter(|v| *v <= MAX_MINOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("1234.56", 2), Ok(123456));
        assert_eq!(parse_decimal("0.10", 2), Ok(10));
        assert_eq!(parse_decimal("0.1", 2), Ok(10));
        assert_eq!(parse_decimal("5", 2), Ok(500));
        assert_eq!(parse_decimal("100", 0), Ok(100));
        assert_eq!(parse_decimal("1.500", 2), Ok(150));
        assert_eq!(
            parse_decimal("1.005", 2),
            Err(DecimalError::TooManyDecimals)
        );
        assert_eq!(
            parse_decimal("100.5", 0),
            Err(DecimalError::TooManyDecimals)
        );
        assert_eq!(parse_decimal("-1.00", 2), Err(DecimalError::Negative));
        for bad in [
            "", ".5", "5.", "1e3", "1,000.00", " 1", "+1", "0x10", "1.2.3", "NaN", "١٢",
        ] {
            assert_eq!(parse_decimal(bad, 2), Err(DecimalError::Invalid), "{bad}");
        }
        assert_eq!(
            parse_decimal("99999999999999999999", 2),
            Err(DecimalError::Invalid)
        );
        assert_eq!(
            parse_decimal("9999999999999999999", 2),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn decimals_format_back() {
        assert_eq!(format_decimal(123456, 2), "1234.56");
        assert_eq!(format_decimal(5, 2), "0.05");
        assert_eq!(format_decimal(0, 2), "0.00");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(100, 0), "100");
        assert_eq!(format_decimal(1, 3), "0.001");
        for v in [0, 1, 99, 100, 123456789, MAX_MINOR] {
            assert_eq!(parse_decimal(&format_decimal(v, 2), 2), Ok(v));
        }
    }

    #[test]
    fn conversion_rounds_half_to_even_once() {
        let rate = |s: &str| parse_rate(s).unwrap();
        // 100.00 PEN at 0.2671 USD/PEN = 26.71 USD.
        assert_eq!(to_usd_minor(10000, 2, rate("0.2671")), Some(2671));
        // 0.125 USD → 0.12 (even), 0.135 → 0.14 (even), 0.145 → 0.14.
        assert_eq!(to_usd_minor(125, 2, rate("0.1")), Some(12));
        assert_eq!(to_usd_minor(135, 2, rate("0.1")), Some(14));
        assert_eq!(to_usd_minor(145, 2, rate("0.1")), Some(14));
        // Zero-decimal and three-decimal currencies.
        assert_eq!(to_usd_minor(1000, 0, rate("0.00105")), Some(105)); // 1000 CLP
        assert_eq!(to_usd_minor(1000, 3, rate("2.65")), Some(265)); // 1.000 BHD
        // Out of range is refused, never wrapped.
        assert_eq!(to_usd_minor(MAX_MINOR, 2, rate("2")), None);
    }

    #[test]
    fn rates_parse_and_format() {
        assert_eq!(parse_rate("0.2671"), Some(267_100_000_000));
        assert_eq!(format_rate(267_100_000_000), "0.2671");
        assert_eq!(format_rate(1_000_000_000_000), "1.0");
        assert_eq!(parse_rate("0"), None);
        assert_eq!(parse_rate("0.0000000000001"), None);
    }
}
