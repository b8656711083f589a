//! `exporters` section: named exporters plus the queue, batch and retry defaults they
//! share.
//!
//! ```yaml
//! exporters:
//!   jaeger:        { endpoint: http://127.0.0.1:4317 }                  # OTLP/gRPC
//!   otlp/tempo:    { endpoint: https://tempo:4318, protocol: http/protobuf }
//!   zipkin:        { endpoint: http://127.0.0.1:9411/api/v2/spans }
//!   queue:  { max_spans: 100000, directory: null, max_bytes: 1GiB, max_memory_bytes: 32MiB, on_full: block }
//!   batch:  { max_spans: 512, timeout: 200ms, concurrency: 8 }
//!   retry:  { initial_interval: 1s, max_interval: 30s, max_elapsed: 5m }
//! ```
//!
//! An exporter's name says its kind: `jaeger` and `otlp` (alone or `/suffixed`) send
//! OTLP, `zipkin` sends Zipkin v2 JSON. Any exporter may override `queue`, `batch`,
//! `retry` with its own section.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::config::ConfigError;

/// `exporters` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportersConfig {
    /// `exporters.queue`: default queue of every exporter (and the bound of the analysis
    /// pipeline).
    pub queue: QueueConfig,
    /// `exporters.batch`: default batching.
    pub batch: BatchConfig,
    /// `exporters.retry`: default retry policy.
    pub retry: RetryConfig,
    /// The exporters, by name (`jaeger`, `zipkin`, `otlp/tempo`, …).
    pub exporters: BTreeMap<String, ExporterConfig>,
}

/// What an exporter sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP (to Jaeger, Tempo, an OpenTelemetry Collector, …).
    Otlp,
    /// Zipkin v2 JSON.
    Zipkin,
}

impl ExporterKind {
    /// The kind an exporter name stands for: `jaeger`, `otlp`, `zipkin`, alone or
    /// followed by `/suffix`.
    pub fn from_name(name: &str) -> Option<Self> {
        let (kind, suffix) = name.split_once('/').unwrap_or((name, "x"));
        let suffix_ok = !suffix.is_empty()
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match (kind, suffix_ok) {
            ("jaeger" | "otlp", true) => Some(ExporterKind::Otlp),
            ("zipkin", true) => Some(ExporterKind::Zipkin),
            _ => None,
        }
    }
}

/// OTLP transport of an OTLP exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (the default).
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// None (the default: mcpcol usually sits next to its downstream).
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// TLS settings of an exporter (rustls). An `https://` endpoint uses TLS with the
/// system's web roots unless `ca_file` is given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that verify clients (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Reads each file named, as the exporter will at start (so that `check-config`
    /// finds a missing or malformed certificate before `run` does).
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates = |name: &str, path: &PathBuf, problems: &mut Vec<ConfigError>| {
            let found = CertificateDer::pem_file_iter(path)
                .map(|certs| certs.filter_map(Result::ok).count())
                .map_err(|err| err.to_string());
            let problem = match found {
                Ok(0) => Some("holds no PEM certificate".to_owned()),
                Ok(_) => None,
                Err(err) => Some(format!("cannot be read as PEM: {err}")),
            };
            if let Some(problem) = problem {
                problems.push(ConfigError::invalid(
                    format!("{key}.{name}"),
                    path.display(),
                    &format!("the file {problem}; give a readable PEM file"),
                ));
            }
        };
        if let Some(ca) = &self.ca_file {
            certificates("ca_file", ca, problems);
        }
        if let Some(cert) = &self.cert_file {
            certificates("cert_file", cert, problems);
        }
        if let Some(path) = &self.key_file {
            if let Err(err) = PrivateKeyDer::from_pem_file(path) {
                problems.push(ConfigError::invalid(
                    format!("{key}.key_file"),
                    path.display(),
                    &format!("the file holds no readable PEM private key ({err}); give one"),
                ));
            }
        }
    }
}

/// One exporter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterConfig {
    /// Where to send: `http://host:4317` (OTLP/gRPC), a base URL for OTLP/HTTP to which
    /// `/v1/traces` is appended, also after a path (`https://gw:4318/otlp` posts to
    /// `https://gw:4318/otlp/v1/traces`, as the OpenTelemetry Collector does), or
    /// `http://host:9411/api/v2/spans` (Zipkin). `https://` turns TLS on.
    pub endpoint: String,
    /// OTLP/HTTP only: the full URL to post traces to, used exactly as given (then
    /// `endpoint` may be left out). Default: none.
    pub traces_endpoint: Option<String>,
    /// OTLP only: `grpc` (default) or `http/protobuf`.
    pub protocol: OtlpProtocol,
    /// Headers sent with every request (e.g. `authorization`). Never logged.
    pub headers: BTreeMap<String, String>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Time limit of one request. Default: 10s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// `none` (default) or `gzip`.
    pub compression: Compression,
    /// This exporter's own queue (default: `exporters.queue`).
    pub queue: Option<QueueConfig>,
    /// This exporter's own batching (default: `exporters.batch`).
    pub batch: Option<BatchConfig>,
    /// This exporter's own retry policy (default: `exporters.retry`).
    pub retry: Option<RetryConfig>,
}

