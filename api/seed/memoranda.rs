//! Demo Administrative Memoranda with the offices' acknowledgements and compliance, and
//! the offices' events and accomplishments (most of them published), derived from the
//! offices, projects and mandates already loaded: the same rows on every machine (ids
//! are UUID v5 of codes, dates relative to [`super::AS_OF`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::{AS_OF, demo_id};
use crate::db::schema::{
    accomplishment_agencies, accomplishment_mandates, accomplishment_projects, accomplishments,
    memoranda, memorandum_offices, memorandum_responses, offices, project_agencies,
    project_mandates, projects,
};

/// Who issues the demo memoranda.
const ISSUER: &str = "coordinator@oas.org";

/// A demo memorandum: number, title (en, es), text (en, es), days before AS_OF it was
/// issued, days it gives, evidence asked (en, es), and whether it applies to all offices
/// (otherwise to every third one).
struct Memo {
    number: &'static str,
    title: (&'static str, &'static str),
    text: (&'static str, &'static str),
    issued_days_ago: i64,
    days_to_comply: Option<i64>,
    evidence: Option<(&'static str, &'static str)>,
    all: bool,
}

const MEMOS: &[Memo] = &[
    Memo {
        number: "AM/2026/02",
        title: (
            "Annual physical count of the offices' assets",
            "Recuento físico anual de los bienes de las oficinas",
        ),
        text: (
            "Each Office shall count its equipment, vehicles and furniture, reconcile the count with the inventory and report the discrepancies to the Coordinating Office.",
            "Cada Oficina contará sus equipos, vehículos y mobiliario, conciliará el recuento con el inventario e informará las discrepancias a la Oficina de Coordinación.",
        ),
        issued_days_ago: 280,
        days_to_comply: Some(75),
        evidence: Some((
            "The signed count report and the list of discrepancies.",
            "El acta de recuento firmada y la lista de discrepancias.",
        )),
        all: true,
    },
    Memo {
        number: "AM/2026/05",
        title: (
            "Travel authorizations and per diem",
            "Autorizaciones de viaje y viáticos",
        ),
        text: (
            "Official travel requires prior written authorization; per diem follows the rates of the General Secretariat in force on the day of travel.",
            "Todo viaje oficial requiere autorización escrita previa; los viáticos siguen las tarifas de la Secretaría General vigentes el día del viaje.",
        ),
        issued_days_ago: 200,
        days_to_comply: Some(30),
        evidence: None,
        all: true,
    },
    Memo {
        number: "AM/2026/09",
        title: (
            "Information security: accounts and devices",
            "Seguridad de la información: cuentas y dispositivos",
        ),
        text: (
            "Offices shall enable multi-factor authentication on every account and encrypt every portable device.",
            "Las Oficinas activarán la autenticación multifactor en todas las cuentas y cifrarán todos los dispositivos portátiles.",
        ),
        issued_days_ago: 60,
        days_to_comply: Some(45),
        evidence: Some((
            "The list of accounts and devices with their status.",
            "La lista de cuentas y dispositivos con su estado.",
        )),
        all: false,
    },
    Memo {
        number: "AM/2026/11",
        title: (
            "Quarterly financial report to the Coordinating Office",
            "Informe financiero trimestral a la Oficina de Coordinación",
        ),
        text: (
            "Offices shall send the reconciliation of each fund for the third quarter, signed by the Representative.",
            "Las Oficinas enviarán la conciliación de cada fondo del tercer trimestre, firmada por el Representante.",
        ),
        issued_days_ago: 20,
        days_to_comply: None,
        evidence: Some((
            "The signed reconciliation (document reference).",
            "La conciliación firmada (referencia del documento).",
        )),
        all: true,
    },
];

/// English and Spanish.
type Bilingual = (&'static str, &'static str);

