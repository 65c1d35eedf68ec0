//! Exact money: integer minor units of an ISO 4217 currency.
//!
//! JSON carries money as `{"amount": "1234.56", "currency": "USD"}`, the amount a decimal
//! string with at most as many decimals as the currency has (2 for USD, 0 for JPY, 3 for
//! KWD). It is parsed digit by digit into an integer of minor units, never through a
//! float, and formatted back with exactly the currency's decimals.

use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;

use crate::core::error::FieldError;
use crate::core::i18n::Text;
use crate::core::i18n::text;

/// Amounts are below 10^15 minor units (the database checks it too).
pub const MAX_MINOR_EXCLUSIVE: i64 = 1_000_000_000_000_000;

/// An ISO 4217 currency and the number of decimals of its minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    pub code: &'static str,
    pub exponent: u32,
}

// Each list is sorted (`Currency::lookup` searches by halves; a test checks the order).

/// Currencies with no minor unit.
const EXPONENT_0: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];

/// Currencies with a thousandth as minor unit.
const EXPONENT_3: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// Units of account with four decimals.
const EXPONENT_4: &[&str] = &["CLF", "UYW"];

/// Every other current ISO 4217 currency: two decimals. (Precious metals, SDRs and the
/// testing codes have no minor unit and are not money here.)
const EXPONENT_2: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE",
    "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD",
    "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
    "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS",
    "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

/// A three-letter code as an integer that sorts as the code does; `None` for anything
/// else (no list holds it).
fn code_key(code: &str) -> Option<u32> {
    match *code.as_bytes() {
        [a, b, c] => Some(u32::from_be_bytes([0, a, b, c])),
        _ => None,
    }
}

/// Every list with its exponent, the two-decimal list (the usual one) first.
const LISTS: [(&[&str], u32); 4] = [
    (EXPONENT_2, 2),
    (EXPONENT_0, 0),
    (EXPONENT_3, 3),
    (EXPONENT_4, 4),
];

impl Currency {
    /// The currency with this (upper-case) ISO 4217 code, if it is one we know. Every
    /// amount read from the database passes here (a million in a 1M-entry export), so
    /// the lists are searched by halves, not in turn: a linear search was 12% of an
    /// export's time. A code is compared as one integer of its three bytes: comparing
    /// the strings (a `memcmp` each) was another 3%.
    pub fn lookup(code: &str) -> Option<Currency> {
        let key = code_key(code)?;
        LISTS.into_iter().find_map(|(list, exponent)| {
            list.binary_search_by_key(&key, |c| code_key(c).unwrap_or(0))
                .ok()
                .map(|i| Currency {
                    code: list[i],
                    exponent,
                })
        })
    }

    /// A stored code; the service only stores codes it knows.
    pub fn from_db(code: &str) -> Currency {
        Currency::lookup(code.trim())
            .unwrap_or_else(|| panic!("unexpected currency in the database: {code}"))
    }
}

/// Why an amount or a currency is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoneyError {
    UnknownCurrency,
    NotANumber,
    ExponentNotation,
    Negative,
    TooManyDecimals { allowed: u32 },
    TooLarge,
}

