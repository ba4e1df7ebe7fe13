//! The `utrust-server` command line.
//!
//! Run with `cargo run -p utrust-server -- demo` or
//! `UTRUST_ADMIN_TOKEN=secret cargo run -p utrust-server -- serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use utrust_pki::OsRandom;
use utrust_server::bootstrap::embedded_engine;
use utrust_server::{AppState, demo, router};

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Data directory (SQLite database, local CA).
        #[arg(long, env = "UTRUST_DATA_DIR", default_value = "./utrust-data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "UTRUST_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Run the whole core flow in-process and write the CA, requests and
    /// certificates as PEM files.
    Demo {
        /// Directory to write to (emptied if a previous demo made it).
        #[arg(long, default_value = "./utrust-demo")]
        data_dir: PathBuf,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        /// Data directory.
        #[arg(long, env = "UTRUST_DATA_DIR", default_value = "./utrust-data")]
        data_dir: PathBuf,
    },
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

async fn serve(data_dir: PathBuf, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let (engine, _) = embedded_engine(&data_dir).await?;
    let token = match std::env::var("UTRUST_ADMIN_TOKEN") {
        Ok(t) if t.len() >= 16 => t,
        Ok(_) => return Err("UTRUST_ADMIN_TOKEN must be at least 16 characters".into()),
        Err(_) => {
            let t = OsRandom::new().hex_token(24);
            // Printed once, on stderr, so an operator can copy it; never logged.
            eprintln!("UTRUST_ADMIN_TOKEN not set; generated bootstrap admin token: {t}");
            t
        }
    };
    let state = AppState {
        engine,
        admin_token: Arc::new(zeroize::Zeroizing::new(token)),
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %data_dir.display(), "listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve { data_dir, listen } => serve(data_dir, listen).await,
        Command::Demo { data_dir, json } => {
            let summary = demo::run(&data_dir).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                demo::print_human(&summary);
            }
            Ok(())
        }
        Command::Migrate { data_dir } => {
            std::fs::create_dir_all(&data_dir)?;
            utrust_core::store::SqliteStore::open(&data_dir.join("utrust.db")).await?;
            println!(
                "database at {} is up to date",
                data_dir.join("utrust.db").display()
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
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
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
