//! What IATI needs of a project beyond its core: its sectors (OECD DAC 5-digit purpose
//! codes with percentages summing to 100) and its budget broken down by period (budget
//! lines of at most a year, summing to the budget).

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::enums::string_enum;
use crate::core::error::FieldError;
use crate::core::i18n::text;
use crate::core::money::{self, MonetaryAmount, Money};
use crate::resources::shared::Pillar;
use crate::resources::shared::iati;

/// Most sectors or budget lines a project may list.
pub const MAX_ITEMS: usize = 100;

/// Longest budget line: IATI wants budgets of at most a year (rule 7.5.3).
pub const MAX_PERIOD_DAYS: i64 = 365;

/// A sector of a project: an OECD DAC 5-digit CRS purpose code (IATI sector vocabulary
/// 1) and the share of the project in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct ProjectSector {
    #[schema(value_type = crate::resources::shared::iati::SectorCode)]
    pub code: String,
    /// The share of the project, a decimal string above 0 and at most 100 with at most two
    /// decimals (and at most three integer digits); a project's percentages sum to 100.
    #[schema(example = "100", pattern = "<percentage>")]
    pub percentage: String,
}

crate::core::validate::object_only!(ProjectSector, serialize);

string_enum! {
    /// Whether a budget line is the original budget of its period or a revision of it
    /// (IATI BudgetType 1 and 2).
    pub enum BudgetLineStatus {
        Original = "original" ("Original", "Original"),
        Revised = "revised" ("Revised", "Revisado"),
    }
}

/// The budget of a period of at most a year (365 days from start to end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct BudgetLine {
    /// First day of the period, not before the project's `starts_on`.
    pub period_start: NaiveDate,
    /// Last day of the period: not before `period_start`, at most 365 days after it, not
    /// after the project's `ends_on`.
    pub period_end: NaiveDate,
    /// In the currency of the project's budget.
    pub amount: MonetaryAmount,
    pub status: BudgetLineStatus,
}

crate::core::validate::object_only!(BudgetLine, serialize);

/// A budget line as stored (`projects.budget_lines`): the amount in minor units of the
/// budget's currency.
#[derive(Serialize, Deserialize)]
struct StoredLine {
    period_start: NaiveDate,
    period_end: NaiveDate,
    amount_minor: i64,
    status: String,
}

/// The grammar of a sector's percentage (the document's `pattern`): above 0 and at most
/// 100, at most three integer digits (leading zeros included) and two decimals.
pub const PERCENTAGE_PATTERN: &str = concat!(
    r"^(0{1,3}\.(0[1-9]|[1-9][0-9]?)",
    r"|(0{0,2}[1-9]|0?[1-9][0-9])(\.[0-9]{1,2})?",
    r"|100(\.00?)?)$"
);

/// Whether `s` is a percentage a sector may have ([`PERCENTAGE_PATTERN`]).
pub fn is_percentage(s: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(PERCENTAGE_PATTERN).expect("PERCENTAGE_PATTERN")
    });
    RE.is_match(s)
}

