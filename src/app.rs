//! Builds the stages from a [`Config`], binds every listener, wires the bounded
//! pipeline, runs until shutdown, and drains.
//!
//! Order matters: all listeners are bound before anything is reported ready (so port 0
//! works and a bind failure stops mcpcol before it half-starts); on shutdown the
//! receivers stop accepting first, finish in-flight requests, then the pipeline drains,
//! and the exporters send what is queued, all within `service.shutdown_timeout` (past
//! it, a memory queue's rest is counted as failed and a disk queue's stays on disk); the
//! admin listener goes last so `/ready` answers 503 during the drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Readiness};
use crate::config::Config;
use crate::export::Exporters;
use crate::listener::{self, Listener, Protocols, ServerTls};
use crate::live::{self, mcp_server::LiveMcp, store::LiveStore};
use crate::mcp;
use crate::metrics::red::RedMetrics;
use crate::pipeline;
use crate::receiver::{self, grpc, http, limits, Receiver};
use crate::telemetry::Telemetry;

/// Why mcpcol could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An exporter could not start.
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// The bearer tokens or the certificates could not be read.
    #[error(transparent)]
    Auth(crate::config::ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {address} ({key}): {source}; choose another address with --set {key}=HOST:PORT")]
    Bind {
        /// The config key of the address.
        key: &'static str,
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a run did, reported when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Spans the pipeline processed.
    pub processed_spans: u64,
    /// Spans still queued when the drain deadline passed (0 after a clean drain).
    pub left_in_queue: u64,
}

/// A running collector.
pub struct Collector {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    admin_addr: SocketAddr,
    shutdown: CancellationToken,
    admin_shutdown: CancellationToken,
    readiness: Arc<Readiness>,
    telemetry: Arc<Telemetry>,
    shutdown_timeout: Duration,
    receivers: Vec<JoinHandle<()>>,
    stage: JoinHandle<u64>,
    exporters: Exporters,
    admin: JoinHandle<()>,
    reloadable: Reloadable,
}

/// What SIGHUP reloads: each listener's bearer tokens and TLS certificates.
#[derive(Clone)]
struct Reloadable {
    tokens: Vec<(crate::auth::AuthConfig, &'static str, crate::auth::Tokens)>,
    tls: Vec<Arc<ServerTls>>,
    exporters: Vec<crate::export::ReloadableSender>,
}

impl Reloadable {
    /// Re-reads every token source and certificate. What fails to load stays as it was
    /// (the rest is replaced); returns whether everything loaded.
    fn reload(&self, telemetry: &Telemetry) -> bool {
        let mut failed = Vec::new();
        for (config, key, tokens) in &self.tokens {
            if !config.is_enabled() {
                continue;
            }
            let mut problems = Vec::new();
            let fresh = config.load(key, &mut problems);
            if problems.is_empty() {
                tokens.replace(&fresh);
            } else {
                // Problems name files, variables and lines, never a token.
                failed.extend(problems.iter().map(ToString::to_string));
            }
        }
        for tls in &self.tls {
            if let Err(problem) = tls.reload() {
                failed.push(problem.to_string());
            }
        }
        for exporter in self.exporters.iter().filter(|e| e.uses_tls_files()) {
            if let Err(problem) = exporter.reload() {
                failed.push(problem.to_string());
            }
        }
        let ok = failed.is_empty();
        telemetry.reloaded(ok);
        if ok {
            tracing::info!(
                certificates = self.tls.len(),
                "reloaded the bearer tokens and TLS certificates"
            );
        } else {
            tracing::error!(
                problems = ?failed,
                "reload failed; what could not be loaded stays as it was"
            );
        }
        ok
    }
}

/// Reloads tokens and certificates on every SIGHUP until shutdown.
fn reload_on_sighup(
    reloadable: Reloadable,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGHUP: tokens and certificates will not reload");
                return;
            }
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    got = hangups.recv() => {
                        if got.is_none() {
                            break;
                        }
                        tracing::info!("SIGHUP: reloading the bearer tokens and TLS certificates");
                        reloadable.reload(&telemetry);
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (reloadable, telemetry, shutdown);
}

async fn bind(key: &'static str, address: &str) -> Result<TcpListener, AppError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| AppError::Bind {
            key,
            address: address.to_owned(),
            source,
        })
}

fn local_addr(
    listener: &TcpListener,
    key: &'static str,
    address: &str,
) -> Result<SocketAddr, AppError> {
    listener.local_addr().map_err(|source| AppError::Bind {
        key,
        address: address.to_owned(),
        source,
    })
}

/// The tokens of one listener's `auth` section (validation has read them once already;
/// this is the read that counts).
fn tokens(auth: &crate::auth::AuthConfig, key: &str) -> Result<crate::auth::Tokens, AppError> {
    let mut problems = Vec::new();
    let tokens = auth.load(key, &mut problems);
    match problems.pop() {
        Some(problem) => Err(AppError::Auth(problem)),
        None => Ok(tokens),
    }
}

