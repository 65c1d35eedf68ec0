//! The webhook deliverer: a background task of the service (`OGSMS_WEBHOOKS=off` turns
//! it off). Any number of instances share the work:
//!
//! 1. Claim one due subscription: `SELECT … FOR UPDATE SKIP LOCKED` in a short
//!    transaction that sets a lease (`lease_until`, `lease_owner`), so that no
//!    transaction stays open during the HTTP call (an open transaction would hold the
//!    change feed's horizon back) and no other instance takes the subscription while the
//!    lease lasts.
//! 2. Read the next event after its cursor with the owner's visibility and filters. None:
//!    move the cursor to the feed's horizon and look again after the poll interval.
//! 3. POST it, signed (`X-OGSMS-Signature`). A 2xx moves the cursor past the event in the
//!    transaction that logs the delivery, so an acknowledged event is never sent again
//!    (also after a restart) and one not acknowledged is sent again: at least once, in
//!    order. Anything else is retried after `retry_base × 2^(attempts−1)` (at most
//!    `retry_max`); after `retry_window` (24 h) of failures the subscription is marked
//!    `failing` and stops until it is reactivated.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::{SIGNATURE_HEADER, SubscriptionRow, signature};
use crate::auth::policy::{FinanceScope, Role};
use crate::core::error::ApiError;
use crate::db::DbPool;
use crate::db::schema::{webhook_deliveries, webhook_subscriptions};
use crate::resources::shared::changes::{self, ChangeEvent, Filters, Position, Visibility};

/// How the deliverer works; [`DeliveryConfig::from_env`] reads the settings.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// How often an idle subscription is looked at again (`OGSMS_WEBHOOK_POLL_MS`).
    pub poll: Duration,
    /// How long a receiver has to answer (`OGSMS_WEBHOOK_TIMEOUT_MS`).
    pub timeout: Duration,
    /// The first retry's delay, doubled at every failure (`OGSMS_WEBHOOK_RETRY_BASE_MS`).
    pub retry_base: Duration,
    /// The longest delay between retries (`OGSMS_WEBHOOK_RETRY_MAX_MS`).
    pub retry_max: Duration,
    /// How long an event is retried before the subscription is marked failing
    /// (`OGSMS_WEBHOOK_RETRY_WINDOW_SECS`).
    pub retry_window: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            poll: Duration::from_millis(1000),
            timeout: Duration::from_millis(10_000),
            retry_base: Duration::from_millis(10_000),
            retry_max: Duration::from_secs(3600),
            retry_window: Duration::from_secs(86_400),
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

impl DeliveryConfig {
    /// The settings (checked at start, see `core::settings`), or `None` when
    /// `OGSMS_WEBHOOKS=off`.
    pub fn from_env() -> Option<DeliveryConfig> {
        if std::env::var("OGSMS_WEBHOOKS").is_ok_and(|v| v == "off") {
            return None;
        }
        let d = DeliveryConfig::default();
        Some(DeliveryConfig {
            poll: env_u64("OGSMS_WEBHOOK_POLL_MS").map_or(d.poll, Duration::from_millis),
            timeout: env_u64("OGSMS_WEBHOOK_TIMEOUT_MS").map_or(d.timeout, Duration::from_millis),
            retry_base: env_u64("OGSMS_WEBHOOK_RETRY_BASE_MS")
                .map_or(d.retry_base, Duration::from_millis),
            retry_max: env_u64("OGSMS_WEBHOOK_RETRY_MAX_MS")
                .map_or(d.retry_max, Duration::from_millis),
            retry_window: env_u64("OGSMS_WEBHOOK_RETRY_WINDOW_SECS")
                .map_or(d.retry_window, Duration::from_secs),
        })
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.retry_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.retry_max)
    }
}

/// Starts the deliverer on the current actix runtime; it runs until the process ends (or
/// the handle is aborted).
pub fn spawn_deliverer(pool: DbPool, config: DeliveryConfig) -> tokio::task::JoinHandle<()> {
    // ring rather than aws-lc-rs (which needs cmake to build); its lack of post-quantum
    // key exchange is what the deprecation is about. The first provider installed wins.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    actix_web::rt::spawn(async move {
        let instance = Uuid::new_v4();
        let client = awc::Client::builder()
            .timeout(config.timeout)
            .disable_redirects()
            .finish();
        loop {
            match deliver_one(&pool, &client, &config, instance).await {
                Ok(true) => {}
                Ok(false) => actix_web::rt::time::sleep(config.poll).await,
                Err(e) => {
                    log::warn!("webhook deliverer: {e}");
                    actix_web::rt::time::sleep(config.poll).await;
                }
            }
        }
    })
}

