//! The one shutdown signal every task watches, and the OS signals that trigger it.

use tokio_util::sync::CancellationToken;

/// Waits for SIGINT or SIGTERM (Ctrl-C on other platforms), then cancels `token`.
/// Returns the name of the signal.
pub async fn on_signal(token: CancellationToken) -> &'static str {
    let name = wait_for_signal().await;
    token.cancel();
    name
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; only SIGINT stops mcpcol");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
