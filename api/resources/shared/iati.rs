//! IATI reference data the resources validate against: the OECD DAC 5-digit sector
//! codelist (IATI `Sector`, vocabulary 1) and IATI's `OrganisationRegistrationAgency`
//! codelist (the prefixes of organisation identifiers). Both are the files the IATI gate
//! checks the export with (`iati/codelists/`, see `iati/SOURCES.md`), compiled in.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::core::error::FieldError;
use crate::core::i18n::text;
use crate::core::validate::BLANK_OR_CONTROL;

use super::Pillar;

const SECTOR_XML: &str = include_str!("../../../iati/codelists/Sector.xml");
const REGISTRATION_AGENCY_XML: &str =
    include_str!("../../../iati/codelists/OrganisationRegistrationAgency.xml");

/// A codelist item: its English name and whether it is active (not withdrawn).
#[derive(Clone, Debug)]
pub struct CodelistItem {
    pub name: String,
    pub active: bool,
}

/// The text between `open` and `close` in `s`, if any.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// The items of an IATI codelist XML file (`<codelist-item status="…"><code>…</code>
/// <name><narrative>…</narrative>…`).
fn parse_codelist(xml: &str) -> HashMap<String, CodelistItem> {
    xml.split("<codelist-item")
        .skip(1)
        .filter_map(|item| {
            let head = &item[..item.find('>')?];
            let active = between(head, "status=\"", "\"").is_none_or(|s| s == "active");
            let code = between(item, "<code>", "</code>")?.trim().to_owned();
            let name = between(item, "<name>", "</name>")
                .and_then(|n| between(n, ">", "</narrative>"))
                .unwrap_or("")
                .trim()
                .replace("&amp;", "&");
            Some((code, CodelistItem { name, active }))
        })
        .collect()
}

/// The DAC 5-digit sector codelist, by code.
pub fn sectors() -> &'static HashMap<String, CodelistItem> {
    static LIST: OnceLock<HashMap<String, CodelistItem>> = OnceLock::new();
    LIST.get_or_init(|| parse_codelist(SECTOR_XML))
}

/// The organisation registration agencies (identifier prefixes such as `PE-RUC`), by code.
pub fn registration_agencies() -> &'static HashMap<String, CodelistItem> {
    static LIST: OnceLock<HashMap<String, CodelistItem>> = OnceLock::new();
    LIST.get_or_init(|| parse_codelist(REGISTRATION_AGENCY_XML))
}

/// The sector a project gets when it is created without sectors (and the one the
/// migration gave existing projects): the DAC purpose closest to its pillar.
pub fn default_sector(p: Pillar) -> &'static str {
    match p {
        // Democratic participation and civil society.
        Pillar::Democracy => "15150",
        // Human rights.
        Pillar::HumanRights => "15160",
        // Multisector aid.
        Pillar::IntegralDevelopment => "43010",
        // Security system management and reform.
        Pillar::MultidimensionalSecurity => "15210",
        // Legal and judicial development.
        Pillar::LegalCooperation => "15130",
    }
}

/// Checks a DAC 5-digit sector code, pushing an error naming `field` when it is not an
/// active code of the codelist.
pub fn check_sector(field: &str, code: &str, errors: &mut Vec<FieldError>) {
    match sectors().get(code) {
        Some(item) if item.active => {}
        Some(_) => errors.push(FieldError::new(
            field,
            "withdrawn",
            text!(
                "{code} was withdrawn from the OECD DAC sector codelist",
                "{code} fue retirado de la lista de sectores del CAD de la OCDE"
            ),
        )),
        None => errors.push(FieldError::new(
            field,
            "unknown",
            text!(
                "{code} is not an OECD DAC 5-digit sector code (IATI Sector codelist)",
                "{code} no es un código de sector de 5 dígitos del CAD de la OCDE (lista Sector de IATI)"
            ),
        )),
    }
}

/// Schema-only type of a sector code in a request: the active codes of the OECD DAC
/// 5-digit sector codelist, what [`check_sector`] takes.
pub struct SectorCode;

impl utoipa::PartialSchema for SectorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut codes: Vec<&str> = sectors()
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(c, _)| c.as_str())
            .collect();
        codes.sort_unstable();
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An active code of the OECD DAC 5-digit sector codelist (IATI `Sector`, \
                 vocabulary 1), e.g. `15151` Elections, `15160` Human rights, `43060` \
                 Disaster Risk Reduction.",
            ))
            .enum_values(Some(codes))
            .examples(["15151"])
            .into()
    }
}

