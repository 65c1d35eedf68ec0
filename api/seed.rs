//! Demo data: loaded by `ogsms seed --demo`, and by `ogsms serve` when it starts on an
//! empty database. Ids are derived from codes (UUID v5), so the same demo data has the
//! same ids on every machine.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use crate::localized::LocalizedText;
use crate::schema::{departments, offices};

const DEMO_REFERENCE: &str = include_str!("seed/demo_reference.json");

/// Namespace of the demo data's UUID v5 ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f67_736d_7300_4000_8000_6465_6d6f_0001);

/// The id the demo data gives to the resource of `kind` with `code`.
pub fn demo_id(kind: &str, code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{code}").as_bytes())
}

#[derive(Deserialize)]
struct Reference {
    departments: Vec<DemoDepartment>,
    offices: Vec<DemoOffice>,
}

#[derive(Deserialize)]
struct DemoDepartment {
    code: String,
    kind: String,
    parent_code: Option<String>,
    name: LocalizedText,
}

#[derive(Deserialize)]
struct DemoContacts {
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
}

#[derive(Deserialize)]
struct DemoOffice {
    code: String,
    kind: String,
    member_state: String,
    name: LocalizedText,
    city: String,
    address: Option<String>,
    contacts: DemoContacts,
    opened_on: chrono::NaiveDate,
}

/// Whether the database holds no office yet (a fresh database).
pub async fn is_empty(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    let n: i64 = offices::table.count().get_result(conn).await?;
    Ok(n == 0)
}

/// Loads the demo dataset in one transaction. Fails (changing nothing) when any of its
/// rows exists already.
pub async fn demo(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let reference: Reference = serde_json::from_str(DEMO_REFERENCE)?;
    conn.transaction(async |conn| {
        // Secretariats before the departments that belong to them.
        let mut ordered: Vec<&DemoDepartment> = reference.departments.iter().collect();
        ordered.sort_by_key(|d| d.parent_code.is_some());
        for d in ordered {
            diesel::insert_into(departments::table)
                .values((
                    departments::id.eq(demo_id("department", &d.code)),
                    departments::code.eq(&d.code),
                    departments::kind.eq(&d.kind),
                    departments::parent_id
                        .eq(d.parent_code.as_deref().map(|p| demo_id("department", p))),
                    departments::name.eq(d.name.to_json()),
                ))
                .execute(conn)
                .await?;
        }
        for o in &reference.offices {
            diesel::insert_into(offices::table)
                .values((
                    offices::id.eq(demo_id("office", &o.code)),
                    offices::code.eq(&o.code),
                    offices::kind.eq(&o.kind),
                    offices::member_state.eq(&o.member_state),
                    offices::name.eq(o.name.to_json()),
                    offices::city.eq(&o.city),
                    offices::address.eq(&o.address),
                    offices::email.eq(&o.contacts.email),
                    offices::phone.eq(&o.contacts.phone),
                    offices::website.eq(&o.contacts.website),
                    offices::opened_on.eq(o.opened_on),
                ))
                .execute(conn)
                .await?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    log::info!(
        "loaded demo data: {} departments, {} offices",
        reference.departments.len(),
        reference.offices.len()
    );
    Ok(())
}