impl ExporterConfig {
    /// The URL an OTLP/HTTP exporter posts traces to: `traces_endpoint` as given, else
    /// `endpoint` with `/v1/traces` appended.
    pub fn otlp_http_url(&self) -> String {
        match &self.traces_endpoint {
            Some(url) => url.clone(),
            None => format!("{}/v1/traces", self.endpoint.trim_end_matches('/')),
        }
    }
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            endpoint: String::new(),
            traces_endpoint: None,
            protocol: OtlpProtocol::Grpc,
            headers: BTreeMap::new(),
            tls: TlsConfig::default(),
            timeout: Duration::from_secs(10),
            compression: Compression::None,
            queue: None,
            batch: None,
            retry: None,
        }
    }
}

/// What happens when an exporter's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// Throttle the clients (UNAVAILABLE / 503 with a retry hint): nothing is lost.
    #[default]
    Block,
    /// Accept and drop the spans for this exporter, counted with reason `queue_full`.
    Drop,
}

/// Spans waiting for one exporter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Spans held (in memory, or on disk with `directory`). Default: 100 000.
    /// Range: 1 ..= 100 000 000.
    pub max_spans: usize,
    /// When set, queued spans are written to files here before the client is
    /// acknowledged and survive a crash and restart. Default: none (memory only).
    pub directory: Option<PathBuf>,
    /// Disk budget of the directory, bytes (`1GiB`, `500MB`, or a number). Default: 1 GiB.
    #[serde(deserialize_with = "deserialize_bytes")]
    pub max_bytes: u64,
    /// Memory budget of a queue without `directory`: the requests it holds, as received.
    /// Default: 32 MiB (about 60 000 spans of ~500 bytes). With the span limit, this keeps
    /// mcpcol's memory bounded when a downstream is slower than the clients.
    #[serde(deserialize_with = "deserialize_bytes")]
    pub max_memory_bytes: u64,
    /// `block` (default: throttle clients) or `drop` (drop and count).
    pub on_full: OnFull,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_spans: 100_000,
            directory: None,
            max_bytes: 1 << 30,
            max_memory_bytes: 32 << 20,
            on_full: OnFull::Block,
        }
    }
}

/// Batching of one exporter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Spans per request at most; larger requests are split. Default: 512.
    /// Range: 1 ..= 100 000.
    pub max_spans: usize,
    /// Longest wait for a batch to fill before sending what there is. Default: 200ms.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Batches sent at once (each a request in flight); they are acknowledged in queue
    /// order. More hides the downstream's round trip. Default: 8. Range: 1 ..= 64.
    pub concurrency: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_spans: 512,
            timeout: Duration::from_millis(200),
            concurrency: 8,
        }
    }
}

/// Retry policy: exponential backoff with jitter, on retryable failures only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Retry at all. Default: true.
    pub enabled: bool,
    /// First wait. Default: 1s.
    #[serde(with = "humantime_serde")]
    pub initial_interval: Duration,
    /// Longest wait between attempts. Default: 30s.
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
    /// Give up (count the spans as failed) after this long. Default: 5m.
    #[serde(with = "humantime_serde")]
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// Sizes as numbers of bytes or strings with a unit (`1GiB`, `500MB`, `64KiB`).
fn deserialize_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    match Size::deserialize(deserializer)? {
        Size::Number(n) => Ok(n),
        Size::Text(text) => parse_bytes(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a size; use bytes or a unit: 500MB, 1GiB, 64KiB"
            ))
        }),
    }
}

/// Parses `1GiB`, `500MB`, `64KiB`, `1024`.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl<'de> Deserialize<'de> for ExportersConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExportersVisitor;
        impl<'de> Visitor<'de> for ExportersVisitor {
            type Value = ExportersConfig;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mapping of exporters (jaeger, otlp/NAME, zipkin, …) and queue, batch, retry",
                )
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExportersConfig::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut config = ExportersConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "queue" => config.queue = map.next_value()?,
                        "batch" => config.batch = map.next_value()?,
                        "retry" => config.retry = map.next_value()?,
                        name if ExporterKind::from_name(name).is_some() => {
                            let exporter: ExporterConfig = map.next_value()?;
                            config.exporters.insert(name.to_owned(), exporter);
                        }
                        other => {
                            return Err(serde::de::Error::custom(format!(
                            "unknown field `{other}`, expected one of `jaeger`, `otlp`, `zipkin` \
                                 (optionally /NAME, e.g. otlp/tempo), `queue`, `batch`, `retry`"
                        )))
                        }
                    }
                }
                Ok(config)
            }
        }
        deserializer.deserialize_any(ExportersVisitor)
    }
}