/// Hundredths of a percent of a percentage string, or none when it is not one.
pub fn percentage_hundredths(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 3 || frac.len() > 2 || !digits(int) || !digits(frac) {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    money::parse_decimal(s, 2).ok()
}

/// A percentage in its shortest form: `100`, `33.5`, `33.33`.
pub fn format_percentage(hundredths: i64) -> String {
    if hundredths % 100 == 0 {
        (hundredths / 100).to_string()
    } else {
        money::format_decimal(hundredths, 2)
            .trim_end_matches('0')
            .to_owned()
    }
}

/// The sectors of a project created without any: its pillar's (see
/// [`iati::default_sector`]), 100 %.
pub fn default_sectors(pillar: Pillar) -> Vec<ProjectSector> {
    vec![ProjectSector {
        code: iati::default_sector(pillar).to_owned(),
        percentage: "100".to_owned(),
    }]
}

/// Checks and normalizes sectors: at least one, each an active DAC code listed once,
/// percentages above 0 and summing to 100 (a 422 naming `sectors[i].code`,
/// `sectors[i].percentage` or `sectors`).
pub fn check_sectors(sectors: &mut [ProjectSector], errors: &mut Vec<FieldError>) {
    if sectors.is_empty() {
        errors.push(FieldError::new(
            "sectors",
            "required",
            text!(
                "must list at least one sector",
                "debe incluir al menos un sector"
            ),
        ));
        return;
    }
    if sectors.len() > MAX_ITEMS {
        errors.push(FieldError::new(
            "sectors",
            "too_many",
            text!(
                "may list at most {MAX_ITEMS} sectors",
                "puede incluir como máximo {MAX_ITEMS} sectores"
            ),
        ));
        return;
    }
    let mut seen = HashSet::new();
    let mut sum = 0i64;
    let mut all_valid = true;
    for (i, s) in sectors.iter_mut().enumerate() {
        let field = format!("sectors[{i}].code");
        if !seen.insert(s.code.clone()) {
            errors.push(FieldError::new(
                field,
                "duplicate",
                text!("is listed twice", "aparece dos veces"),
            ));
        } else {
            iati::check_sector(&field, &s.code, errors);
        }
        match percentage_hundredths(&s.percentage).filter(|_| is_percentage(&s.percentage)) {
            Some(h) if h > 0 && h <= 10_000 => {
                sum += h;
                s.percentage = format_percentage(h);
            }
            _ => {
                all_valid = false;
                errors.push(FieldError::new(
                    format!("sectors[{i}].percentage"),
                    "invalid",
                    text!(
                        "must be a decimal string above 0 and at most 100, with at most two decimals",
                        "debe ser una cadena decimal mayor que 0 y como máximo 100, con dos decimales como máximo"
                    ),
                ));
            }
        }
    }
    if all_valid && sum != 10_000 {
        let got = format_percentage(sum);
        errors.push(FieldError::new(
            "sectors",
            "sum_not_100",
            text!(
                "the percentages sum to {got}, not 100",
                "los porcentajes suman {got}, no 100"
            ),
        ));
    }
}

/// Checks budget lines against the project's budget and dates: each period at most 365
/// days within the project's dates, in the budget's currency, one line per period and
/// status, periods that do not overlap, and the amounts (a period's revised line in
/// place of its original) summing to the budget (a 422 naming `budget_lines` otherwise).
pub fn check_budget_lines(
    lines: &[BudgetLine],
    budget: &Money,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    errors: &mut Vec<FieldError>,
) {
    if lines.len() > MAX_ITEMS {
        errors.push(FieldError::new(
            "budget_lines",
            "too_many",
            text!(
                "may list at most {MAX_ITEMS} budget lines",
                "puede incluir como máximo {MAX_ITEMS} líneas de presupuesto"
            ),
        ));
        return;
    }
    let before = errors.len();
    // Per period: (original, revised) amounts.
    let mut periods: BTreeMap<(NaiveDate, NaiveDate), (Option<i64>, Option<i64>)> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let at = |f: &str| format!("budget_lines[{i}].{f}");
        if l.period_end < l.period_start {
            errors.push(FieldError::new(
                at("period_end"),
                "before_period_start",
                text!(
                    "must not be before period_start",
                    "no puede ser anterior a period_start"
                ),
            ));
        } else if (l.period_end - l.period_start).num_days() > MAX_PERIOD_DAYS {
            errors.push(FieldError::new(
                at("period_end"),
                "period_too_long",
                text!(
                    "a budget line covers at most a year: at most {MAX_PERIOD_DAYS} days after period_start",
                    "una línea de presupuesto cubre como máximo un año: como máximo {MAX_PERIOD_DAYS} días después de period_start"
                ),
            ));
        }
        if l.period_start < starts_on {
            errors.push(FieldError::new(
                at("period_start"),
                "before_project",
                text!(
                    "must not be before the project's starts_on",
                    "no puede ser anterior a starts_on del proyecto"
                ),
            ));
        }
        if let Some(end) = ends_on
            && l.period_end > end
        {
            errors.push(FieldError::new(
                at("period_end"),
                "after_project",
                text!(
                    "must not be after the project's ends_on",
                    "no puede ser posterior a ends_on del proyecto"
                ),
            ));
        }
        let Some(amount) = Money::validate(&at("amount"), &l.amount, errors) else {
            continue;
        };
        if amount.currency.code != budget.currency.code {
            let want = budget.currency.code;
            errors.push(FieldError::new(
                at("amount.currency"),
                "currency_mismatch",
                text!(
                    "must be the budget's currency, {want}",
                    "debe ser la moneda del presupuesto, {want}"
                ),
            ));
            continue;
        }
        let slot = periods.entry((l.period_start, l.period_end)).or_default();
        let place = match l.status {
            BudgetLineStatus::Original => &mut slot.0,
            BudgetLineStatus::Revised => &mut slot.1,
        };
        if place.replace(amount.minor).is_some() {
            errors.push(FieldError::new(
                at("status"),
                "duplicate",
                text!(
                    "the period already has a line of this status",
                    "el período ya tiene una línea con este estado"
                ),
            ));
        }
    }
    if errors.len() > before || lines.is_empty() {
        return;
    }
    let mut previous_end: Option<NaiveDate> = None;
    for (start, end) in periods.keys() {
        if previous_end.is_some_and(|p| *start <= p) {
            errors.push(FieldError::new(
                "budget_lines",
                "overlapping_periods",
                text!(
                    "the periods of the budget lines overlap (at {start})",
                    "los períodos de las líneas de presupuesto se superponen (en {start})"
                ),
            ));
            return;
        }
        previous_end = Some(*end);
    }
    let sum: i64 = periods
        .values()
        .map(|(original, revised)| revised.or(*original).unwrap_or(0))
        .sum();
    if sum != budget.minor {
        let exp = budget.currency.exponent as usize;
        let (got, want, cur) = (
            money::format_decimal(sum, exp),
            budget.amount_string(),
            budget.currency.code,
        );
        errors.push(FieldError::new(
            "budget_lines",
            "sum_mismatch",
            text!(
                "the budget lines sum to {got} {cur}, the budget is {want} {cur} (a period's revised line counts in place of its original)",
                "las líneas de presupuesto suman {got} {cur} y el presupuesto es {want} {cur} (la línea revisada de un período cuenta en lugar de la original)"
            ),
        ));
    }
}

