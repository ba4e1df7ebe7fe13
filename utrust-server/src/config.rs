//! The configuration file of `serve` (`--config utrust.toml`, env
//! `UTRUST_CONFIG`).
//!
//! Every `serve` setting may be given as a TOML key named like its flag with
//! underscores (`--data-dir` is `data_dir`); precedence is
//! **flags > environment > file > defaults**. The file is layered under the
//! command line: it is read after a first parse, and each of its keys whose
//! setting came from neither a flag nor the environment is appended to the
//! arguments as `--flag=value`; the arguments are then parsed for real, so
//! the file's values are validated exactly like flags. Unknown keys are an
//! error naming the key.
//!
//! The bootstrap admin token may be given as `admin_token` (it has no flag);
//! `UTRUST_ADMIN_TOKEN` wins over it and is preferable.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;

/// The id of the `--config` argument.
pub const CONFIG_ARG: &str = "config";

/// The file key of the bootstrap admin token (no flag).
pub const ADMIN_TOKEN_KEY: &str = "admin_token";

/// Arguments with the configuration file layered in.
#[derive(Default)]
pub struct Layered {
    /// The arguments to parse: the original ones plus `--flag=value` for every
    /// file setting not given as a flag or in the environment.
    pub args: Vec<OsString>,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    /// `admin_token` from the file.
    pub admin_token: Option<zeroize::Zeroizing<String>>,
}