impl ExportersConfig {
    /// Checks every exporter and section; `key` is where this section sits.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        self.queue.validate(&format!("{key}.queue"), problems);
        self.batch.validate(&format!("{key}.batch"), problems);
        self.retry.validate(&format!("{key}.retry"), problems);
        for (name, exporter) in &self.exporters {
            let at = format!("{key}.{name}");
            let is_url = |url: &str| {
                (url.starts_with("http://") || url.starts_with("https://"))
                    && url.len() > "https://".len()
            };
            match &exporter.traces_endpoint {
                Some(url) if !is_url(url) => problems.push(ConfigError::invalid(
                    format!("{at}.traces_endpoint"),
                    url,
                    "use the full http:// or https:// URL to post to, e.g. \
                     https://gw:4318/v1/traces",
                )),
                Some(_) if exporter.protocol != OtlpProtocol::HttpProtobuf => {
                    problems.push(ConfigError::invalid(
                        format!("{at}.traces_endpoint"),
                        exporter.traces_endpoint.as_deref().unwrap_or_default(),
                        "traces_endpoint applies to OTLP/HTTP (protocol: http/protobuf); \
                         use endpoint for gRPC and Zipkin",
                    ))
                }
                Some(_) if exporter.endpoint.is_empty() => {}
                _ => {
                    let url = exporter.endpoint.as_str();
                    if !is_url(url) {
                        problems.push(ConfigError::invalid(
                            format!("{at}.endpoint"),
                            url,
                            "use an http:// or https:// URL, e.g. http://127.0.0.1:4317",
                        ));
                    }
                }
            }
            if ExporterKind::from_name(name) == Some(ExporterKind::Zipkin)
                && exporter.protocol != OtlpProtocol::Grpc
            {
                problems.push(ConfigError::invalid(
                    format!("{at}.protocol"),
                    "http/protobuf",
                    "protocol applies to OTLP exporters only; remove it",
                ));
            }
            if exporter.timeout.is_zero() || exporter.timeout > Duration::from_secs(600) {
                problems.push(ConfigError::invalid(
                    format!("{at}.timeout"),
                    humantime::format_duration(exporter.timeout),
                    "use a duration from 1ms to 10m",
                ));
            }
            if exporter.tls.cert_file.is_some() != exporter.tls.key_file.is_some() {
                problems.push(ConfigError::invalid(
                    format!("{at}.tls"),
                    "cert_file without key_file (or the reverse)",
                    "give both cert_file and key_file, or neither",
                ));
            }
            exporter.tls.validate(&format!("{at}.tls"), problems);
            if let Some(queue) = &exporter.queue {
                queue.validate(&format!("{at}.queue"), problems);
            }
            if let Some(batch) = &exporter.batch {
                batch.validate(&format!("{at}.batch"), problems);
            }
            if let Some(retry) = &exporter.retry {
                retry.validate(&format!("{at}.retry"), problems);
            }
        }
        let mut directories = std::collections::HashSet::new();
        for (name, exporter) in &self.exporters {
            let queue = exporter.queue.as_ref().unwrap_or(&self.queue);
            if let Some(dir) = &queue.directory {
                // Two exporters sharing a directory would read each other's spans.
                let dir = if exporter.queue.is_some() {
                    dir.clone()
                } else {
                    dir.join(name.replace('/', "_"))
                };
                if !directories.insert(dir.clone()) {
                    problems.push(ConfigError::invalid(
                        format!("{key}.{name}.queue.directory"),
                        dir.display(),
                        "give each exporter its own directory",
                    ));
                }
            }
        }
    }
}

impl QueueConfig {
    /// Checks the values.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        if self.max_spans == 0 || self.max_spans > 100_000_000 {
            problems.push(ConfigError::invalid(
                format!("{key}.max_spans"),
                self.max_spans,
                "use a number of spans from 1 to 100000000",
            ));
        }
        if self.max_memory_bytes < 1 << 20 {
            problems.push(ConfigError::invalid(
                format!("{key}.max_memory_bytes"),
                self.max_memory_bytes,
                "use at least 1MiB",
            ));
        }
        if self.max_bytes < 1 << 20 {
            problems.push(ConfigError::invalid(
                format!("{key}.max_bytes"),
                self.max_bytes,
                "use at least 1MiB",
            ));
        }
    }
}

