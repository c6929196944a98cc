//! Graceful shutdown: the signal, and the bounded drain that ends with the
//! token cache cleared.

use std::future::Future;
use std::time::Duration;

/// Completes on Ctrl-C or, on Unix, SIGTERM (what a container runtime sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Completes `drain_timeout` after `signal` completes: the latest moment at
/// which open connections are abandoned.
pub(crate) async fn deadline_after(signal: impl Future<Output = ()>, drain_timeout: Duration) {
    signal.await;
    tokio::time::sleep(drain_timeout).await;
}