/// Budget lines with their amounts in canonical form (after [`check_budget_lines`]),
/// sorted by period and status.
pub fn normalized_lines(lines: &[BudgetLine], budget: &Money) -> Vec<BudgetLine> {
    let mut out: Vec<BudgetLine> = lines
        .iter()
        .map(|l| BudgetLine {
            amount: Money::parse(&l.amount.amount, &l.amount.currency)
                .map(|m| m.to_json())
                .unwrap_or_else(|_| budget.to_json()),
            ..l.clone()
        })
        .collect();
    out.sort_by_key(|l| (l.period_start, l.period_end, l.status.as_str()));
    out
}

/// Sectors as stored.
pub fn sectors_to_json(s: &[ProjectSector]) -> serde_json::Value {
    serde_json::to_value(s).expect("sectors serialize")
}

/// Sectors from the stored JSON.
pub fn sectors_from_json(v: serde_json::Value) -> Vec<ProjectSector> {
    serde_json::from_value(v).unwrap_or_default()
}

/// Budget lines as stored (minor units of the budget's currency).
pub fn lines_to_json(lines: &[BudgetLine]) -> serde_json::Value {
    let stored: Vec<StoredLine> = lines
        .iter()
        .map(|l| StoredLine {
            period_start: l.period_start,
            period_end: l.period_end,
            amount_minor: Money::parse(&l.amount.amount, &l.amount.currency)
                .map(|m| m.minor)
                .unwrap_or(0),
            status: l.status.as_str().to_owned(),
        })
        .collect();
    serde_json::to_value(stored).expect("budget lines serialize")
}

/// Budget lines from the stored JSON, in the budget's currency.
pub fn lines_from_json(v: serde_json::Value, currency: &str) -> Vec<BudgetLine> {
    let stored: Vec<StoredLine> = serde_json::from_value(v).unwrap_or_default();
    stored
        .into_iter()
        .map(|s| BudgetLine {
            period_start: s.period_start,
            period_end: s.period_end,
            amount: Money::from_db(s.amount_minor, currency).to_json(),
            status: BudgetLineStatus::from_db(&s.status),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_exact_decimals() {
        assert_eq!(percentage_hundredths("100"), Some(10_000));
        assert_eq!(percentage_hundredths("33.33"), Some(3_333));
        assert_eq!(percentage_hundredths("0.5"), Some(50));
        assert_eq!(percentage_hundredths("1."), None);
        assert_eq!(percentage_hundredths("1.234"), None);
        assert_eq!(percentage_hundredths("-1"), None);
        assert_eq!(percentage_hundredths("1e2"), None);
        assert_eq!(format_percentage(3_350), "33.5");
        assert_eq!(format_percentage(10_000), "100");
        assert_eq!(format_percentage(3_333), "33.33");
    }

    #[test]
    fn sectors_must_sum_to_100() {
        let mut s = vec![
            ProjectSector {
                code: "15151".into(),
                percentage: "60".into(),
            },
            ProjectSector {
                code: "15160".into(),
                percentage: "30".into(),
            },
        ];
        let mut e = Vec::new();
        check_sectors(&mut s, &mut e);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].field.as_str(), e[0].code), ("sectors", "sum_not_100"));
        s[1].percentage = "40.00".into();
        let mut e = Vec::new();
        check_sectors(&mut s, &mut e);
        assert!(e.is_empty());
        assert_eq!(s[1].percentage, "40");
    }

    #[test]
    fn budget_lines_must_sum_to_the_budget() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let line = |a: &str, b: &str, amount: &str, status| BudgetLine {
            period_start: d(a),
            period_end: d(b),
            amount: MonetaryAmount {
                amount: amount.into(),
                currency: "USD".into(),
            },
            status,
        };
        let budget = Money::usd(100_000);
        let lines = vec![
            line(
                "2026-01-01",
                "2026-12-31",
                "600.00",
                BudgetLineStatus::Original,
            ),
            line(
                "2026-01-01",
                "2026-12-31",
                "500.00",
                BudgetLineStatus::Revised,
            ),
            line(
                "2027-01-01",
                "2027-06-30",
                "500.00",
                BudgetLineStatus::Original,
            ),
        ];
        let mut e = Vec::new();
        check_budget_lines(&lines, &budget, d("2026-01-01"), None, &mut e);
        assert!(e.is_empty(), "{e:?}");
        let mut e = Vec::new();
        check_budget_lines(&lines[..1], &budget, d("2026-01-01"), None, &mut e);
        assert_eq!(e[0].code, "sum_mismatch");
        let long = vec![line(
            "2026-01-01",
            "2027-01-02",
            "1000.00",
            BudgetLineStatus::Original,
        )];
        let mut e = Vec::new();
        check_budget_lines(&long, &budget, d("2026-01-01"), None, &mut e);
        assert_eq!(e[0].field, "budget_lines[0].period_end");
    }
}