impl BatchConfig {
    /// Checks the values.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        if self.max_spans == 0 || self.max_spans > 100_000 {
            problems.push(ConfigError::invalid(
                format!("{key}.max_spans"),
                self.max_spans,
                "use a number of spans from 1 to 100000",
            ));
        }
        if self.timeout > Duration::from_secs(60) {
            problems.push(ConfigError::invalid(
                format!("{key}.timeout"),
                humantime::format_duration(self.timeout),
                "use a duration up to 1m, such as 200ms",
            ));
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            problems.push(ConfigError::invalid(
                format!("{key}.concurrency"),
                self.concurrency,
                "use a number of batches in flight from 1 to 64",
            ));
        }
    }
}

impl RetryConfig {
    /// Checks the values.
    pub fn validate(&self, key: &str, problems: &mut Vec<ConfigError>) {
        if self.initial_interval.is_zero() || self.initial_interval > self.max_interval {
            problems.push(ConfigError::invalid(
                format!("{key}.initial_interval"),
                humantime::format_duration(self.initial_interval),
                "use a duration above 0 and at most max_interval",
            ));
        }
        if self.max_elapsed < self.initial_interval {
            problems.push(ConfigError::invalid(
                format!("{key}.max_elapsed"),
                humantime::format_duration(self.max_elapsed),
                "use a duration at least initial_interval, such as 5m",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Override};

    fn sets(values: &[&str]) -> Result<crate::config::Config, ConfigError> {
        let overrides: Vec<Override> = values.iter().map(|v| Override::parse(v).unwrap()).collect();
        load(None, &overrides)
    }

    #[test]
    fn exporters_by_name_with_their_own_sections() {
        let config = sets(&[
            "exporters.jaeger.endpoint=http://127.0.0.1:4317",
            "exporters.otlp/tempo.endpoint=https://tempo:4318",
            "exporters.otlp/tempo.protocol=http/protobuf",
            "exporters.zipkin.endpoint=http://127.0.0.1:9411/api/v2/spans",
            "exporters.zipkin.queue.max_spans=10",
            "exporters.batch.max_spans=100",
            "exporters.queue.max_bytes=2GiB",
        ])
        .unwrap();
        let e = &config.exporters;
        assert_eq!(e.exporters.len(), 3);
        assert_eq!(
            e.exporters["otlp/tempo"].protocol,
            OtlpProtocol::HttpProtobuf
        );
        assert_eq!(e.exporters["zipkin"].queue.as_ref().unwrap().max_spans, 10);
        assert_eq!(e.batch.max_spans, 100);
        assert_eq!(e.queue.max_bytes, 2 << 30);
    }

    #[test]
    fn otlp_http_urls_follow_the_collector() {
        let config = |endpoint: &str, traces: Option<&str>| ExporterConfig {
            endpoint: endpoint.into(),
            traces_endpoint: traces.map(str::to_owned),
            protocol: OtlpProtocol::HttpProtobuf,
            ..ExporterConfig::default()
        };
        assert_eq!(
            config("https://gw:4318", None).otlp_http_url(),
            "https://gw:4318/v1/traces"
        );
        assert_eq!(
            config("https://gw:4318/otlp/", None).otlp_http_url(),
            "https://gw:4318/otlp/v1/traces"
        );
        assert_eq!(
            config("", Some("https://gw/ingest/traces")).otlp_http_url(),
            "https://gw/ingest/traces"
        );
        assert!(sets(&[
            "exporters.otlp.traces_endpoint=https://gw/t",
            "exporters.otlp.protocol=http/protobuf"
        ])
        .is_ok());
        let err = sets(&["exporters.otlp.traces_endpoint=https://gw/t"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("traces_endpoint applies to OTLP/HTTP"),
            "{err}"
        );
    }

    #[test]
    fn bad_exporters_are_named() {
        let err = sets(&["exporters.jeager.endpoint=http://x:1"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exporters.jeager: unknown key; allowed here: jaeger, otlp, zipkin"),
            "{err}"
        );
        let err = sets(&["exporters.zipkin.endpoint=localhost:9411"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "exporters.zipkin.endpoint: \"localhost:9411\" is not allowed; use an http://"
            ),
            "{err}"
        );
        let err = sets(&[
            "exporters.jaeger.endpoint=http://x:1",
            "exporters.jaeger.retry.max_elapsed=0s",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("exporters.jaeger.retry.max_elapsed"), "{err}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1GiB"), Some(1 << 30));
        assert_eq!(parse_bytes("500MB"), Some(500_000_000));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("lots"), None);
    }
}