impl MoneyError {
    /// The sub-field at fault: `amount` or `currency`.
    pub fn field(self) -> &'static str {
        match self {
            MoneyError::UnknownCurrency => "currency",
            _ => "amount",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            MoneyError::UnknownCurrency => "unknown_currency",
            MoneyError::NotANumber => "not_a_decimal",
            MoneyError::ExponentNotation => "exponent_notation",
            MoneyError::Negative => "negative",
            MoneyError::TooManyDecimals { .. } => "too_many_decimals",
            MoneyError::TooLarge => "too_large",
        }
    }

    pub fn message(self) -> Text {
        match self {
            MoneyError::UnknownCurrency => text!(
                "must be an ISO 4217 currency code with a minor unit, such as USD",
                "debe ser un código de moneda ISO 4217 con unidad fraccionaria, como USD"
            ),
            MoneyError::NotANumber => text!(
                "must be a decimal number in a string, such as \"1234.56\"",
                "debe ser un número decimal en una cadena, como \"1234.56\""
            ),
            MoneyError::ExponentNotation => text!(
                "must be written without an exponent (\"1500\", not \"1.5e3\")",
                "debe escribirse sin exponente (\"1500\", no \"1.5e3\")"
            ),
            MoneyError::Negative => text!("must not be negative", "no puede ser negativo"),
            MoneyError::TooManyDecimals { allowed } => text!(
                "has more decimals than the currency's {allowed}",
                "tiene más decimales que los {allowed} de la moneda"
            ),
            MoneyError::TooLarge => text!(
                "must be below 10^15 minor units of the currency",
                "debe ser inferior a 10^15 unidades fraccionarias de la moneda"
            ),
        }
    }

    /// The error as a field error under `field` (e.g. `budget`).
    pub fn at(self, field: &str) -> FieldError {
        FieldError::new(
            format!("{field}.{}", self.field()),
            self.code(),
            self.message(),
        )
    }
}

/// An exact amount of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    /// Minor units (cents for USD, yen for JPY, fils for KWD).
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parses a decimal string in `currency_code`. Accepts `digits` or `digits.digits`
    /// with at most the currency's decimals; refuses signs, exponents, blanks and
    /// anything else.
    pub fn parse(amount: &str, currency_code: &str) -> Result<Money, MoneyError> {
        let currency = Currency::lookup(currency_code).ok_or(MoneyError::UnknownCurrency)?;
        if amount.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        if amount.contains(['e', 'E']) && amount.chars().any(|c| c.is_ascii_digit()) {
            return Err(MoneyError::ExponentNotation);
        }
        let (int, frac) = match amount.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (amount, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::NotANumber);
        }
        let frac = frac.unwrap_or("");
        if frac.len() > currency.exponent as usize {
            return Err(MoneyError::TooManyDecimals {
                allowed: currency.exponent,
            });
        }
        // Digits of the amount in minor units, leading zeros dropped; more than 15
        // significant digits is at least 10^15.
        let padded = format!(
            "{int}{frac}{}",
            "0".repeat(currency.exponent as usize - frac.len())
        );
        let significant = padded.trim_start_matches('0');
        if significant.len() > 15 {
            return Err(MoneyError::TooLarge);
        }
        let minor = significant
            .bytes()
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        if minor >= MAX_MINOR_EXCLUSIVE {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money { minor, currency })
    }

    /// From stored minor units and currency code.
    pub fn from_db(minor: i64, currency_code: &str) -> Money {
        Money {
            minor,
            currency: Currency::from_db(currency_code),
        }
    }

    /// The amount as a decimal string with exactly the currency's decimals.
    pub fn amount_string(&self) -> String {
        format_decimal(self.minor, self.currency.exponent as usize)
    }

    pub fn to_json(&self) -> MonetaryAmount {
        MonetaryAmount {
            amount: self.amount_string(),
            currency: self.currency.code.to_owned(),
        }
    }

    /// Reads `value` (the JSON of field `field`), pushing an error naming
    /// `field.amount` or `field.currency` when it is not valid money.
    pub fn validate(
        field: &str,
        value: &MonetaryAmount,
        errors: &mut Vec<FieldError>,
    ) -> Option<Money> {
        match Money::parse(&value.amount, &value.currency) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e.at(field));
                None
            }
        }
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// An amount of money: a decimal string (never a JSON number, so that no float ever
/// touches it) with at most as many decimals as the currency has — 2 for USD or EUR, 0
/// for JPY, CLP or PYG, 3 for BHD or KWD, 4 for CLF and UYW — and an ISO 4217 currency
/// code. Below 10^15 minor units: at most 15 digits, leading zeros aside, counting the
/// currency's decimals whether written or not. (The decimals and the 15 digits depend
/// on the currency, which the schema cannot tie to the amount: an amount the pattern
/// allows with more decimals or digits than its currency has is a 422 naming it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "1234.56", "currency": "USD"}))]
pub struct MonetaryAmount {
    /// A non-negative decimal string, e.g. `"1234.56"`.
    #[schema(example = "1234.56", pattern = "<amount>")]
    pub amount: String,
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
}