impl utoipa::ToSchema for SectorCode {}

/// The grammar of an IATI organisation identifier, the document's `pattern` of every
/// such field and what [`check_org_identifier`] matches: an active code of the
/// OrganisationRegistrationAgency codelist, a hyphen, and a registration number that is
/// not empty and holds no white space, control character, `/`, `&`, `|` or `?`.
pub fn org_identifier_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut codes: Vec<&str> = registration_agencies()
            .iter()
            .filter(|(_, a)| a.active)
            .map(|(c, _)| c.as_str())
            .collect();
        codes.sort_unstable();
        // Codes are letters, digits and hyphens; anything else goes in a class of its
        // own (`[.]`), which every regex dialect reads the same.
        let codes: Vec<String> = codes
            .into_iter()
            .map(|c| {
                c.chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() || ch == '-' {
                            ch.to_string()
                        } else {
                            format!("[{}]", regex::escape(&ch.to_string()))
                        }
                    })
                    .collect()
            })
            .collect();
        format!("^({})-[^/&|?{BLANK_OR_CONTROL}]+$", codes.join("|"))
    })
}

fn org_identifier_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(org_identifier_pattern()).expect("the identifier pattern"))
}

/// Checks an IATI organisation identifier (`{agency prefix}-{registration number}`,
/// e.g. `PE-RUC-20504915523`): at most 100 characters, matching
/// [`org_identifier_pattern`] (IATI rules 1.x.13). The fault named is the unknown prefix
/// when no active prefix and hyphen start it, else the registration number.
pub fn check_org_identifier(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    let length = value.chars().count();
    if length <= 100 && org_identifier_regex().is_match(value) {
        return;
    }
    if length > 100 {
        errors.push(FieldError::new(
            field,
            "too_long",
            text!(
                "must be at most 100 characters",
                "debe tener como máximo 100 caracteres"
            ),
        ));
        return;
    }
    let agencies = registration_agencies();
    // The longest registered prefix followed by a hyphen.
    let prefix = value
        .char_indices()
        .filter(|&(_, c)| c == '-')
        .map(|(i, _)| &value[..i])
        .filter(|p| agencies.get(*p).is_some_and(|a| a.active))
        .max_by_key(|p| p.len());
    let Some(prefix) = prefix else {
        errors.push(FieldError::new(
            field,
            "unknown_prefix",
            text!(
                "must start with an organisation registration agency code of IATI's OrganisationRegistrationAgency codelist and a hyphen, e.g. PE-RUC-20504915523",
                "debe empezar con un código de agencia de registro de la lista OrganisationRegistrationAgency de IATI y un guion, p. ej. PE-RUC-20504915523"
            ),
        ));
        return;
    };
    errors.push(FieldError::new(
        field,
        "invalid_format",
        text!(
            "the registration number after {prefix}- must be non-empty, without spaces and without /, &, | or ?",
            "el número de registro después de {prefix}- no puede estar vacío ni tener espacios, /, &, | o ?"
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codelists_are_read() {
        assert!(sectors().len() > 300);
        assert_eq!(sectors()["15151"].name, "Elections");
        assert!(sectors()["15151"].active);
        assert!(!sectors()["15161"].active);
        assert!(registration_agencies()["PE-RUC"].active);
        for p in Pillar::ALL {
            assert!(sectors()[default_sector(*p)].active);
        }
    }

    #[test]
    fn organisation_identifiers_are_checked_by_prefix() {
        let check = |v: &str| {
            let mut e = Vec::new();
            check_org_identifier("org_identifier", v, &mut e);
            e.into_iter().map(|f| f.code).collect::<Vec<_>>()
        };
        assert!(check("PE-RUC-20504915523").is_empty());
        assert!(check("XI-IATI-OAS").is_empty());
        assert_eq!(check("ZZ-NOPE-1"), vec!["unknown_prefix"]);
        assert_eq!(check("PE-RUC-"), vec!["invalid_format"]);
        assert_eq!(check("PE-RUC-12/3"), vec!["invalid_format"]);
        assert_eq!(check("20504915523"), vec!["unknown_prefix"]);
    }
}
