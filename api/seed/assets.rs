//! The demo's material resources: for every open office a deterministic inventory
//! (vehicles, IT and communications equipment, office equipment, furniture) with
//! custodians among its current appointments, a few disposals (sold, scrapped, lost),
//! some vehicles transferred between offices, and last year's physical count, closed
//! with its discrepancies (an item reported missing and later disposed of as lost).
//!
//! Derived from the seeded PRNG and the rows already loaded (offices, appointments),
//! with UUID v5 ids, so the same command gives the same rows on every machine.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{AS_OF, CHUNK, Rng, demo_id};
use crate::db::schema::{
    appointments, asset_count_items, asset_counts, asset_transfers, assets, offices,
};

#[derive(Insertable, Clone)]
#[diesel(table_name = assets)]
struct AssetRow {
    id: Uuid,
    office_id: Uuid,
    tag_number: String,
    category: &'static str,
    description: String,
    acquired_on: NaiveDate,
    cost_amount: i64,
    cost_currency: &'static str,
    custodian_id: Option<Uuid>,
    location: Option<&'static str>,
    condition: &'static str,
    status: &'static str,
    disposed_on: Option<NaiveDate>,
    disposal_reason: Option<&'static str>,
    disposal_proceeds_amount: Option<i64>,
    disposal_proceeds_currency: Option<&'static str>,
    disposal_note: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = asset_transfers)]
struct TransferRow {
    id: Uuid,
    asset_id: Uuid,
    from_office_id: Uuid,
    to_office_id: Uuid,
    transferred_on: NaiveDate,
    reason: String,
    from_custodian_id: Option<Uuid>,
    to_custodian_id: Option<Uuid>,
}

#[derive(Insertable)]
#[diesel(table_name = asset_counts)]
struct CountRow {
    id: Uuid,
    office_id: Uuid,
    counted_on: NaiveDate,
    note: Option<String>,
    status: &'static str,
    closed_on: Option<NaiveDate>,
}

#[derive(Insertable)]
#[diesel(table_name = asset_count_items)]
struct ItemRow {
    count_id: Uuid,
    asset_id: Uuid,
    expected_location: Option<&'static str>,
    expected_condition: &'static str,
    result: &'static str,
    found_location: Option<&'static str>,
    found_condition: Option<&'static str>,
    note: Option<String>,
}

/// What each category's items are: (category, descriptions, cost range in USD cents,
/// locations, how many per office).
type Kind = (
    &'static str,
    &'static [&'static str],
    (i64, i64),
    &'static [&'static str],
    (i64, i64),
);

const KINDS: &[Kind] = &[
    (
        "vehicles",
        &[
            "Toyota Hilux 4x4 pickup",
            "Toyota Land Cruiser Prado",
            "Nissan X-Trail SUV",
            "Hyundai H-1 van",
        ],
        (2_200_000, 5_800_000),
        &["Garage"],
        (1, 2),
    ),
    (
        "it_equipment",
        &[
            "Laptop Dell Latitude 5440",
            "Laptop Lenovo ThinkPad T14",
            "Desktop HP EliteDesk 800",
            "Laser printer HP LaserJet Pro",
            "Network storage Synology DS923+",
            "Projector Epson EB-992F",
        ],
        (45_000, 250_000),
        &["Main office", "Representative's office", "Meeting room"],
        (4, 7),
    ),
    (
        "communications_equipment",
        &[
            "Satellite phone Iridium 9575",
            "Videoconference system Logitech Rally",
            "IP telephone exchange",
        ],
        (80_000, 900_000),
        &["Main office", "Meeting room"],
        (1, 2),
    ),
    (
        "office_equipment",
        &[
            "Photocopier Ricoh IM C3000",
            "Paper shredder",
            "Air conditioner 24000 BTU",
            "Power generator 10 kVA",
        ],
        (30_000, 1_200_000),
        &["Main office", "Storage room", "Reception"],
        (1, 3),
    ),
    (
        "furniture",
        &[
            "Conference table, 12 seats",
            "Office desk with drawers",
            "Ergonomic office chair",
            "Filing cabinet, 4 drawers",
            "Reception sofa",
        ],
        (15_000, 320_000),
        &["Main office", "Meeting room", "Reception", "Storage room"],
        (3, 5),
    ),
];

