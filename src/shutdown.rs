//! The one shutdown signal every task watches, and the OS signals that trigger it.
//!
//! The handlers are installed before mcpcol says it is ready ([`Signals::install`]): a
//! SIGTERM that arrives just after the "ready" line must drain, not kill.

use tokio_util::sync::CancellationToken;

/// SIGINT and SIGTERM, listened for from the moment of [`Signals::install`].
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers now (inside the runtime). One that cannot be installed is
    /// logged, and that signal keeps its default action.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(stream) => Some(stream),
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for {name}; it will stop mcpcol without a drain");
                    None
                }
            };
            Signals {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere), then cancels `token`. Returns the
    /// name of the signal.
    pub async fn on_signal(self, token: CancellationToken) -> &'static str {
        let name = self.wait().await;
        token.cancel();
        name
    }

    #[cfg(unix)]
    async fn wait(mut self) -> &'static str {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => "SIGINT",
            () = next(&mut self.terminate) => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn wait(self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
