//! The fingerprint of the signing key, recorded in the database at start so that two
//! instances with different keys never serve one database side by side (a balancer
//! would send a token to an instance that refuses it).

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Recorded {
    #[diesel(sql_type = Text)]
    fingerprint: String,
    #[diesel(sql_type = Text)]
    algorithm: String,
}

/// Records `fingerprint` when none is, or checks it is the one recorded (an error naming
/// the settings when not). With `replace`, records it whatever was there (a rotation on
/// purpose).
pub async fn check_or_record(
    conn: &mut AsyncPgConnection,
    fingerprint: &str,
    algorithm: &str,
    replace: bool,
) -> anyhow::Result<()> {
    let sql = if replace {
        "INSERT INTO signing_key_fingerprint (fingerprint, algorithm) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, \
           algorithm = excluded.algorithm, recorded_at = now() \
         RETURNING fingerprint, algorithm"
    } else {
        // The first instance records it; the others read what the first recorded.
        "WITH ins AS (INSERT INTO signing_key_fingerprint (fingerprint, algorithm) \
           VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING fingerprint, algorithm) \
         SELECT fingerprint, algorithm FROM ins \
         UNION ALL SELECT fingerprint, algorithm FROM signing_key_fingerprint \
         WHERE NOT EXISTS (SELECT 1 FROM ins)"
    };
    let recorded: Recorded = diesel::sql_query(sql)
        .bind::<Text, _>(fingerprint)
        .bind::<Text, _>(algorithm)
        .get_result(conn)
        .await?;
    if recorded.fingerprint != fingerprint {
        anyhow::bail!(
            "the signing key (OGSMS_JWT_SECRET, or OGSMS_JWKS_FILE with OGSMS_JWT_ALG={algorithm}) \
             is not the one the other instances on this database use ({} key, fingerprint \
             {}…; this one {}…): give every instance the same key, or rotate on purpose \
             with `ogsms rotate-key` once the old instances are stopped",
            recorded.algorithm,
            &recorded.fingerprint[..12.min(recorded.fingerprint.len())],
            &fingerprint[..12.min(fingerprint.len())],
        );
    }
    Ok(())
}