fn visibility(row: &SubscriptionRow) -> Visibility {
    let role = Role::parse(&row.owner_role);
    let finance = match (role, row.owner_office_id, row.owner_department_id) {
        (Some(Role::Coordinator | Role::Auditor), _, _) => FinanceScope::All,
        (Some(Role::Representative | Role::OfficeStaff), Some(o), _) => FinanceScope::Office(o),
        (Some(Role::HqDepartment), _, Some(d)) => FinanceScope::Department(d),
        _ => FinanceScope::Nothing,
    };
    Visibility {
        finance,
        restricted: matches!(role, Some(Role::Coordinator | Role::Auditor)),
    }
}

/// Claims one due subscription and works on it; `false` when none was due.
pub async fn deliver_one(
    pool: &DbPool,
    client: &awc::Client,
    config: &DeliveryConfig,
    instance: Uuid,
) -> Result<bool, ApiError> {
    let mut conn = pool.get().await?;
    let lease = chrono::Duration::from_std(config.timeout * 2 + Duration::from_secs(5))
        .unwrap_or(chrono::Duration::minutes(5));
    let claimed: Option<SubscriptionRow> = conn
        .transaction(async |conn| {
            let now = Utc::now();
            let due: Option<Uuid> = webhook_subscriptions::table
                .filter(webhook_subscriptions::status.eq("active"))
                .filter(webhook_subscriptions::next_attempt_at.le(now))
                .filter(
                    webhook_subscriptions::lease_until
                        .is_null()
                        .or(webhook_subscriptions::lease_until.lt(now)),
                )
                .order(webhook_subscriptions::next_attempt_at)
                .select(webhook_subscriptions::id)
                .for_update()
                .skip_locked()
                .first(conn)
                .await
                .optional()?;
            let Some(id) = due else {
                return Ok::<_, ApiError>(None);
            };
            let row = diesel::update(webhook_subscriptions::table.find(id))
                .set((
                    webhook_subscriptions::lease_until.eq(Some(now + lease)),
                    webhook_subscriptions::lease_owner.eq(Some(instance)),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(row))
        })
        .await?;
    let Some(sub) = claimed else {
        return Ok(false);
    };
    let after = Position(sub.cursor_txid, sub.cursor_seq);
    let filters = Filters {
        resource_types: sub.resource_types.clone(),
        office_ids: None,
        actions: sub.actions.clone(),
    };
    let (rows, next, _) = changes::read(&mut conn, after, 1, &visibility(&sub), &filters).await?;
    let mine = webhook_subscriptions::id
        .eq(sub.id)
        .and(webhook_subscriptions::lease_owner.eq(instance));
    let Some(row) = rows.into_iter().next() else {
        // Nothing yet: read on from the horizon later.
        diesel::update(webhook_subscriptions::table.filter(mine))
            .set((
                webhook_subscriptions::cursor_txid.eq(next.0),
                webhook_subscriptions::cursor_seq.eq(next.1),
                webhook_subscriptions::next_attempt_at
                    .eq(Utc::now() + chrono::Duration::from_std(config.poll).unwrap_or_default()),
                webhook_subscriptions::lease_until.eq(None::<DateTime<Utc>>),
                webhook_subscriptions::lease_owner.eq(None::<Uuid>),
            ))
            .execute(&mut conn)
            .await?;
        return Ok(true);
    };
    let position = Position(row.txid, row.seq);
    let event = ChangeEvent::from(row);
    let body = serde_json::to_vec(&event).expect("an event serializes");
    let now = Utc::now();
    let mut secrets = vec![sub.secret.as_str()];
    if let (Some(prev), Some(until)) = (&sub.previous_secret, sub.previous_secret_expires_at)
        && until > now
    {
        secrets.push(prev.as_str());
    }
    let attempt = sub.attempts + 1;
    // No connection is held while the receiver takes its time.
    drop(conn);
    let result = client
        .post(&sub.url)
        .insert_header(("content-type", "application/json"))
        .insert_header(("user-agent", "OGSMS-Webhooks/1"))
        .insert_header((
            SIGNATURE_HEADER,
            signature(now.timestamp(), &body, &secrets),
        ))
        .insert_header(("X-OGSMS-Event-Id", event.id.to_string()))
        .insert_header(("X-OGSMS-Delivery-Attempt", attempt.to_string()))
        .insert_header(("X-OGSMS-Subscription-Id", sub.id.to_string()))
        .send_body(body)
        .await;
    let (ok, code, error) = match result {
        Ok(res) if res.status().is_success() => {
            (true, Some(i32::from(res.status().as_u16())), None)
        }
        Ok(res) => (
            false,
            Some(i32::from(res.status().as_u16())),
            Some(format!("the receiver answered {}", res.status())),
        ),
        Err(e) => (false, None, Some(e.to_string())),
    };
    let failing_since = sub.failing_since.unwrap_or(now);
    let give_up = !ok
        && Utc::now() - failing_since
            >= chrono::Duration::from_std(config.retry_window).unwrap_or(chrono::Duration::MAX);
    let delivery_status = match (ok, give_up) {
        (true, _) => "delivered",
        (false, true) => "failed",
        (false, false) => "pending",
    };
    let mut conn = pool.get().await?;
    let retry_at =
        Utc::now() + chrono::Duration::from_std(config.backoff(attempt)).unwrap_or_default();
    conn.transaction(async |conn| {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(Uuid::now_v7()),
                webhook_deliveries::subscription_id.eq(sub.id),
                webhook_deliveries::event_id.eq(event.id),
                webhook_deliveries::resource_type.eq(&event.resource_type),
                webhook_deliveries::resource_id.eq(&event.resource_id),
                webhook_deliveries::action.eq(event.action.as_str()),
                webhook_deliveries::status.eq(delivery_status),
                webhook_deliveries::attempts.eq(1),
                webhook_deliveries::last_status_code.eq(code),
                webhook_deliveries::last_error.eq(&error),
                webhook_deliveries::delivered_at.eq(ok.then(Utc::now)),
            ))
            .on_conflict((
                webhook_deliveries::subscription_id,
                webhook_deliveries::event_id,
            ))
            .do_update()
            .set((
                webhook_deliveries::status.eq(delivery_status),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::last_status_code.eq(code),
                webhook_deliveries::last_error.eq(&error),
                webhook_deliveries::last_attempt_at.eq(Utc::now()),
                webhook_deliveries::delivered_at.eq(ok.then(Utc::now)),
            ))
            .execute(conn)
            .await?;
        let released = (
            webhook_subscriptions::lease_until.eq(None::<DateTime<Utc>>),
            webhook_subscriptions::lease_owner.eq(None::<Uuid>),
        );
        let target = webhook_subscriptions::table.filter(mine).filter(
            webhook_subscriptions::cursor_txid
                .eq(after.0)
                .and(webhook_subscriptions::cursor_seq.eq(after.1)),
        );
        if ok {
            diesel::update(target)
                .set((
                    webhook_subscriptions::cursor_txid.eq(position.0),
                    webhook_subscriptions::cursor_seq.eq(position.1),
                    webhook_subscriptions::attempts.eq(0),
                    webhook_subscriptions::failing_since.eq(None::<DateTime<Utc>>),
                    webhook_subscriptions::next_attempt_at.eq(Utc::now()),
                    released,
                ))
                .execute(conn)
                .await?;
        } else {
            diesel::update(target)
                .set((
                    webhook_subscriptions::attempts.eq(attempt),
                    webhook_subscriptions::failing_since.eq(Some(failing_since)),
                    webhook_subscriptions::next_attempt_at.eq(retry_at),
                    webhook_subscriptions::status.eq(if give_up { "failing" } else { "active" }),
                    released,
                ))
                .execute(conn)
                .await?;
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    if give_up {
        log::warn!(
            "webhook {} is failing: {} kept failing for the retry window",
            sub.id,
            sub.url
        );
    }
    Ok(true)
}