/// Templates of items: kind, title, text.
const ITEMS: &[(&str, Bilingual, Bilingual)] = &[
    (
        "event",
        (
            "Workshop with the electoral authorities",
            "Taller con las autoridades electorales",
        ),
        (
            "The Office and the national electoral body trained observers ahead of the coming elections.",
            "La Oficina y el órgano electoral nacional capacitaron a observadores ante las próximas elecciones.",
        ),
    ),
    (
        "agreement_signed",
        (
            "Cooperation agreement signed",
            "Firma de un acuerdo de cooperación",
        ),
        (
            "The Office signed a cooperation agreement with a national partner to carry out the project.",
            "La Oficina firmó un acuerdo de cooperación con un socio nacional para ejecutar el proyecto.",
        ),
    ),
    (
        "project_milestone",
        ("Project milestone reached", "Hito del proyecto alcanzado"),
        (
            "The project delivered its first results to the beneficiary communities.",
            "El proyecto entregó sus primeros resultados a las comunidades beneficiarias.",
        ),
    ),
    (
        "visit",
        (
            "Visit of the Assistant Secretary General",
            "Visita del Secretario General Adjunto",
        ),
        (
            "The Assistant Secretary General met the Minister of Foreign Affairs and the Office's partners.",
            "El Secretario General Adjunto se reunió con el Ministro de Relaciones Exteriores y los socios de la Oficina.",
        ),
    ),
    (
        "accomplishment",
        (
            "Technical assistance completed",
            "Asistencia técnica concluida",
        ),
        (
            "The Office completed its technical assistance to the national authorities, as the mandate asks.",
            "La Oficina concluyó su asistencia técnica a las autoridades nacionales, como pide el mandato.",
        ),
    ),
];

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("a valid time"))
        .and_utc()
}

