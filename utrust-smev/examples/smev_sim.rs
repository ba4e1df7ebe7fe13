//! The SMEV simulator as an HTTP server speaking the utrust wire format.
//!
//! Run with `cargo run -p utrust-smev --example smev_sim -- --listen 127.0.0.1:9090`.
//!
//! Options (all optional):
//! `--listen ADDR` (default `127.0.0.1:9090`), `--pending-polls N`,
//! `--pending-for-ms MS`, `--fail-submits K`, `--fail-polls K`, `--never-answer`.
//! The magic values that decide the answers are listed in `docs/SMEV.md`;
//! `GET /_sim/stats` shows the idempotency keys seen, `PUT /_sim/config` changes
//! the behaviour at run time.

use std::net::SocketAddr;
use std::time::Duration;

use utrust_smev::simulator::{self, SimConfig};

fn usage() -> String {
    "usage: smev_sim [--listen ADDR] [--pending-polls N] [--pending-for-ms MS] \
     [--fail-submits K] [--fail-polls K] [--never-answer]"
        .to_owned()
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, SimConfig), String> {
    let mut listen: SocketAddr = "127.0.0.1:9090".parse().map_err(|e| format!("{e}"))?;
    let mut config = SimConfig::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| -> Result<u64, String> {
            v.parse().map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--pending-polls" => {
                let v = value(&arg)?;
                config.pending_polls =
                    u32::try_from(number(&arg, v)?).map_err(|e| e.to_string())?;
            }
            "--pending-for-ms" => {
                let v = value(&arg)?;
                config.pending_for = Duration::from_millis(number(&arg, v)?);
            }
            "--fail-submits" => {
                let v = value(&arg)?;
                config.fail_submits = u32::try_from(number(&arg, v)?).map_err(|e| e.to_string())?;
            }
            "--fail-polls" => {
                let v = value(&arg)?;
                config.fail_polls = u32::try_from(number(&arg, v)?).map_err(|e| e.to_string())?;
            }
            "--never-answer" => config.never_answer = true,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok((listen, config))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listen, config) = parse_args(std::env::args().skip(1))?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!(
        "SMEV simulator listening on http://{} ({config:?})",
        listener.local_addr()?
    );
    tokio::select! {
        served = simulator::serve(listener, config) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