/// Loads the demo's assets, transfers and counts (after the offices and appointments).
pub async fn load(conn: &mut AsyncPgConnection) -> anyhow::Result<usize> {
    let office_rows: Vec<(Uuid, String, NaiveDate, String)> = offices::table
        .order(offices::code)
        .select((
            offices::id,
            offices::code,
            offices::opened_on,
            offices::status,
        ))
        .load(conn)
        .await?;
    let staff: Vec<(Uuid, Uuid)> = appointments::table
        .filter(appointments::starts_on.le(AS_OF))
        .filter(
            appointments::ends_on
                .is_null()
                .or(appointments::ends_on.ge(AS_OF)),
        )
        .order((appointments::office_id, appointments::id))
        .select((appointments::office_id, appointments::id))
        .load(conn)
        .await?;
    let custodians = |office: Uuid| -> Vec<Uuid> {
        staff
            .iter()
            .filter(|(o, _)| *o == office)
            .map(|(_, a)| *a)
            .collect()
    };
    let mut rng = Rng::new(0xA55E_7500_2026);
    let mut all: Vec<AssetRow> = Vec::new();
    let mut transfers = Vec::new();
    let mut counts = Vec::new();
    let mut items = Vec::new();
    let open: Vec<&(Uuid, String, NaiveDate, String)> =
        office_rows.iter().filter(|o| o.3 == "open").collect();
    for (office_index, (office_id, code, opened_on, _)) in open.iter().copied().enumerate() {
        let people = custodians(*office_id);
        let first = all.len();
        let mut n = 0;
        for (category, descriptions, (lo, hi), locations, (min, max)) in KINDS {
            for _ in 0..rng.range(*min, *max) {
                n += 1;
                let tag = format!("{code}-{n:04}");
                let age_days = rng.range(20, 9 * 365);
                let acquired_on = (AS_OF - Duration::days(age_days)).max(*opened_on);
                let age_years = (AS_OF - acquired_on).num_days() / 365;
                let condition = match age_years {
                    0 => "new",
                    1..=3 => *rng.pick(&["good", "good", "fair"]),
                    4..=6 => *rng.pick(&["good", "fair", "fair", "poor"]),
                    _ => *rng.pick(&["fair", "poor", "poor", "unserviceable"]),
                };
                let status = match condition {
                    "unserviceable" => "in_storage",
                    "poor" if rng.chance(40) => "under_repair",
                    _ if rng.chance(10) => "in_storage",
                    _ => "in_use",
                };
                let custodian =
                    (status == "in_use" && !people.is_empty()).then(|| *rng.pick(&people));
                // Costs in whole dollars, as purchase orders are.
                let cost = rng.range(*lo / 100, *hi / 100) * 100;
                let mut row = AssetRow {
                    id: demo_id("asset", &tag),
                    office_id: *office_id,
                    tag_number: tag,
                    category,
                    description: (*rng.pick(descriptions)).to_owned(),
                    acquired_on,
                    cost_amount: cost,
                    cost_currency: "USD",
                    custodian_id: custodian,
                    location: Some(*rng.pick(locations)),
                    condition,
                    status,
                    disposed_on: None,
                    disposal_reason: None,
                    disposal_proceeds_amount: None,
                    disposal_proceeds_currency: None,
                    disposal_note: None,
                };
                // Old items leave the inventory: sold or scrapped.
                if age_years >= 6 && rng.chance(35) {
                    let on =
                        acquired_on + Duration::days(rng.range(6 * 365, age_days.max(6 * 365)));
                    let on = on.min(AS_OF);
                    let sold = *category == "vehicles" || rng.chance(30);
                    row.status = "disposed";
                    row.custodian_id = None;
                    row.disposed_on = Some(on);
                    row.disposal_reason = Some(if sold { "sold" } else { "scrapped" });
                    if sold {
                        row.disposal_proceeds_amount = Some(cost / 10 / 100 * 100);
                        row.disposal_proceeds_currency = Some("USD");
                        row.disposal_note = Some("Public auction".to_owned());
                    }
                }
                all.push(row);
            }
        }
        // Last year's physical count, closed: everything held then was found, but for
        // one item in every fourth office, reported missing and disposed of as lost.
        let counted_on = NaiveDate::from_ymd_opt(2025, 11, 28).expect("a date");
        let closed_on = NaiveDate::from_ymd_opt(2025, 12, 5).expect("a date");
        if *opened_on < counted_on {
            let count_id = demo_id("asset_count", &format!("{code}:2025"));
            counts.push(CountRow {
                id: count_id,
                office_id: *office_id,
                counted_on,
                note: Some("Yearly physical count 2025".to_owned()),
                status: "closed",
                closed_on: Some(closed_on),
            });
            let missing_one = office_index % 4 == 1;
            let mut missing_done = false;
            for row in all[first..].iter_mut() {
                let held =
                    row.acquired_on <= counted_on && row.disposed_on.is_none_or(|d| d > counted_on);
                if !held {
                    continue;
                }
                let missing = missing_one
                    && !missing_done
                    && row.category == "it_equipment"
                    && row.disposed_on.is_none();
                let expected_location = row.location;
                let expected_condition = row.condition;
                if missing {
                    missing_done = true;
                    row.status = "disposed";
                    row.custodian_id = None;
                    row.disposed_on = Some(closed_on + Duration::days(30));
                    row.disposal_reason = Some("lost");
                    row.disposal_note =
                        Some("Reported missing in the 2025 physical count".to_owned());
                }
                items.push(ItemRow {
                    count_id,
                    asset_id: row.id,
                    expected_location,
                    expected_condition,
                    result: if missing { "missing" } else { "found" },
                    found_location: (!missing).then_some(expected_location).flatten(),
                    found_condition: (!missing).then_some(expected_condition),
                    note: missing.then(|| "Not found at its location".to_owned()),
                });
            }
        }
    }
    // Every fifth office lent a vehicle in service to the next office this year.
    for i in (0..open.len().saturating_sub(1)).step_by(5) {
        let (from, _, _, _) = open[i];
        let (to, _, _, _) = open[i + 1];
        let Some(row) = all
            .iter_mut()
            .find(|a| a.office_id == *from && a.category == "vehicles" && a.status == "in_use")
        else {
            continue;
        };
        let on = (AS_OF - Duration::days(rng.range(10, 200))).max(row.acquired_on);
        let to_custodian = custodians(*to).into_iter().next();
        transfers.push(TransferRow {
            id: demo_id("asset_transfer", &row.tag_number),
            asset_id: row.id,
            from_office_id: *from,
            to_office_id: *to,
            transferred_on: on,
            reason: "Loaned for a field mission of the receiving office".to_owned(),
            from_custodian_id: row.custodian_id,
            to_custodian_id: to_custodian,
        });
        row.office_id = *to;
        row.custodian_id = to_custodian;
        row.location = Some("Garage");
    }
    for chunk in all.chunks(CHUNK) {
        diesel::insert_into(assets::table)
            .values(chunk.to_vec())
            .execute(conn)
            .await?;
    }
    diesel::insert_into(asset_transfers::table)
        .values(&transfers)
        .execute(conn)
        .await?;
    diesel::insert_into(asset_counts::table)
        .values(&counts)
        .execute(conn)
        .await?;
    for chunk in items.chunks(CHUNK) {
        diesel::insert_into(asset_count_items::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(all.len())
}