crate::core::validate::object_only!(MonetaryAmount, serialize);

/// The grammar of an amount whatever its currency (the document's `pattern` of
/// `amount`): digits, at most 15 of them after the leading zeros, and at most 4 decimals
/// (the most a currency has). [`Money::parse`] takes no amount outside it.
pub const AMOUNT_PATTERN: &str = r"^0*[0-9]{1,15}(\.[0-9]{1,4})?$";

/// The grammar of an amount greater than zero: [`AMOUNT_PATTERN`] with a digit other than
/// 0 (an amount the service takes is zero exactly when all its digits are).
pub const POSITIVE_AMOUNT_PATTERN: &str = concat!(
    r"^(0*[1-9][0-9]{0,14}(\.[0-9]{1,4})?",
    r"|0*0(\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])))$"
);

/// Schema-only type of an amount that must be greater than zero (a ledger entry's): a
/// [`MonetaryAmount`] whose `amount` matches [`POSITIVE_AMOUNT_PATTERN`].
pub struct PositiveMonetaryAmount;

impl utoipa::PartialSchema for PositiveMonetaryAmount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Ref, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An amount of money greater than zero: as `MonetaryAmount`, with a digit other \
                 than 0.",
            ))
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .pattern(Some(POSITIVE_AMOUNT_PATTERN))
                    .examples(["1250.50"]),
            )
            .required("amount")
            .property("currency", Ref::from_schema_name("CurrencyCode"))
            .required("currency")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for PositiveMonetaryAmount {}

/// Schema-only type of a currency code in a request or a response: the ISO 4217 codes
/// with a minor unit that the service knows (`Currency::lookup`).
pub struct CurrencyCode;

impl utoipa::PartialSchema for CurrencyCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        currencies_schema(
            "An ISO 4217 currency code with a minor unit (precious metals, SDRs and the \
             testing codes are not money here).",
            |_| true,
            "USD",
        )
    }
}

impl ToSchema for CurrencyCode {}

/// Schema-only type of the currency of an exchange rate: a [`CurrencyCode`] other than
/// USD (the currency of account has no rate).
pub struct RateCurrencyCode;

impl utoipa::PartialSchema for RateCurrencyCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        currencies_schema(
            "An ISO 4217 currency code with a minor unit, other than USD (the currency of \
             account, which has no rate).",
            |c| c != "USD",
            "PEN",
        )
    }
}

/// A string schema whose values are the known currencies that `keep` keeps, sorted.
fn currencies_schema(
    description: &str,
    keep: fn(&str) -> bool,
    example: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut codes: Vec<&str> = LISTS
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .filter(|c| keep(c))
        .collect();
    codes.sort_unstable();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .enum_values(Some(codes))
        .examples([example])
        .into()
}

impl ToSchema for RateCurrencyCode {}

impl Money {
    /// US dollars, from cents.
    pub fn usd(minor: i64) -> Money {
        Money::from_db(minor, "USD")
    }
}

/// The minor-unit exponent of an ISO 4217 currency the service knows.
pub fn exponent(code: &str) -> Option<u32> {
    Currency::lookup(code).map(|c| c.exponent)
}

