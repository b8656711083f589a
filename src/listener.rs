//! Every listener's connection handling, one loop for the OTLP/gRPC, OTLP/HTTP and
//! admin listeners: optional TLS (rustls, client certificates optional, reloadable),
//! a cap on open connections, timeouts for slow clients, and HTTP/2 settings that
//! resist the known floods.
//!
//! Why our own accept loop rather than `axum::serve` / tonic's server: neither lets us
//! cap connections, time out header reads and TLS handshakes, or set HTTP/2's reset
//! limits, and a TLS handshake done in the accept loop would let one slow client stall
//! everyone. Here each connection is its own task from the moment it is accepted.
//!
//! What a hostile or slow client meets:
//! - past `max_connections`, new connections are closed at once (counted);
//! - a TLS handshake or an HTTP/1 request head not finished within
//!   `header_read_timeout` closes the connection (slowloris);
//! - a request not answered within `request_timeout` (a body dribbled in slowly) is
//!   reset (counted);
//! - HTTP/2: at most `max_concurrent_streams` streams per connection, 20 pending
//!   client resets (rapid reset, CVE-2023-44487), 1024 server-side error resets, a
//!   16 KiB header list (CONTINUATION floods stop there), keep-alive pings to drop dead
//!   peers;
//! - HTTP/1: at most 100 headers and a 64 KiB read buffer.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use crate::config::ConfigError;
use crate::telemetry::Telemetry;

/// `tls` section of a listener. Absent or empty: plain TCP.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM file with the server's certificate chain (leaf first).
    pub cert_file: Option<PathBuf>,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// PEM file with the CAs that sign client certificates. Set: every client must
    /// present a certificate signed by one of them (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
}

impl TlsServerConfig {
    /// Whether TLS is on.
    pub fn is_enabled(&self) -> bool {
        self.cert_file.is_some() || self.key_file.is_some() || self.client_ca_file.is_some()
    }

    /// Reads the files into a rustls config advertising `alpn`; each problem names `key`.
    fn load(&self, key: &str, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, ConfigError> {
        let (Some(cert_file), Some(key_file)) = (&self.cert_file, &self.key_file) else {
            return Err(ConfigError::invalid(
                key.to_owned(),
                "incomplete",
                "set both cert_file and key_file (client_ca_file is optional)",
            ));
        };
        let file_problem = |name: &str, path: &PathBuf, err: &dyn std::fmt::Display| {
            ConfigError::invalid(
                format!("{key}.{name}"),
                path.display(),
                &format!("cannot use it ({err}); give a readable PEM file"),
            )
        };
        let chain = CertificateDer::pem_file_iter(cert_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|err| file_problem("cert_file", cert_file, &err))?;
        if chain.is_empty() {
            return Err(file_problem(
                "cert_file",
                cert_file,
                &"no certificate in it",
            ));
        }
        let private_key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|err| file_problem("key_file", key_file, &err))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| ConfigError::invalid(key.to_owned(), "tls", &err.to_string()))?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca_file) => {
                let mut roots = rustls::RootCertStore::empty();
                let cas = CertificateDer::pem_file_iter(ca_file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|err| file_problem("client_ca_file", ca_file, &err))?;
                for ca in cas {
                    roots
                        .add(ca)
                        .map_err(|err| file_problem("client_ca_file", ca_file, &err))?;
                }
                if roots.is_empty() {
                    return Err(file_problem("client_ca_file", ca_file, &"no certificate"));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|err| file_problem("client_ca_file", ca_file, &err))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, private_key)
            .map_err(|err| file_problem("key_file", key_file, &err))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// `connections` section of a listener: limits for slow and hostile clients.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Most connections open at once; more are closed on accept. Default: 1 000.
    /// Range: 1 ..= 1 000 000.
    pub max_connections: usize,
    /// Time for a TLS handshake and for each HTTP/1 request head. Default: 10s.
    /// Range: 1s ..= 10m.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time from a request's head to its answer, reading the body included; past it
    /// the request is reset. Default: 30s. Range: 1s ..= 1h.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Most concurrent HTTP/2 streams per connection. Default: 100. Range: 1 ..= 10 000.
    pub max_concurrent_streams: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1000,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_concurrent_streams: 100,
        }
    }
}

