//! Mandate references (`AG/RES. 2976 (LII-O/22)`) and what they tell: the issuing body
//! and the kind of document.

use std::sync::LazyLock;

use regex::Regex;

use crate::core::enums::string_enum;
use crate::core::i18n::Text;
use crate::core::i18n::text;

string_enum! {
    /// The body that adopted a mandate, as its reference tells (`AG/`, `CP/`, `CIDI/`).
    pub enum IssuingBody {
        GeneralAssembly = "general_assembly" ("General Assembly", "Asamblea General"),
        PermanentCouncil = "permanent_council" ("Permanent Council", "Consejo Permanente"),
        Cidi = "cidi" ("Inter-American Council for Integral Development", "Consejo Interamericano para el Desarrollo Integral"),
    }
}

string_enum! {
    /// A resolution (`RES.`) or a declaration (`DEC.`), as the reference tells.
    pub enum DocumentKind {
        Resolution = "resolution" ("Resolution", "Resolución"),
        Declaration = "declaration" ("Declaration", "Declaración"),
    }
}

// ---------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------

/// What a well-formed reference tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedReference {
    pub issuing_body: IssuingBody,
    pub document_kind: DocumentKind,
    /// The two-digit year of adoption.
    pub year: u32,
}

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(AG|CP|CIDI)/(RES|DEC)\. [1-9][0-9]{0,4} \((?:([IVXLC]+)-([OE])|([1-9][0-9]{0,4}))/([0-9]{2})\)$",
    )
    .expect("the reference pattern compiles")
});

/// The grammar of a well-formed reference, the document's `pattern` of `reference`
/// and the first check of [`parse_reference`] (which then tells the faults apart with
/// the looser pattern above): General Assembly and CIDI with a session in canonical
/// Roman numerals from I to C, the Permanent Council with a meeting number.
pub const REFERENCE_PATTERN: &str = concat!(
    r"^((AG|CIDI)/(RES|DEC)\. [1-9][0-9]{0,4} \(",
    r"(C|(XC|XL|LX{0,3}|X{1,3})(IX|IV|VI{0,3}|I{0,3})|IX|IV|VI{0,3}|I{1,3})",
    r"-[OE]/[0-9]{2}\)",
    r"|CP/(RES|DEC)\. [1-9][0-9]{0,4} \([1-9][0-9]{0,4}/[0-9]{2}\))$"
);

static WELL_FORMED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(REFERENCE_PATTERN).expect("REFERENCE_PATTERN compiles"));

const ROMAN: &[(u32, &str)] = &[
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
];

fn to_roman(mut n: u32) -> String {
    let mut out = String::new();
    for (value, symbol) in ROMAN {
        while n >= *value {
            out.push_str(symbol);
            n -= value;
        }
    }
    out
}

/// The value of a Roman numeral in canonical form between I and C (`IIII`, `IC`, `VX`
/// and the like are not numerals).
pub fn roman_value(s: &str) -> Option<u32> {
    let mut rest = s;
    let mut total = 0;
    for (value, symbol) in ROMAN {
        while let Some(r) = rest.strip_prefix(symbol) {
            total += value;
            rest = r;
        }
    }
    (rest.is_empty() && (1..=100).contains(&total) && to_roman(total) == s).then_some(total)
}

/// The shapes a reference may take, as the message of a malformed one.
pub fn shapes() -> Text {
    text!(
        "must be an OAS citation such as AG/RES. 2976 (LII-O/22), AG/DEC. 74 (XLIV-O/14), CP/RES. 1234 (2345/22) or CIDI/RES. 123 (XX-O/15)",
        "debe ser una cita de la OEA como AG/RES. 2976 (LII-O/22), AG/DEC. 74 (XLIV-O/14), CP/RES. 1234 (2345/22) o CIDI/RES. 123 (XX-O/15)"
    )
}