/// A signed amount (an effect on a balance, a net figure that may be negative): the
/// same as [`MonetaryAmount`] but the decimal string may start with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"amount": "-120.00", "currency": "USD"}))]
pub struct SignedAmount {
    /// A decimal string, e.g. `"-120.00"`.
    #[schema(example = "-120.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    /// An ISO 4217 code, e.g. `USD`.
    #[schema(example = "USD", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

impl Money {
    pub fn to_signed(&self) -> SignedAmount {
        SignedAmount {
            amount: self.amount_string(),
            currency: self.currency.code.to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------
// Decimals and exchange rates

/// Scale of exchange rates: a rate is stored as US dollars per unit × 10^12.
pub const RATE_SCALE: i128 = 1_000_000_000_000;
const RATE_DECIMALS: usize = 12;

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

/// `minor` with `decimals` digits after the point (at most [`MAX_DECIMALS`]): 123456
/// with `decimals = 2` → `"1234.56"`; negative values keep their sign.
///
/// Written straight into one string, not through `format!`: every amount of an export
/// passes here (three a ledger entry), and the three `format!`s this was were ~5% of a
/// CSV export's time.
pub fn format_decimal(minor: i64, decimals: usize) -> String {
    assert!(decimals <= MAX_DECIMALS, "at most {MAX_DECIMALS} decimals");
    // The digits, right-aligned, zero-padded to at least one integer digit: u64::MAX
    // has 20 digits, and a zero's padding is `decimals + 1` digits.
    let mut buf = [b'0'; 20 + MAX_DECIMALS];
    let mut n = minor.unsigned_abs();
    let mut start = buf.len();
    while n > 0 {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let digits = &buf[start.min(buf.len() - decimals - 1)..];
    let (int, frac) = digits.split_at(digits.len() - decimals);
    let mut out = String::with_capacity(digits.len() + 2);
    if minor < 0 {
        out.push('-');
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(int).expect("digits"));
    if decimals > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(frac).expect("digits"));
    }
    out
}

/// The most decimals [`format_decimal`] writes (rates have 12).
pub const MAX_DECIMALS: usize = 20;

/// The grammar of an exchange rate in a request (the document's `pattern` of `rate`
/// and what [`parse_rate`] takes): a positive decimal below 10^6 US dollars per unit,
/// without leading zeros, at most 12 decimals (zeros beyond them aside).
pub fn rate_pattern() -> &'static str {
    static PATTERN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        // Below 1: a non-zero digit among the first 12 decimals.
        let below_one: Vec<String> = (0..RATE_DECIMALS)
            .map(|z| format!("0{{{z}}}[1-9][0-9]{{0,{}}}", RATE_DECIMALS - 1 - z))
            .collect();
        format!(
            r"^([1-9][0-9]{{0,5}}(\.[0-9]{{1,{RATE_DECIMALS}}}0*)?|0\.({})0*)$",
            below_one.join("|")
        )
    })
}