impl ConnectionLimits {
    /// Checks the ranges; `key` is where this section sits in the file.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        if !(1..=1_000_000).contains(&self.max_connections) {
            problems.push(ConfigError::invalid(
                format!("{key}.max_connections"),
                self.max_connections,
                "use a number from 1 to 1000000",
            ));
        }
        for (name, value, max, allowed) in [
            (
                "header_read_timeout",
                self.header_read_timeout,
                Duration::from_secs(600),
                "use a duration from 1s to 10m",
            ),
            (
                "request_timeout",
                self.request_timeout,
                Duration::from_secs(3600),
                "use a duration from 1s to 1h",
            ),
        ] {
            if value < Duration::from_secs(1) || value > max {
                problems.push(ConfigError::invalid(
                    format!("{key}.{name}"),
                    humantime::format_duration(value),
                    allowed,
                ));
            }
        }
        if !(1..=10_000).contains(&self.max_concurrent_streams) {
            problems.push(ConfigError::invalid(
                format!("{key}.max_concurrent_streams"),
                self.max_concurrent_streams,
                "use a number from 1 to 10000",
            ));
        }
    }
}

/// Which HTTP versions a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// gRPC: HTTP/2 only (prior knowledge, or ALPN `h2` under TLS).
    Http2Only,
    /// HTTP/1.1 and HTTP/2.
    Http1And2,
}

impl Protocols {
    fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            Protocols::Http2Only => &[b"h2"],
            Protocols::Http1And2 => &[b"h2", b"http/1.1"],
        }
    }
}

/// A listener's TLS settings, swapped whole on reload.
#[derive(Debug)]
pub struct ServerTls {
    config: TlsServerConfig,
    key: String,
    alpn: &'static [&'static [u8]],
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl ServerTls {
    /// Loads the certificates of `config` (at `key` in the file); `None` when TLS is off.
    pub fn load(
        config: &TlsServerConfig,
        key: &str,
        protocols: Protocols,
    ) -> Result<Option<Arc<Self>>, ConfigError> {
        if !config.is_enabled() {
            return Ok(None);
        }
        let alpn = protocols.alpn();
        let loaded = config.load(key, alpn)?;
        Ok(Some(Arc::new(ServerTls {
            config: config.clone(),
            key: key.to_owned(),
            alpn,
            current: RwLock::new(Arc::new(loaded)),
        })))
    }

    /// Re-reads the files; on any problem the certificates in use stay.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let loaded = Arc::new(self.config.load(&self.key, self.alpn)?);
        // ok: a poisoned lock holds a valid Arc; replace it.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(())
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}

/// Checks a `tls` section by loading it once; `key` is where it sits in the file.
pub fn validate_tls(config: &TlsServerConfig, key: &str, problems: &mut Vec<ConfigError>) {
    if config.is_enabled() {
        if let Err(problem) = config.load(key, Protocols::Http1And2.alpn()) {
            problems.push(problem);
        }
    }
}

/// One listener, ready to serve.
#[derive(Debug)]
pub struct Listener {
    /// The name in logs and in the `listener` label: `otlp_grpc`, `otlp_http`, `admin`.
    pub name: &'static str,
    /// The bound socket.
    pub tcp: TcpListener,
    /// TLS, when on.
    pub tls: Option<Arc<ServerTls>>,
    /// Slow-client limits.
    pub limits: ConnectionLimits,
    /// HTTP versions.
    pub protocols: Protocols,
}

impl Listener {
    /// Plain TCP with the default limits.
    pub fn plain(name: &'static str, tcp: TcpListener, protocols: Protocols) -> Self {
        Listener {
            name,
            tcp,
            tls: None,
            limits: ConnectionLimits::default(),
            protocols,
        }
    }
}

/// A stream, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A connection that must send its first bytes before a deadline. hyper's header timeout
/// starts only once a request has begun, and the HTTP version detection before it waits
/// for ever: without this, a client that connects and stays silent holds its slot.
struct Connection {
    stream: Stream,
    first_bytes: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Connection {
    fn new(stream: Stream, first_bytes_within: Duration) -> Self {
        Connection {
            stream,
            first_bytes: Some(Box::pin(tokio::time::sleep(first_bytes_within))),
        }
    }
}

/// Whether a connection's error is one of the timeouts on a silent or slow client.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
            || err
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
        {
            return true;
        }
        next = err.source();
    }
    false
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = this.first_bytes.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nothing received within header_read_timeout",
                )));
            }
        }
        let before = buf.filled().len();
        let read = match &mut this.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        };
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.first_bytes = None;
        }
        read
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(stream) => stream.is_write_vectored(),
            Stream::Tls(stream) => stream.is_write_vectored(),
        }
    }
}

