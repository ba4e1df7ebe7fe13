//! The `utrust-server` command line.
//!
//! Run with `cargo run -p utrust-server -- demo` or
//! `UTRUST_ADMIN_TOKEN=secret cargo run -p utrust-server -- serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use utrust_core::CheckTiming;
use utrust_pki::OsRandom;
use utrust_server::bootstrap::{self, Database, EngineConfig};
use utrust_server::config::{self, Layered};
use utrust_server::maintenance::{self, Maintenance};
use utrust_server::notify::{LogNotifier, SmtpNotifier};
use utrust_server::{AppState, demo, router};
use utrust_smev::{HttpVerifier, HttpVerifierConfig, SimConfig, SimulatedVerifier};

/// utrust: certificate-lifecycle engine — reference server.
#[derive(Debug, Parser)]
#[command(name = "utrust-server", version, about)]
struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true, env = "UTRUST_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of the `serve` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Run the whole core flow in-process and write the CA, requests and
    /// certificates as PEM files.
    Demo {
        /// Directory to write to (emptied if a previous demo made it).
        #[arg(long, default_value = "./utrust-demo")]
        data_dir: PathBuf,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
        /// PKCS#11 module of SoftHSM2 for the demo's token (default: Debian's
        /// `/usr/lib/softhsm/libsofthsm2.so`; when that is not installed the
        /// device part is skipped, when a given one is missing it is an error).
        #[arg(long, env = "UTRUST_PKCS11_MODULE")]
        pkcs11_module: Option<PathBuf>,
    },
    /// Run the SMEV adapter simulator (the wire format of `--smev-url`) over HTTP.
    SmevSim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// Polls answered `pending` before each final answer.
        #[arg(long, default_value_t = 0)]
        pending_polls: u32,
        /// The first N submits answer 503.
        #[arg(long, default_value_t = 0)]
        fail_submits: u32,
        /// The first N polls answer 503.
        #[arg(long, default_value_t = 0)]
        fail_polls: u32,
        /// Never answer (every check stays pending).
        #[arg(long)]
        never_answer: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        /// Data directory.
        #[arg(long, env = "UTRUST_DATA_DIR", default_value = "./utrust-data")]
        data_dir: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML configuration file: every setting of `serve` as a key named like its
    /// flag (`data_dir`, `listen`, …). Flags and environment win over it.
    #[arg(long, env = "UTRUST_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, local CA).
    #[arg(long, env = "UTRUST_DATA_DIR", default_value = "./utrust-data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "UTRUST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// SMTP server for notifications, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:password@mail.example.ru`; without it notifications are logged.
    #[arg(long, env = "UTRUST_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender address of notifications.
    #[arg(
        long,
        env = "UTRUST_SMTP_FROM",
        default_value = "utrust <noreply@localhost>"
    )]
    smtp_from: String,
    /// Renewal reminder windows, in days before expiry (comma-separated).
    #[arg(
        long,
        env = "UTRUST_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "30,7"
    )]
    reminder_days: Vec<u32>,
    /// Seconds between maintenance runs (reservation sweep, expiry, CRL, reminders).
    #[arg(long, env = "UTRUST_MAINTENANCE_INTERVAL", default_value_t = 60)]
    maintenance_interval: u64,
    /// Seconds a request may take, reading its body included; a slower request
    /// answers 503 `{"error": "timeout"}`. 0 disables the limit.
    #[arg(long, env = "UTRUST_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    #[command(flatten)]
    checks: CheckArgs,
    /// PKCS#11 module for self-service issuance onto tokens (default: Debian's
    /// SoftHSM2 `/usr/lib/softhsm/libsofthsm2.so` when it is installed; SoftHSM2
    /// reads its configuration from `SOFTHSM2_CONF`). A given module that is
    /// missing is an error.
    #[arg(long, env = "UTRUST_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
}

