//! The demo data's IATI classifications: every demo project gets the OECD DAC sectors of
//! its theme (codes looked up in the DAC codelist, `iati/codelists/Sector.xml`; a unit
//! test checks each is an active code and each theme's percentages sum to 100), and
//! the demo agencies registered in a registry of IATI's OrganisationRegistrationAgency
//! codelist get their organisation identifier.

use diesel::sql_types::{Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A theme's English title (as it appears in the demo projects' titles) and its sectors
/// (DAC code, percentage).
pub const THEME_SECTORS: &[(&str, &[(&str, &str)])] = &[
    (
        "Strengthening electoral management bodies",
        &[("15151", "100")],
    ),
    (
        "Follow-up of electoral observation recommendations",
        &[("15151", "100")],
    ),
    (
        "Women's political participation and gender parity",
        &[("15152", "50"), ("15170", "50")],
    ),
    ("Dialogue and conflict prevention", &[("15220", "100")]),
    (
        "Universal civil registry and right to identity",
        &[("13096", "60"), ("15160", "40")],
    ),
    (
        "Open government and digital public services",
        &[("15110", "70"), ("15153", "30")],
    ),
    (
        "Municipal management and local democracy",
        &[("15185", "70"), ("15112", "30")],
    ),
    (
        "Youth leadership for democratic values",
        &[("15150", "100")],
    ),
    (
        "Inclusion of persons with disabilities",
        &[("15160", "50"), ("16010", "50")],
    ),
    (
        "Rights of indigenous peoples and Afro-descendants",
        &[("15160", "100")],
    ),
    (
        "Protection of migrants and host communities",
        &[("15190", "100")],
    ),
    (
        "Prevention of violence against women and girls",
        &[("15180", "100")],
    ),
    ("Social protection for older persons", &[("16010", "100")]),
    (
        "Teacher training for inclusive education",
        &[("11130", "100")],
    ),
    (
        "Scholarships and skills for employment",
        &[("11330", "60"), ("16020", "40")],
    ),
    (
        "Competitiveness of small and medium-sized enterprises",
        &[("32130", "100")],
    ),
    (
        "Women's economic empowerment",
        &[("16020", "60"), ("15170", "40")],
    ),
    (
        "Disaster risk reduction and climate resilience",
        &[("43060", "100")],
    ),
    ("Integrated water resources management", &[("14015", "100")]),
    (
        "Sustainable energy for rural communities",
        &[("23210", "100")],
    ),
    ("Digital skills and rural connectivity", &[("22040", "100")]),
    ("Drug demand reduction and treatment", &[("16063", "100")]),
    ("Drug treatment courts", &[("16063", "60"), ("15130", "40")]),
    ("National cybersecurity capacity", &[("15210", "100")]),
    ("Border and port security", &[("15210", "100")]),
    (
        "Community policing and violence prevention",
        &[("15132", "60"), ("15220", "40")],
    ),
    ("Firearms marking and destruction", &[("15240", "100")]),
    (
        "Combating trafficking in persons",
        &[("15160", "60"), ("15130", "40")],
    ),
    (
        "Anti-money laundering and asset recovery",
        &[("15113", "50"), ("24010", "50")],
    ),
    ("Training in international law", &[("15130", "100")]),
    ("Access to public information", &[("15153", "100")]),
    (
        "Implementation of MESICIC recommendations",
        &[("15113", "100")],
    ),
    (
        "Justice houses and alternative dispute resolution",
        &[("15130", "100")],
    ),
    ("Mutual legal assistance network", &[("15130", "100")]),
];

/// Member states whose demo registration numbers come from a registry of IATI's
/// OrganisationRegistrationAgency codelist, and its prefix (Colombia's NIT, Uruguay's
/// RUT and Costa Rica's government numbers have none there).
pub const REGISTRIES: &[(&str, &str)] = &[
    ("PE", "PE-RUC"),
    ("AR", "AR-CUIT"),
    ("BR", "BR-CNPJ"),
    ("MX", "MX-RFC"),
    ("GT", "GT-NIT"),
];

/// Gives the demo projects their themes' sectors and the demo agencies their
/// organisation identifiers (the registration number without punctuation).
pub async fn apply(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    for (title, sectors) in THEME_SECTORS {
        let json: Vec<serde_json::Value> = sectors
            .iter()
            .map(|(code, pct)| serde_json::json!({"code": code, "percentage": pct}))
            .collect();
        diesel::sql_query("UPDATE projects SET sectors = $1 WHERE strpos(title->>'en', $2) > 0")
            .bind::<Jsonb, _>(serde_json::Value::Array(json))
            .bind::<Text, _>(*title)
            .execute(conn)
            .await?;
    }
    for (ms, prefix) in REGISTRIES {
        diesel::sql_query(
            "UPDATE executing_agencies \
                SET org_identifier = $2 || '-' || regexp_replace(registration_number, '[^A-Za-z0-9]', '', 'g') \
              WHERE member_state = $1 AND org_identifier IS NULL",
        )
        .bind::<Text, _>(*ms)
        .bind::<Text, _>(*prefix)
        .execute(conn)
        .await?;
    }
    // Costa Rica's legal persons (cédula jurídica 3-101-…) are in its Registro de Personas
    // Jurídicas; its government bodies (2-100-…) are not.
    diesel::sql_query(
        "UPDATE executing_agencies \
            SET org_identifier = 'CR-RPJ-' || regexp_replace(registration_number, '[^0-9]', '', 'g') \
          WHERE member_state = 'CR' AND registration_number LIKE '3-101-%' AND org_identifier IS NULL",
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::FieldError;
    use crate::resources::projects::ProjectSector;
    use crate::resources::projects::iati_fields::check_sectors;
    use crate::resources::shared::iati::registration_agencies;

    #[test]
    fn every_theme_has_active_dac_sectors_summing_to_100() {
        for (title, sectors) in THEME_SECTORS {
            let mut s: Vec<ProjectSector> = sectors
                .iter()
                .map(|(c, p)| ProjectSector {
                    code: (*c).into(),
                    percentage: (*p).into(),
                })
                .collect();
            let mut errors: Vec<FieldError> = Vec::new();
            check_sectors(&mut s, &mut errors);
            assert!(errors.is_empty(), "{title}: {errors:?}");
        }
        for (_, prefix) in REGISTRIES {
            assert!(registration_agencies()[*prefix].active, "{prefix}");
        }
        assert!(registration_agencies()["CR-RPJ"].active);
    }

    #[test]
    fn every_demo_theme_is_mapped() {
        let words: serde_json::Value =
            serde_json::from_str(include_str!("demo_words.json")).unwrap();
        for themes in words["project_themes"].as_object().unwrap().values() {
            for t in themes.as_array().unwrap() {
                let title = t["title"]["en"].as_str().unwrap();
                assert!(
                    THEME_SECTORS.iter().any(|(x, _)| *x == title),
                    "no sectors for the theme {title:?}"
                );
            }
        }
    }
}