/// The request took longer than `request_timeout`; hyper resets it.
#[derive(Debug, thiserror::Error)]
#[error("the request was not complete within the listener's request_timeout")]
struct RequestTimedOut;

/// Wraps a service so a request that takes longer than the limit is reset and counted.
#[derive(Clone)]
struct Deadline<S> {
    inner: S,
    limit: Duration,
    listener: &'static str,
    telemetry: Arc<Telemetry>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<http::Request<Incoming>> for Deadline<S>
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(|never| match never {})
    }

    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future {
        let answer = self.inner.call(request);
        let (limit, listener, telemetry) = (self.limit, self.listener, self.telemetry.clone());
        Box::pin(async move {
            match tokio::time::timeout(limit, answer).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(never)) => match never {},
                Err(_) => {
                    telemetry.listener_request_timed_out(listener);
                    Err(Box::new(RequestTimedOut) as BoxError)
                }
            }
        })
    }
}

/// Counts an open connection while alive.
struct OpenConnection {
    listener: &'static str,
    telemetry: Arc<Telemetry>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.telemetry.listener_connection_closed(self.listener);
    }
}

/// Serves `service` on `listener` until `shutdown` fires, then lets every open
/// connection finish its requests (idle ones are closed) before returning.
pub async fn serve<S, B>(
    listener: Listener,
    service: S,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) -> io::Result<()>
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let Listener {
        name,
        tcp,
        tls,
        limits,
        protocols,
    } = listener;
    let builder = Arc::new(http_builder(&limits, protocols));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let service = Deadline {
        inner: service,
        limit: limits.request_timeout,
        listener: name,
        telemetry: telemetry.clone(),
    };
    telemetry.listener_registered(name);
    let mut accept_errors_logged = false;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, mostly: back off instead of spinning.
                if !accept_errors_logged {
                    tracing::warn!(listener = name, %err, "cannot accept a connection; retrying (logged once)");
                    accept_errors_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            telemetry.listener_connection_refused(name, "max_connections", limits.max_connections);
            drop(stream);
            continue;
        };
        telemetry.listener_connection_opened(name);
        let open = OpenConnection {
            listener: name,
            telemetry: telemetry.clone(),
            _permit: permit,
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY on an accepted connection");
        }
        let (tls, builder, service, telemetry) = (
            tls.clone(),
            builder.clone(),
            service.clone(),
            telemetry.clone(),
        );
        let watcher = graceful.watcher();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _open = open;
            let stream = match tls {
                None => Stream::Plain(stream),
                Some(tls) => {
                    match tokio::time::timeout(handshake_timeout, tls.acceptor().accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => Stream::Tls(Box::new(stream)),
                        Ok(Err(err)) => {
                            tracing::debug!(listener = name, %peer, %err, "TLS handshake failed");
                            telemetry.listener_connection_refused(name, "tls_handshake", 0);
                            return;
                        }
                        Err(_) => {
                            telemetry.listener_connection_refused(name, "handshake_timeout", 0);
                            return;
                        }
                    }
                }
            };
            let connection = builder.serve_connection(
                TokioIo::new(Connection::new(stream, handshake_timeout)),
                TowerToHyperService::new(service),
            );
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(listener = name, %peer, %err, "connection ended with an error");
                // What hyper refused before a request reached us is counted too.
                if timed_out(err.as_ref()) {
                    telemetry.listener_connection_refused(name, "header_timeout", 0);
                } else if let Some(err) = err.downcast_ref::<hyper::Error>() {
                    let reason = if err.is_parse_too_large() {
                        Some("headers_too_large")
                    } else if err.is_parse() {
                        Some("malformed_request")
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        telemetry.listener_connection_refused(name, reason, 0);
                    }
                }
            }
        });
    }
    drop(tcp);
    graceful.shutdown().await;
    Ok(())
}

fn http_builder(limits: &ConnectionLimits, protocols: Protocols) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(100)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(1024)
        .max_header_list_size(16 * 1024)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    match protocols {
        Protocols::Http2Only => builder.http2_only(),
        Protocols::Http1And2 => builder,
    }
}