/// A listener's TLS, loaded (validation has read it once already).
fn tls(
    config: &crate::listener::TlsServerConfig,
    key: &str,
    protocols: Protocols,
) -> Result<Option<Arc<ServerTls>>, AppError> {
    ServerTls::load(config, key, protocols).map_err(AppError::Auth)
}

/// Binds every listener and starts every stage. Returns once mcpcol is ready.
pub async fn start(config: Config) -> Result<Collector, AppError> {
    const GRPC_KEY: &str = "receivers.otlp.grpc.endpoint";
    const HTTP_KEY: &str = "receivers.otlp.http.endpoint";
    const ADMIN_KEY: &str = "metrics.endpoint";
    let otlp = &config.receivers.otlp;
    let grpc_listener = bind(GRPC_KEY, &otlp.grpc.endpoint).await?;
    let http_listener = bind(HTTP_KEY, &otlp.http.endpoint).await?;
    let admin_listener = bind(ADMIN_KEY, &config.metrics.endpoint).await?;
    let grpc_addr = local_addr(&grpc_listener, GRPC_KEY, &otlp.grpc.endpoint)?;
    let http_addr = local_addr(&http_listener, HTTP_KEY, &otlp.http.endpoint)?;
    let admin_addr = local_addr(&admin_listener, ADMIN_KEY, &config.metrics.endpoint)?;

    let receiver_tokens = tokens(&otlp.auth, "receivers.otlp.auth")?;
    let admin_tokens = tokens(&config.metrics.auth, "metrics.auth")?;
    let grpc_tls = tls(
        &otlp.grpc.tls,
        "receivers.otlp.grpc.tls",
        Protocols::Http2Only,
    )?;
    let http_tls = tls(
        &otlp.http.tls,
        "receivers.otlp.http.tls",
        Protocols::Http1And2,
    )?;
    let admin_tls = tls(&config.metrics.tls, "metrics.tls", Protocols::Http1And2)?;
    let mut telemetry = Telemetry::new(config.exporters.queue.max_spans)
        .with_log_interval(config.service.log_rate_limit);
    let (red, red_collector) = RedMetrics::new(&config.metrics);
    telemetry.register_collector(Arc::new(red_collector));
    let telemetry = Arc::new(telemetry);
    let (handle, queue) = pipeline::channel(config.exporters.queue.max_spans, telemetry.clone());
    let exporters = Exporters::start(&config.exporters, telemetry.clone())?;
    let reloadable = Reloadable {
        tokens: vec![
            (
                otlp.auth.clone(),
                "receivers.otlp.auth",
                receiver_tokens.clone(),
            ),
            (
                config.metrics.auth.clone(),
                "metrics.auth",
                admin_tokens.clone(),
            ),
        ],
        tls: [&grpc_tls, &http_tls, &admin_tls]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        exporters: exporters.senders(),
    };
    let shutdown = CancellationToken::new();
    let memory_gate = receiver::memory_limit::start(
        config.service.memory_limit_mib,
        config.service.spike_limit_mib(),
        telemetry.clone(),
        shutdown.clone(),
    );
    let receiver = Arc::new(
        Receiver::new(
            handle,
            exporters.queues(),
            telemetry.clone(),
            otlp.throttle_retry_after,
        )
        .with_tokens(receiver_tokens)
        .with_memory_gate(memory_gate)
        .with_decode_limits(otlp.limits.clone()),
    );
    let admin_shutdown = CancellationToken::new();
    let readiness = Arc::new(Readiness::default());

    let grpc_task = {
        let listener = Listener {
            name: "otlp_grpc",
            tcp: grpc_listener,
            tls: grpc_tls.clone(),
            limits: otlp.grpc.connections.clone(),
            protocols: Protocols::Http2Only,
        };
        let (receiver, shutdown, telemetry) =
            (receiver.clone(), shutdown.clone(), telemetry.clone());
        let limit = limits::mib(otlp.grpc.max_recv_msg_size_mib);
        tokio::spawn(async move {
            if let Err(err) =
                grpc::serve(listener, receiver, limit, telemetry, shutdown.clone()).await
            {
                tracing::error!(%err, "the OTLP/gRPC receiver stopped; shutting down");
                shutdown.cancel();
            }
        })
    };
    let http_task = {
        let listener = Listener {
            name: "otlp_http",
            tcp: http_listener,
            tls: http_tls.clone(),
            limits: otlp.http.connections.clone(),
            protocols: Protocols::Http1And2,
        };
        let router = http::router(receiver, limits::mib(otlp.http.max_request_body_size_mib));
        let (shutdown, telemetry) = (shutdown.clone(), telemetry.clone());
        tokio::spawn(async move {
            if let Err(err) = listener::serve(listener, router, telemetry, shutdown.clone()).await {
                tracing::error!(%err, "the OTLP/HTTP receiver stopped; shutting down");
                shutdown.cancel();
            }
        })
    };
    let live_store = Arc::new(LiveStore::new(config.live.clone(), telemetry.clone()));
    let ui = Arc::new(config.ui.clone());
    let live_routes = live::api::router(live::api::ApiState {
        store: live_store.clone(),
        ui: ui.clone(),
    })
    .nest_service(
        "/mcp",
        LiveMcp::new(
            live_store.clone(),
            ui,
            telemetry.clone(),
            exporters.queues(),
        )
        .service(admin_shutdown.child_token()),
    );
    let admin_task = {
        let router = admin::router(
            telemetry.clone(),
            readiness.clone(),
            live_store.clone(),
            live_routes,
            admin_tokens,
            config.metrics.new_series_at_zero,
        );
        let listener = Listener {
            name: "admin",
            tcp: admin_listener,
            tls: admin_tls.clone(),
            limits: config.metrics.connections.clone(),
            protocols: Protocols::Http1And2,
        };
        let (admin_shutdown, shutdown, telemetry) =
            (admin_shutdown.clone(), shutdown.clone(), telemetry.clone());
        tokio::spawn(async move {
            if let Err(err) = listener::serve(listener, router, telemetry, admin_shutdown).await {
                tracing::error!(%err, "the admin listener stopped; shutting down");
                shutdown.cancel();
            }
        })
    };
    let stage = tokio::spawn(mcp::run_stage(
        queue,
        telemetry.clone(),
        live_store,
        red,
        config.metrics.sessions.idle_timeout,
        config.service.analysis,
    ));

    reload_on_sighup(reloadable.clone(), telemetry.clone(), shutdown.clone());
    let scheme = |tls: &Option<Arc<ServerTls>>| if tls.is_some() { "https" } else { "http" };
    let (http_scheme, admin_scheme) = (scheme(&http_tls), scheme(&admin_tls));
    readiness.set(true);
    tracing::info!(
        otlp_grpc = %grpc_addr,
        otlp_http = %http_addr,
        metrics = %admin_addr,
        version = env!("CARGO_PKG_VERSION"),
        "mcpcol is ready: OTLP/gRPC on {grpc_addr}{}, OTLP/HTTP on {http_scheme}://{http_addr}, \
         /metrics /health /ready on {admin_scheme}://{admin_addr}",
        if grpc_tls.is_some() { " (TLS)" } else { "" }
    );
    Ok(Collector {
        grpc_addr,
        http_addr,
        admin_addr,
        shutdown,
        admin_shutdown,
        readiness,
        telemetry,
        shutdown_timeout: config.service.shutdown_timeout,
        receivers: vec![grpc_task, http_task],
        stage,
        exporters,
        admin: admin_task,
        reloadable,
    })
}

