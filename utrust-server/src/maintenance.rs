//! Periodic work of a running server: release lapsed quota reservations, expire
//! certificates, keep the CRL fresh, send renewal reminders. Every step is safe
//! to run on several servers sharing a database (version-checked units of work,
//! reminder claims).

use std::sync::Arc;
use std::time::Duration;

use utrust_core::Engine;

use crate::metrics::Metrics;

/// What the maintenance loop does and how often.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// Time between runs.
    pub interval: Duration,
    /// Reminder windows in days before expiry (e.g. 30 and 7).
    pub reminder_days: Vec<u32>,
}

/// One pass of every task; errors are logged and do not stop the others.
pub async fn run_once(engine: &Engine, config: &Maintenance) {
    match engine.release_expired_reservations(100).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(released = n, "released lapsed quota reservations"),
        Err(e) => tracing::error!(error = %e, "reservation sweep failed"),
    }
    match engine.expire_certificates().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(expired = n, "certificates expired"),
        Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
    }
    if let Err(e) = engine.current_crl().await {
        tracing::error!(error = %e, "CRL publication failed");
    }
    for days in &config.reminder_days {
        match engine
            .send_expiry_reminders(time::Duration::days(i64::from(*days)))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, window_days = days, "renewal reminders sent"),
            Err(e) => tracing::error!(error = %e, "renewal reminders failed"),
        }
    }
}

/// Runs [`run_once`] every `config.interval` until the task is dropped.
pub async fn run_forever(engine: Engine, config: Maintenance) {
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        run_once(&engine, &config).await;
    }
}

/// Runs the identity-check worker every `interval` until the task is dropped;
/// every run is recorded in `metrics` (`utrust_smev_jobs_total`).
pub async fn run_checks_forever(engine: Engine, interval: Duration, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match engine.process_identity_checks(100).await {
            Ok(stats) if stats != utrust_core::CheckRunStats::default() => {
                metrics.record_check_run(&stats);
                tracing::info!(
                    submitted = stats.submitted,
                    completed = stats.completed,
                    concluded = stats.concluded,
                    "identity checks"
                );
            }
            Ok(_) => {}
            Err(e) => {
                metrics.record_check_error();
                tracing::error!(error = %e, "identity-check worker failed");
            }
        }
    }
}