/// SMEV identity checks.
#[derive(Debug, Clone, clap::Args)]
struct CheckArgs {
    /// Base URL of the SMEV REST adapter (`POST {url}/checks`); without it the
    /// in-process simulator answers.
    #[arg(long, env = "UTRUST_SMEV_URL")]
    smev_url: Option<String>,
    /// Milliseconds between runs of the identity-check worker.
    #[arg(long, env = "UTRUST_CHECK_INTERVAL_MS", default_value_t = 1000)]
    check_interval_ms: u64,
    /// Seconds between polls of a submitted check.
    #[arg(long, env = "UTRUST_CHECK_POLL_SECS", default_value_t = 30)]
    check_poll_secs: u64,
    /// Seconds after which an unanswered check is a timeout (default 5 days).
    #[arg(long, env = "UTRUST_CHECK_DEADLINE_SECS", default_value_t = 432_000)]
    check_deadline_secs: u64,
    /// Seconds a worker holds a claimed check; a crashed worker's checks are
    /// taken over after this.
    #[arg(long, env = "UTRUST_CHECK_LEASE_SECS", default_value_t = 120)]
    check_lease_secs: u64,
}

impl CheckArgs {
    fn timing(&self) -> CheckTiming {
        let secs = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        CheckTiming {
            deadline: secs(self.check_deadline_secs.max(1)),
            poll_interval: secs(self.check_poll_secs),
            retry_delay: secs(self.check_poll_secs),
            lease: secs(self.check_lease_secs.max(1)),
        }
    }

    fn verifier(
        &self,
    ) -> Result<Arc<dyn utrust_core::ports::IdentityVerifier>, Box<dyn std::error::Error>> {
        Ok(match &self.smev_url {
            Some(url) => Arc::new(HttpVerifier::new(HttpVerifierConfig::new(url.clone()))?),
            None => Arc::new(SimulatedVerifier::new(SimConfig::default())),
        })
    }
}

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
struct DatabaseArgs {
    /// PostgreSQL URL (`postgres://user:pass@host/db`); several servers may share
    /// it. Default: SQLite in the data directory.
    #[arg(long, env = "UTRUST_DATABASE_URL")]
    database_url: Option<String>,
    /// Key that encrypts the CA's private key stored in the database: 64 hex
    /// digits or base64 of 32 bytes. Required with PostgreSQL; every server on
    /// the database needs the same key.
    #[arg(long, env = "UTRUST_CA_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    ca_key_encryption_key: Option<String>,
}

