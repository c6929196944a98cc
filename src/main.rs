//! The template server: `cargo run` serves the demo with no setup.

use std::process::ExitCode;

use axum_oauth2_template::{self as server, AppConfig, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let vars = match server::load_vars() {
        Ok(vars) => vars,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let format = AppConfig::from_vars(&vars)
        .map(|c| c.log_format)
        .unwrap_or(LogFormat::Pretty);
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(vars.get("RUST_LOG").map_or("info", String::as_str)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Pretty => subscriber.init(),
    }

    match server::run(&vars, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