/// Parses an OAS citation: General Assembly and CIDI (`AG/RES. 2976 (LII-O/22)`: number,
/// session in Roman numerals, `O` regular or `E` special, two-digit year) and Permanent
/// Council (`CP/RES. 1234 (2345/22)`: number, meeting number, two-digit year).
pub fn parse_reference(s: &str) -> Result<ParsedReference, (&'static str, Text)> {
    let c = REFERENCE.captures(s).ok_or(("invalid_format", shapes()))?;
    let issuing_body = match &c[1] {
        "AG" => IssuingBody::GeneralAssembly,
        "CP" => IssuingBody::PermanentCouncil,
        _ => IssuingBody::Cidi,
    };
    let document_kind = match &c[2] {
        "RES" => DocumentKind::Resolution,
        _ => DocumentKind::Declaration,
    };
    match (issuing_body, c.get(3), c.get(5)) {
        (IssuingBody::PermanentCouncil, None, Some(_)) => {}
        (IssuingBody::PermanentCouncil, _, _) => {
            return Err((
                "invalid_format",
                text!(
                    "a Permanent Council reference names the meeting by its number, as in CP/RES. 1234 (2345/22)",
                    "una referencia del Consejo Permanente indica la sesión por su número, como en CP/RES. 1234 (2345/22)"
                ),
            ));
        }
        (_, Some(session), None) => {
            if roman_value(session.as_str()).is_none() {
                let session = session.as_str();
                return Err((
                    "invalid_session",
                    text!(
                        "the session {session} is not a Roman numeral between I and C",
                        "el período de sesiones {session} no es un número romano entre I y C"
                    ),
                ));
            }
        }
        _ => {
            return Err((
                "invalid_format",
                text!(
                    "a General Assembly or CIDI reference names the session in Roman numerals, as in AG/RES. 2976 (LII-O/22)",
                    "una referencia de la Asamblea General o del CIDI indica el período de sesiones en números romanos, como en AG/RES. 2976 (LII-O/22)"
                ),
            ));
        }
    }
    // The document's pattern has the last word (the checks above name the faults).
    if !WELL_FORMED.is_match(s) {
        return Err(("invalid_format", shapes()));
    }
    let year = c[6].parse().expect("two digits");
    Ok(ParsedReference {
        issuing_body,
        document_kind,
        year,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals_in_canonical_form_from_i_to_c() {
        for n in 1..=100 {
            assert_eq!(roman_value(&to_roman(n)), Some(n), "{n}");
        }
        for bad in [
            "", "IIII", "IC", "VX", "XXXX", "LL", "CI", "IIV", "MC", "VV", "XIIII",
        ] {
            assert_eq!(roman_value(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_documented_pattern_is_what_the_parser_takes() {
        let pattern = Regex::new(REFERENCE_PATTERN).unwrap();
        for n in 1..=100 {
            for (body, form) in [("AG", "-O"), ("CIDI", "-E")] {
                let s = format!("{body}/RES. 12 ({}{form}/22)", to_roman(n));
                assert!(pattern.is_match(&s), "{s}");
                assert!(parse_reference(&s).is_ok(), "{s}");
            }
        }
        for s in [
            "CP/RES. 1234 (2345/22)",
            "CP/DEC. 1 (1/00)",
            "AG/DEC. 74 (XLIV-O/14)",
        ] {
            assert!(pattern.is_match(s) && parse_reference(s).is_ok(), "{s}");
        }
        for s in [
            "AG/RES. 1 (IIII-O/22)",
            "AG/RES. 1 (CI-O/22)",
            "AG/RES. 1 (-O/22)",
            "AG/RES. 1 (12/22)",
            "CP/RES. 1 (XL-O/22)",
            "CIDI/RES. 01 (X-O/22)",
            "AG/RES. 1 (X-O/22)\n",
        ] {
            assert!(!pattern.is_match(s) && parse_reference(s).is_err(), "{s}");
        }
    }
}