impl DatabaseArgs {
    fn config(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<EngineConfig, Box<dyn std::error::Error>> {
        let database = match &self.database_url {
            None => Database::Sqlite,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres(url.clone())
            }
            Some(_) => {
                return Err(
                    "--database-url must be a postgres:// URL (SQLite is the default)".into(),
                );
            }
        };
        let ca_key_encryption_key = self
            .ca_key_encryption_key
            .as_deref()
            .map(utrust_pki::parse_key_encryption_key)
            .transpose()?;
        Ok(EngineConfig {
            data_dir: data_dir.to_owned(),
            database,
            ca_key_encryption_key,
        })
    }
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("UTRUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

async fn serve(
    args: ServeArgs,
    file_admin_token: Option<zeroize::Zeroizing<String>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let ServeArgs {
        config: _,
        data_dir,
        listen,
        database,
        smtp_url,
        smtp_from,
        reminder_days,
        maintenance_interval,
        request_timeout_secs,
        checks,
        pkcs11_module,
    } = args;
    let metrics = Arc::new(utrust_server::metrics::Metrics::new());
    let engine = bootstrap::engine(&database.config(&data_dir)?).await?;
    let notifier: Arc<dyn utrust_core::ports::Notifier> = match &smtp_url {
        Some(url) => Arc::new(SmtpNotifier::new(url, &smtp_from)?),
        None => Arc::new(LogNotifier),
    };
    if checks.smev_url.is_none() {
        tracing::warn!("no --smev-url: the in-process SMEV simulator answers identity checks");
    }
    let tokens = bootstrap::token_provider(pkcs11_module.as_deref())?;
    let engine = match tokens {
        Some(tokens) => engine.with_tokens(tokens),
        None => engine,
    };
    let engine = engine
        .with_notifier(notifier)
        .with_status_notifications(true)
        .with_identity_verifier(checks.verifier()?)
        .with_check_timing(checks.timing());
    let check_worker = tokio::spawn(maintenance::run_checks_forever(
        engine.clone(),
        std::time::Duration::from_millis(checks.check_interval_ms.max(10)),
        metrics.clone(),
    ));
    let maintenance = tokio::spawn(maintenance::run_forever(
        engine.clone(),
        Maintenance {
            interval: std::time::Duration::from_secs(maintenance_interval.max(1)),
            reminder_days,
        },
    ));
    let token = match std::env::var("UTRUST_ADMIN_TOKEN") {
        Ok(t) if t.len() >= 16 => t,
        Ok(_) => return Err("UTRUST_ADMIN_TOKEN must be at least 16 characters".into()),
        Err(_) if file_admin_token.is_some() => {
            let t = file_admin_token.as_deref().cloned().unwrap_or_default();
            if t.len() < 16 {
                return Err(
                    "admin_token of the configuration file must be at least 16 characters".into(),
                );
            }
            tracing::warn!(
                "admin token read from the configuration file; prefer UTRUST_ADMIN_TOKEN \
                 (and keep the file readable by the server only)"
            );
            t
        }
        Err(_) => {
            let t = OsRandom::new().hex_token(24);
            // Printed once, on stderr, so an operator can copy it; never logged.
            eprintln!("UTRUST_ADMIN_TOKEN not set; generated bootstrap admin token: {t}");
            t
        }
    };
    let state = AppState {
        metrics,
        request_timeout: std::time::Duration::from_secs(request_timeout_secs),
        ..AppState::new(engine, token)
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %data_dir.display(), "listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    maintenance.abort();
    check_worker.abort();
    Ok(())
}

async fn run(cli: Cli, layered: Layered) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve(args) => serve(args, layered.admin_token).await,
        Command::Demo {
            data_dir,
            json,
            pkcs11_module,
        } => {
            let device = demo::device_setup(&data_dir, pkcs11_module.as_deref())?;
            let summary = demo::run(&data_dir, &device).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                demo::print_human(&summary);
            }
            Ok(())
        }
        Command::SmevSim {
            listen,
            pending_polls,
            fail_submits,
            fail_polls,
            never_answer,
        } => {
            let config = SimConfig {
                pending_polls,
                fail_submits,
                fail_polls,
                never_answer,
                ..SimConfig::default()
            };
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(addr = %listener.local_addr()?, "SMEV simulator listening");
            tokio::select! {
                r = utrust_smev::simulator::serve(listener, config) => r?,
                () = shutdown_signal() => {}
            }
            Ok(())
        }
        Command::Migrate { data_dir, database } => {
            let config = database.config(&data_dir)?;
            bootstrap::open_store(&config).await?;
            match config.database {
                Database::Sqlite => println!(
                    "database at {} is up to date",
                    data_dir.join("utrust.db").display()
                ),
                Database::Postgres(_) => println!("PostgreSQL database is up to date"),
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let layered = match config::layer_file(Cli::command(), "serve", std::env::args_os().collect()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(&layered.args);
    init_logging(cli.log_json);
    if let Command::Demo {
        data_dir,
        pkcs11_module,
        ..
    } = &cli.command
    {
        // SoftHSM2 reads SOFTHSM2_CONF once per process: run the demo in a
        // process whose environment names the demo's own configuration.
        let reexec = demo::device_setup(data_dir, pkcs11_module.as_deref())
            .and_then(|setup| demo::reexec_with_softhsm_conf(&setup));
        if let Err(e) = reexec {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(file) = &layered.file {
        tracing::info!(file = %file.display(), "configuration file read");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli, layered)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