impl Collector {
    /// Reloads the bearer tokens and TLS certificates, as SIGHUP does; returns whether
    /// everything loaded (what did not stays as it was).
    pub fn reload(&self) -> bool {
        self.reloadable.reload(&self.telemetry)
    }

    /// Where OTLP/gRPC listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where OTLP/HTTP listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where `/metrics`, `/health` and `/ready` listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The self-telemetry.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The token that stops this collector when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting and drains; same as cancelling [`Collector::shutdown_token`].
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Runs until shutdown is requested, then drains within `service.shutdown_timeout`.
    pub async fn wait(self) -> Summary {
        self.shutdown.cancelled().await;
        self.readiness.set(false);
        tracing::info!(
            timeout = %humantime::format_duration(self.shutdown_timeout),
            "stopping: no new connections; finishing in-flight requests and queued spans"
        );
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        let exporters = self.exporters;
        let drain = async {
            for task in self.receivers {
                let _ = task.await;
            }
            // No more spans can arrive: the exporters send what is queued meanwhile.
            exporters.close();
            self.stage.await.unwrap_or_default()
        };
        let processed = tokio::time::timeout_at(deadline, drain).await;
        exporters.drain(deadline).await;
        let left_in_queue = match processed {
            Ok(_) => 0,
            Err(_) => {
                let left = u64::try_from(self.telemetry.pipeline_queued()).unwrap_or(0);
                tracing::error!(
                    left,
                    "drain deadline (service.shutdown_timeout) passed with spans still queued; \
                     they are lost"
                );
                left
            }
        };
        self.admin_shutdown.cancel();
        let _ = self.admin.await;
        let summary = Summary {
            processed_spans: self.telemetry.pipeline_processed_total(),
            left_in_queue,
        };
        tracing::info!(
            processed_spans = summary.processed_spans,
            left_in_analysis_queue = summary.left_in_queue,
            "mcpcol stopped"
        );
        summary
    }
}