impl core::fmt::Debug for Layered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Layered")
            .field("file", &self.file)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("configuration file {} is not valid TOML: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key names no setting.
    #[error("configuration file {}: unknown key `{key}`", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value has a type the setting cannot take.
    #[error("configuration file {}: key `{key}`: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Layers the configuration file named by `--config` of `subcommand` under the
/// command line `args` (program name first) of `cmd`.
///
/// When the arguments do not parse, name another subcommand or no file, they
/// are returned unchanged (the caller's parse reports any error).
///
/// # Errors
///
/// The file cannot be read or parsed, names an unknown key, or holds a value of
/// the wrong shape (a table, a date).
pub fn layer_file(
    mut cmd: clap::Command,
    subcommand: &str,
    args: Vec<OsString>,
) -> Result<Layered, ConfigError> {
    let unchanged = |args| {
        Ok(Layered {
            args,
            ..Layered::default()
        })
    };
    cmd.build();
    let Ok(matches) = cmd.clone().try_get_matches_from(&args) else {
        return unchanged(args);
    };
    let Some(sub_matches) = matches.subcommand_matches(subcommand) else {
        return unchanged(args);
    };
    let Some(path) = sub_matches
        .try_get_one::<PathBuf>(CONFIG_ARG)
        .ok()
        .flatten()
        .cloned()
    else {
        return unchanged(args);
    };
    let Some(sub_cmd) = cmd.find_subcommand(subcommand) else {
        return unchanged(args);
    };
    let table = read(&path)?;
    let mut out = args;
    let mut admin_token = None;
    for (key, value) in table {
        if key == ADMIN_TOKEN_KEY {
            match value {
                toml::Value::String(s) => admin_token = Some(zeroize::Zeroizing::new(s)),
                _ => return Err(bad(&path, &key, "must be a string")),
            }
            continue;
        }
        let arg = sub_cmd.get_arguments().find(|a| {
            a.get_id().as_str() == key
                && a.get_long().is_some()
                && !matches!(key.as_str(), CONFIG_ARG | "help" | "version")
        });
        let Some(arg) = arg else {
            return Err(ConfigError::UnknownKey { path, key });
        };
        let given = |m: &clap::ArgMatches| {
            matches!(
                m.value_source(&key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        if given(sub_matches) || (arg.is_global_set() && given(&matches)) {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        let takes_values = arg.get_action().takes_values();
        let text = match value {
            toml::Value::Boolean(b) if !takes_values => {
                if b {
                    out.push(format!("--{long}").into());
                }
                continue;
            }
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(items) => {
                let Some(delimiter) = arg.get_value_delimiter() else {
                    return Err(bad(&path, &key, "takes one value, not a list"));
                };
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(match item {
                        toml::Value::String(s) => s,
                        toml::Value::Integer(i) => i.to_string(),
                        toml::Value::Float(f) => f.to_string(),
                        _ => return Err(bad(&path, &key, "list items must be numbers or strings")),
                    });
                }
                parts.join(&delimiter.to_string())
            }
            toml::Value::Datetime(_) | toml::Value::Table(_) => {
                return Err(bad(
                    &path,
                    &key,
                    "must be a string, number, boolean or list",
                ));
            }
        };
        if !takes_values {
            return Err(bad(&path, &key, "is a switch: true or false"));
        }
        out.push(format!("--{long}={text}").into());
    }
    Ok(Layered {
        args: out,
        file: Some(path),
        admin_token,
    })
}

fn bad(path: &Path, key: &str, message: &str) -> ConfigError {
    ConfigError::BadValue {
        path: path.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

fn read(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str::<toml::Table>(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, global = true)]
        log_json: bool,
        #[command(subcommand)]
        command: Cmd,
    }

    #[derive(Debug, Subcommand)]
    enum Cmd {
        Serve(Args),
        Other,
    }

    #[derive(Debug, clap::Args)]
    struct Args {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "default")]
        name: String,
        /// `PATH` is set in every test process: it stands for "given in the
        /// environment" without mutating the environment.
        #[arg(long, env = "PATH", default_value = "default")]
        from_env: String,
        #[arg(long, value_delimiter = ',', default_value = "30,7")]
        days: Vec<u32>,
        #[arg(long, default_value_t = 60)]
        interval: u64,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        switch: bool,
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn run(extra: &[&str], f: &tempfile::NamedTempFile) -> (Cli, Layered) {
        let mut args: Vec<OsString> = vec!["prog".into(), "serve".into(), "--config".into()];
        args.push(f.path().into());
        args.extend(extra.iter().map(OsString::from));
        let layered = layer_file(Cli::command(), "serve", args).unwrap();
        let cli = Cli::try_parse_from(&layered.args).unwrap();
        (cli, layered)
    }

    fn args(cli: &Cli) -> &Args {
        match &cli.command {
            Cmd::Serve(a) => a,
            Cmd::Other => panic!("not serve"),
        }
    }

    const FILE: &str = r#"
name = "file"
from_env = "file"
days = [14, 3, 1]
interval = 5
url = "http://file"
switch = true
log_json = true
admin_token = "file-token-0123456789"
"#;

    #[test]
    fn file_beats_defaults() {
        let f = file(FILE);
        let (cli, layered) = run(&[], &f);
        let a = args(&cli);
        assert_eq!(a.name, "file");
        assert_eq!(a.days, [14, 3, 1]);
        assert_eq!(a.interval, 5);
        assert_eq!(a.url.as_deref(), Some("http://file"));
        assert!(a.switch);
        assert!(cli.log_json);
        assert_eq!(layered.file.as_deref(), Some(f.path()));
        assert_eq!(
            layered.admin_token.as_deref().map(String::as_str),
            Some("file-token-0123456789")
        );
    }

    #[test]
    fn environment_beats_file() {
        let f = file(FILE);
        let (cli, _) = run(&[], &f);
        let path = std::env::var("PATH").unwrap();
        assert!(!path.is_empty());
        assert_eq!(args(&cli).from_env, path);
    }

    #[test]
    fn flags_beat_environment_and_file() {
        let f = file(FILE);
        let (cli, _) = run(
            &[
                "--name",
                "flag",
                "--from-env=flag",
                "--days",
                "2",
                "--interval=9",
            ],
            &f,
        );
        let a = args(&cli);
        assert_eq!(a.name, "flag");
        assert_eq!(a.from_env, "flag");
        assert_eq!(a.days, [2]);
        assert_eq!(a.interval, 9);
        assert_eq!(a.url.as_deref(), Some("http://file"));
    }

    #[test]
    fn unknown_key_is_named() {
        let f = file("name = \"x\"\nnmae = \"typo\"\n");
        let mut argv: Vec<OsString> = vec!["prog".into(), "serve".into(), "--config".into()];
        argv.push(f.path().into());
        let e = layer_file(Cli::command(), "serve", argv).unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key, .. } if key == "nmae"));
        assert!(e.to_string().contains("`nmae`"), "{e}");
        // The config key itself and help are not settings of the file.
        for key in ["config = \"x\"", "help = true"] {
            let f = file(key);
            let mut argv: Vec<OsString> = vec!["prog".into(), "serve".into(), "--config".into()];
            argv.push(f.path().into());
            let e = layer_file(Cli::command(), "serve", argv).unwrap_err();
            assert!(matches!(e, ConfigError::UnknownKey { .. }), "{key}: {e}");
        }
    }

    #[test]
    fn bad_values_and_files_are_reported() {
        for (text, want) in [
            ("interval = [1, 2]", "interval"),
            ("url = { a = 1 }", "url"),
            ("admin_token = 5", "admin_token"),
            ("name = ", "not valid TOML"),
        ] {
            let f = file(text);
            let mut argv: Vec<OsString> = vec!["prog".into(), "serve".into(), "--config".into()];
            argv.push(f.path().into());
            let e = layer_file(Cli::command(), "serve", argv).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
        // A wrongly typed scalar is refused by the real parse, naming the flag.
        let f = file("interval = \"soon\"");
        let mut argv: Vec<OsString> = vec!["prog".into(), "serve".into(), "--config".into()];
        argv.push(f.path().into());
        let layered = layer_file(Cli::command(), "serve", argv).unwrap();
        let e = Cli::try_parse_from(&layered.args).unwrap_err();
        assert!(e.to_string().contains("--interval"), "{e}");
    }

    #[test]
    fn without_a_file_the_arguments_are_unchanged() {
        for argv in [
            vec!["prog", "serve", "--name", "x"],
            vec!["prog", "other"],
            vec!["prog", "--bogus"],
        ] {
            let argv: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
            let layered = layer_file(Cli::command(), "serve", argv.clone()).unwrap();
            assert_eq!(layered.args, argv);
            assert!(layered.file.is_none());
        }
        let missing = vec![
            OsString::from("prog"),
            "serve".into(),
            "--config=/nonexistent/utrust.toml".into(),
        ];
        let e = layer_file(Cli::command(), "serve", missing).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    }
}