/// An exchange rate (US dollars per unit) from a decimal string that matches
/// [`rate_pattern`], scaled by 10^12.
pub fn parse_rate(s: &str) -> Option<i64> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(rate_pattern()).expect("the rate pattern"));
    if !re.is_match(s) {
        return None;
    }
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
    i64::try_from(rounded)
        .ok()
        .filter(|v| *v < MAX_MINOR_EXCLUSIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(amount: &str, currency: &str) -> i64 {
        Money::parse(amount, currency)
            .unwrap_or_else(|e| panic!("{amount} {currency}: {e:?}"))
            .minor
    }

    fn err(amount: &str, currency: &str) -> MoneyError {
        Money::parse(amount, currency).expect_err(amount)
    }

    #[test]
    fn parses_exactly_into_minor_units() {
        assert_eq!(minor("0.10", "USD"), 10);
        assert_eq!(minor("0.20", "USD"), 20);
        assert_eq!(minor("0.1", "USD"), 10);
        assert_eq!(minor("1234.56", "USD"), 123_456);
        assert_eq!(minor("1234", "USD"), 123_400);
        assert_eq!(minor("0", "USD"), 0);
        assert_eq!(minor("007.05", "EUR"), 705);
        assert_eq!(minor("100", "JPY"), 100);
        assert_eq!(minor("15000", "CLP"), 15_000);
        assert_eq!(minor("2500000", "PYG"), 2_500_000);
        assert_eq!(minor("1.005", "KWD"), 1005);
        assert_eq!(minor("0.001", "BHD"), 1);
        assert_eq!(minor("1.0001", "CLF"), 10_001);
        // The classic float trap: 0.1 + 0.2 is exactly 0.3 here.
        assert_eq!(
            minor("0.10", "USD") + minor("0.20", "USD"),
            minor("0.30", "USD")
        );
    }

    #[test]
    fn the_exponent_table() {
        let exp = |c: &str| Currency::lookup(c).unwrap().exponent;
        for c in [
            "USD", "EUR", "BRL", "MXN", "ARS", "COP", "PEN", "XCD", "TTD", "BSD", "HTG",
        ] {
            assert_eq!(exp(c), 2, "{c}");
        }
        for c in ["JPY", "CLP", "PYG", "KRW", "ISK"] {
            assert_eq!(exp(c), 0, "{c}");
        }
        for c in ["BHD", "KWD", "JOD", "OMR", "TND"] {
            assert_eq!(exp(c), 3, "{c}");
        }
        assert_eq!(exp("CLF"), 4);
        // Each code appears once, and every code is three upper-case letters.
        let all: Vec<&str> = [EXPONENT_0, EXPONENT_2, EXPONENT_3, EXPONENT_4].concat();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
        assert!(
            all.iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn refuses_more_decimals_than_the_currency_has() {
        assert_eq!(
            err("1.005", "USD"),
            MoneyError::TooManyDecimals { allowed: 2 }
        );
        assert_eq!(
            err("100.5", "JPY"),
            MoneyError::TooManyDecimals { allowed: 0 }
        );
        assert_eq!(
            err("100.0", "JPY"),
            MoneyError::TooManyDecimals { allowed: 0 }
        );
        assert_eq!(
            err("1.0001", "KWD"),
            MoneyError::TooManyDecimals { allowed: 3 }
        );
    }

    #[test]
    fn refuses_negative_amounts() {
        assert_eq!(err("-1", "USD"), MoneyError::Negative);
        assert_eq!(err("-0.01", "USD"), MoneyError::Negative);
    }

    #[test]
    fn refuses_exponent_notation() {
        assert_eq!(err("1e3", "USD"), MoneyError::ExponentNotation);
        assert_eq!(err("1.5E3", "USD"), MoneyError::ExponentNotation);
        assert_eq!(err("1e-2", "USD"), MoneyError::ExponentNotation);
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in [
            "", " ", "abc", "1,5", "1.", ".5", "+1", " 1", "1 ", "1..2", "1.2.3", "0x10", "NaN",
            "Infinity", "١٢", "1_000", "e",
        ] {
            assert_eq!(err(bad, "USD"), MoneyError::NotANumber, "{bad:?}");
        }
    }

    #[test]
    fn refuses_amounts_of_10_to_the_15_minor_units_or_more() {
        assert_eq!(minor("9999999999999.99", "USD"), MAX_MINOR_EXCLUSIVE - 1);
        assert_eq!(err("10000000000000", "USD"), MoneyError::TooLarge);
        assert_eq!(err("10000000000000.00", "USD"), MoneyError::TooLarge);
        assert_eq!(minor("999999999999999", "JPY"), MAX_MINOR_EXCLUSIVE - 1);
        assert_eq!(err("1000000000000000", "JPY"), MoneyError::TooLarge);
        // Far beyond i64: refused, never overflowing.
        assert_eq!(
            err("123456789012345678901234567890", "USD"),
            MoneyError::TooLarge
        );
        // Leading zeros do not count.
        assert_eq!(minor("000000000000000000001.00", "USD"), 100);
    }

    #[test]
    fn refuses_unknown_currencies() {
        for bad in ["XXX", "usd", "US", "USDD", "", "XAU", "XTS", "ABC"] {
            assert_eq!(err("1", bad), MoneyError::UnknownCurrency, "{bad:?}");
        }
        assert_eq!(MoneyError::UnknownCurrency.field(), "currency");
        assert_eq!(MoneyError::Negative.field(), "amount");
        assert_eq!(MoneyError::TooLarge.at("budget").field, "budget.amount");
    }

    /// The codes clients match on, as the API answers them (tests/api/projects.rs checks
    /// the same codes over HTTP): each refusal has its own.
    #[test]
    fn each_refusal_has_its_field_and_stable_code() {
        let cases = [
            (
                MoneyError::UnknownCurrency,
                "budget.currency",
                "unknown_currency",
            ),
            (MoneyError::NotANumber, "budget.amount", "not_a_decimal"),
            (
                MoneyError::ExponentNotation,
                "budget.amount",
                "exponent_notation",
            ),
            (MoneyError::Negative, "budget.amount", "negative"),
            (
                MoneyError::TooManyDecimals { allowed: 2 },
                "budget.amount",
                "too_many_decimals",
            ),
            (MoneyError::TooLarge, "budget.amount", "too_large"),
        ];
        for (error, field, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
            let at = error.at("budget");
            assert_eq!((at.field.as_str(), at.code), (field, code), "{error:?}");
            assert_eq!(at.message, error.message(), "{error:?}");
        }
        assert_eq!(
            MoneyError::TooManyDecimals { allowed: 3 }.message().en,
            "has more decimals than the currency's 3"
        );
    }

    #[test]
    fn validate_gives_the_money_or_pushes_the_field_at_fault() {
        let json = |amount: &str, currency: &str| MonetaryAmount {
            amount: amount.to_owned(),
            currency: currency.to_owned(),
        };
        let mut errors = Vec::new();
        let money = Money::validate("budget", &json("12.50", "USD"), &mut errors);
        assert_eq!(
            money.map(|m| (m.minor, m.currency.code)),
            Some((1250, "USD"))
        );
        assert!(errors.is_empty());
        let money = Money::validate("amount", &json("5", "JPY"), &mut errors);
        assert_eq!(money.map(|m| (m.minor, m.currency.code)), Some((5, "JPY")));
        assert!(errors.is_empty());
        // Each fault is pushed after the ones already there.
        assert_eq!(
            Money::validate("budget", &json("1", "XXX"), &mut errors),
            None
        );
        assert_eq!(
            Money::validate("amount", &json("1e3", "USD"), &mut errors),
            None
        );
        let faults: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            faults,
            [
                ("budget.currency", "unknown_currency"),
                ("amount.amount", "exponent_notation")
            ]
        );
    }

    #[test]
    fn formats_with_exactly_the_currency_decimals() {
        let f = |a: &str, c: &str| Money::parse(a, c).unwrap().amount_string();
        assert_eq!(f("1234.5", "USD"), "1234.50");
        assert_eq!(f("0.1", "USD"), "0.10");
        assert_eq!(f("0", "USD"), "0.00");
        assert_eq!(f("0.05", "USD"), "0.05");
        assert_eq!(f("007", "USD"), "7.00");
        assert_eq!(f("100", "JPY"), "100");
        assert_eq!(f("0", "JPY"), "0");
        assert_eq!(f("1.5", "KWD"), "1.500");
        assert_eq!(f("0.001", "KWD"), "0.001");
        assert_eq!(f("9999999999999.99", "USD"), "9999999999999.99");
        // Round trip.
        for (a, c) in [("12.34", "USD"), ("5", "JPY"), ("0.125", "BHD")] {
            let m = Money::parse(a, c).unwrap();
            assert_eq!(Money::parse(&m.amount_string(), c).unwrap(), m);
        }
        assert_eq!(
            serde_json::to_value(Money::parse("0.10", "USD").unwrap()).unwrap(),
            serde_json::json!({"amount": "0.10", "currency": "USD"})
        );
    }
}

#[cfg(test)]
mod decimal_tests {
    use super::*;

    #[test]
    fn currency_lists_are_sorted_and_disjoint_so_every_code_is_found() {
        let mut all = std::collections::HashSet::new();
        for (list, digits) in LISTS {
            assert!(list.is_sorted(), "{list:?}");
            for code in list {
                assert!(all.insert(code), "{code} is in two lists");
                assert!(code_key(code).is_some(), "{code} is three bytes");
                assert_eq!(exponent(code), Some(digits), "{code}");
            }
        }
        for unknown in ["", "usd", "XAU", "XXX", "US", "USDD", "ZZZ", "AAA"] {
            assert_eq!(Currency::lookup(unknown), None, "{unknown}");
        }
    }

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
        assert_eq!(format_decimal(-1230, 3), "-1.230");
        assert_eq!(format_decimal(7, 12), "0.000000000007");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(format_decimal(i64::MAX, 0), "9223372036854775807");
        assert_eq!(format_decimal(-42, 0), "-42");
        assert_eq!(format_decimal(42, MAX_DECIMALS), "0.00000000000000000042");
        for v in [0, 1, 99, 100, 123456789, MAX_MINOR_EXCLUSIVE - 1] {
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
        // Above the half rounds up, below it down: 0.126 → 0.13, 0.134 → 0.13.
        assert_eq!(to_usd_minor(126, 2, rate("0.1")), Some(13));
        assert_eq!(to_usd_minor(134, 2, rate("0.1")), Some(13));
        assert_eq!(to_usd_minor(1, 0, rate("0.0051")), Some(1)); // 1 CLP → 0.51 cent
        // Out of range is refused, never wrapped.
        assert_eq!(to_usd_minor(MAX_MINOR_EXCLUSIVE - 1, 2, rate("2")), None);
        // The bound is 10^15 cents exclusive: one cent below passes, 10^15 does not.
        assert_eq!(
            to_usd_minor(MAX_MINOR_EXCLUSIVE - 1, 2, rate("1")),
            Some(MAX_MINOR_EXCLUSIVE - 1)
        );
        assert_eq!(to_usd_minor(MAX_MINOR_EXCLUSIVE / 2, 2, rate("2")), None);
    }

    #[test]
    fn rates_parse_and_format() {
        assert_eq!(parse_rate("0.2671"), Some(267_100_000_000));
        assert_eq!(format_rate(267_100_000_000), "0.2671");
        assert_eq!(format_rate(1_000_000_000_000), "1.0");
        assert_eq!(parse_rate("0"), None);
        assert_eq!(parse_rate("0.0000000000001"), None);
    }

    #[test]
    fn a_rate_is_what_its_pattern_says() {
        let pattern = regex::Regex::new(rate_pattern()).unwrap();
        for good in [
            "1",
            "0.5",
            "0.000000000001",
            "0.1000000000000",
            "999999.999999999999",
            "12.5",
        ] {
            assert!(
                pattern.is_match(good) && parse_rate(good).is_some(),
                "{good}"
            );
        }
        for bad in [
            "0",
            "0.0",
            "00.5",
            "01",
            "1000000",
            "0.0000000000001",
            "1.",
            ".5",
            "-1",
            "1e3",
            "0.2671\n",
            " 1",
        ] {
            assert!(!pattern.is_match(bad) && parse_rate(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_amount_the_service_takes_is_one_its_pattern_allows() {
        let pattern = regex::Regex::new(AMOUNT_PATTERN).unwrap();
        let positive = regex::Regex::new(POSITIVE_AMOUNT_PATTERN).unwrap();
        for currency in ["USD", "JPY", "KWD", "CLF"] {
            for amount in [
                "0",
                "1",
                "1.5",
                "1.50",
                "1.500",
                "1.5000",
                "1.00000",
                "000001",
                "999999999999999",
                "9999999999999.99",
                "1e3",
                "-1",
                "1.",
                ".5",
                " 1",
                "1\n",
                "0000000000000000000001",
                "0.0",
                "0.00",
                "00.0000",
                "0.01",
                "0.0001",
                "0.5",
                "000",
                "10",
            ] {
                if let Ok(m) = Money::parse(amount, currency) {
                    assert!(pattern.is_match(amount), "{amount} {currency}");
                    assert_eq!(
                        positive.is_match(amount),
                        m.minor > 0,
                        "{amount} {currency}"
                    );
                }
            }
        }
    }
}