/// Loads the demo memoranda and accomplishments; returns how many memoranda, offices'
/// answers and items.
pub(super) async fn load(conn: &mut AsyncPgConnection) -> anyhow::Result<(usize, usize, usize)> {
    let offices: Vec<(Uuid, String, Option<NaiveDate>)> = offices::table
        .filter(offices::kind.eq("country_office"))
        .select((offices::id, offices::code, offices::closed_on))
        .order(offices::code)
        .load(conn)
        .await?;
    let mut responses = 0;
    for (m_index, memo) in MEMOS.iter().enumerate() {
        let issued_on = AS_OF - Duration::days(memo.issued_days_ago);
        let id = demo_id("memorandum", memo.number);
        let applies: Vec<&(Uuid, String, Option<NaiveDate>)> = offices
            .iter()
            .enumerate()
            .filter(|(i, (_, _, closed))| {
                (memo.all || i % 3 == 0) && closed.is_none_or(|c| c > issued_on)
            })
            .map(|(_, o)| o)
            .collect();
        diesel::insert_into(memoranda::table)
            .values((
                memoranda::id.eq(id),
                memoranda::number.eq(memo.number),
                memoranda::title.eq(json!({"en": memo.title.0, "es": memo.title.1})),
                memoranda::body.eq(json!({"en": memo.text.0, "es": memo.text.1})),
                memoranda::issued_on.eq(issued_on),
                memoranda::applies_to_all.eq(memo.all),
                memoranda::deadline.eq(memo.days_to_comply.map(|d| issued_on + Duration::days(d))),
                memoranda::evidence_required
                    .eq(memo.evidence.map(|(en, es)| json!({"en": en, "es": es}))),
                memoranda::created_by.eq(ISSUER),
            ))
            .execute(conn)
            .await?;
        if !memo.all {
            let rows: Vec<_> = applies
                .iter()
                .map(|(o, _, _)| {
                    (
                        memorandum_offices::memorandum_id.eq(id),
                        memorandum_offices::office_id.eq(*o),
                    )
                })
                .collect();
            diesel::insert_into(memorandum_offices::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
        for (i, (office, code, _)) in applies.iter().enumerate() {
            // The older the memorandum, the further its offices went.
            let step = (i + m_index * 2) % 7;
            let ack_day = issued_on + Duration::days(2 + (i as i64 % 9));
            if step == 0 || ack_day > AS_OF || (memo.issued_days_ago < 30 && step > 3) {
                continue; // pending
            }
            let who = format!("representative.{}@oas.org", code.to_lowercase());
            let evidence = memo.evidence.is_some() && step >= 2;
            let status = match (evidence, step) {
                (false, _) => "acknowledged",
                (true, 2) => "submitted",
                (true, 3) => "returned",
                (true, _) => "accepted",
            };
            let submitted_day = ack_day + Duration::days(5);
            let reviewed_day = submitted_day + Duration::days(4);
            let reviewed = matches!(status, "accepted" | "returned");
            diesel::insert_into(memorandum_responses::table)
                .values((
                    memorandum_responses::id.eq(demo_id(
                        "memorandum_response",
                        &format!("{}:{code}", memo.number),
                    )),
                    memorandum_responses::memorandum_id.eq(id),
                    memorandum_responses::office_id.eq(*office),
                    memorandum_responses::status.eq(status),
                    memorandum_responses::acknowledged_by.eq(&who),
                    memorandum_responses::acknowledged_at.eq(at(ack_day, 15)),
                    memorandum_responses::compliance_text.eq(evidence.then(|| {
                        format!(
                            "{code} complied with {} as asked; the evidence is attached.",
                            memo.number
                        )
                    })),
                    memorandum_responses::compliance_attachments.eq(if evidence {
                        json!([format!(
                            "{code}/{}/evidence-1.pdf",
                            memo.number.replace('/', "-")
                        )])
                    } else {
                        json!([])
                    }),
                    memorandum_responses::complied_on.eq(evidence.then_some(submitted_day)),
                    memorandum_responses::submitted_by.eq(evidence.then(|| who.clone())),
                    memorandum_responses::submitted_at.eq(evidence.then(|| at(submitted_day, 16))),
                    memorandum_responses::review_reason.eq((status == "returned")
                        .then_some("The signed page is missing; please attach the signed report.")),
                    memorandum_responses::reviewed_by.eq(reviewed.then_some(ISSUER)),
                    memorandum_responses::reviewed_at.eq(reviewed.then(|| at(reviewed_day, 10))),
                ))
                .execute(conn)
                .await?;
            responses += 1;
        }
    }

    let projects: Vec<(Uuid, Uuid, String)> = projects::table
        .select((projects::id, projects::office_id, projects::code))
        .order(projects::code)
        .load(conn)
        .await?;
    let mut items = 0;
    for (i, (office, code, _)) in offices.iter().enumerate() {
        let project = projects.iter().find(|(_, o, _)| o == office);
        for n in 0..2 {
            let (kind, title, text) = ITEMS[(i * 2 + n) % ITEMS.len()];
            let occurred_on = AS_OF - Duration::days(((i * 37 + n * 101) % 330) as i64 + 3);
            let id = demo_id("accomplishment", &format!("{code}:{n}"));
            // Most are published; some wait for the Coordinating Office or are drafts.
            let status = match (i + n) % 9 {
                0 => "submitted",
                4 => "draft",
                7 if n == 1 => "returned",
                _ => "published",
            };
            let submitted = status != "draft";
            let published = status == "published";
            diesel::insert_into(accomplishments::table)
                .values((
                    accomplishments::id.eq(id),
                    accomplishments::office_id.eq(*office),
                    accomplishments::occurred_on.eq(occurred_on),
                    accomplishments::kind.eq(kind),
                    accomplishments::title.eq(json!({"en": title.0, "es": title.1})),
                    accomplishments::body.eq(json!({"en": text.0, "es": text.1})),
                    accomplishments::status.eq(status),
                    accomplishments::return_reason.eq((status == "returned")
                        .then_some("Please add the partner's name and a photo reference.")),
                    accomplishments::created_by
                        .eq(format!("representative.{}@oas.org", code.to_lowercase())),
                    accomplishments::submitted_at
                        .eq(submitted.then(|| at(occurred_on + Duration::days(1), 12))),
                    accomplishments::published_at
                        .eq(published.then(|| at(occurred_on + Duration::days(2), 9))),
                    accomplishments::published_by.eq(published.then_some(ISSUER)),
                ))
                .execute(conn)
                .await?;
            // Milestones and agreements concern the office's first project, its mandates
            // and agencies.
            if let Some((project, _, _)) = project
                && matches!(kind, "project_milestone" | "agreement_signed")
            {
                diesel::insert_into(accomplishment_projects::table)
                    .values((
                        accomplishment_projects::accomplishment_id.eq(id),
                        accomplishment_projects::project_id.eq(*project),
                    ))
                    .execute(conn)
                    .await?;
                let mandate_ids: Vec<Uuid> = project_mandates::table
                    .filter(project_mandates::project_id.eq(*project))
                    .select(project_mandates::mandate_id)
                    .order(project_mandates::mandate_id)
                    .load(conn)
                    .await?;
                for m in mandate_ids {
                    diesel::insert_into(accomplishment_mandates::table)
                        .values((
                            accomplishment_mandates::accomplishment_id.eq(id),
                            accomplishment_mandates::mandate_id.eq(m),
                        ))
                        .execute(conn)
                        .await?;
                }
                let agency_ids: Vec<Uuid> = project_agencies::table
                    .filter(project_agencies::project_id.eq(*project))
                    .select(project_agencies::agency_id)
                    .order(project_agencies::agency_id)
                    .load(conn)
                    .await?;
                for a in agency_ids {
                    diesel::insert_into(accomplishment_agencies::table)
                        .values((
                            accomplishment_agencies::accomplishment_id.eq(id),
                            accomplishment_agencies::agency_id.eq(a),
                        ))
                        .execute(conn)
                        .await?;
                }
            }
            items += 1;
        }
    }
    Ok((MEMOS.len(), responses, items))
}
