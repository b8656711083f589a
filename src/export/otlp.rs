//! The OTLP exporter: OTLP/gRPC (default) or OTLP/HTTP protobuf, to Jaeger, Tempo, an
//! OpenTelemetry Collector or anything that speaks OTLP.
//!
//! It sends payloads as bytes: what the receivers queued, concatenated, goes out
//! unchanged (a raw-bytes gRPC codec; an HTTP body). The answer's `partial_success`
//! counts spans the downstream rejected (never retried, as the specification says).

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::config::{Compression, ExporterConfig, OtlpProtocol};
use super::retry::{classify_grpc, classify_http, error_chain, SendError};
use super::{ExportError, Sent};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A connected (lazily) OTLP client.
#[derive(Debug, Clone)]
pub enum OtlpSender {
    /// OTLP/gRPC.
    Grpc {
        /// The channel (connects on first use, reconnects by itself).
        channel: Channel,
        /// Headers as gRPC metadata.
        headers: Vec<(
            MetadataKey<tonic::metadata::Ascii>,
            MetadataValue<tonic::metadata::Ascii>,
        )>,
        /// gzip or not.
        gzip: bool,
        /// Per-request limit.
        timeout: Duration,
    },
    /// OTLP/HTTP protobuf.
    Http {
        /// The client (connection pool, TLS).
        client: reqwest::Client,
        /// `…/v1/traces`.
        url: String,
        /// Headers sent with each request.
        headers: reqwest::header::HeaderMap,
        /// gzip or not.
        gzip: bool,
    },
}

fn read_file(exporter: &str, path: &std::path::Path) -> Result<Vec<u8>, ExportError> {
    std::fs::read(path).map_err(|source| ExportError::Tls {
        exporter: exporter.to_owned(),
        path: path.to_owned(),
        source,
    })
}

impl OtlpSender {
    /// Builds the client for exporter `name`. Nothing is connected yet: a downstream that
    /// is down at start is retried like any other outage.
    pub fn new(name: &str, config: &ExporterConfig) -> Result<Self, ExportError> {
        let gzip = config.compression == Compression::Gzip;
        match config.protocol {
            OtlpProtocol::Grpc => {
                let invalid = |message: String| ExportError::Endpoint {
                    exporter: name.to_owned(),
                    endpoint: config.endpoint.clone(),
                    message,
                };
                let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
                    .map_err(|e| invalid(e.to_string()))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(config.timeout)
                    .tcp_nodelay(true);
                if config.endpoint.starts_with("https://") {
                    let mut tls = ClientTlsConfig::new().with_webpki_roots();
                    if let Some(ca) = &config.tls.ca_file {
                        tls = tls.ca_certificate(Certificate::from_pem(read_file(name, ca)?));
                    }
                    if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
                        tls = tls.identity(Identity::from_pem(
                            read_file(name, cert)?,
                            read_file(name, key)?,
                        ));
                    }
                    endpoint = endpoint
                        .tls_config(tls)
                        .map_err(|e| invalid(e.to_string()))?;
                }
                let mut headers = Vec::new();
                for (key, value) in &config.headers {
                    let key = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
                        .map_err(|_| {
                            invalid(format!("header name {key:?} is not valid in gRPC metadata"))
                        })?;
                    let value = MetadataValue::try_from(value.as_str())
                        .map_err(|_| invalid(format!("the value of header {key} is not ASCII")))?;
                    headers.push((key, value));
                }
                Ok(OtlpSender::Grpc {
                    channel: endpoint.connect_lazy(),
                    headers,
                    gzip,
                    timeout: config.timeout,
                })
            }
            OtlpProtocol::HttpProtobuf => Ok(OtlpSender::Http {
                client: http_client(name, config)?,
                url: config.otlp_http_url(),
                headers: header_map(name, config)?,
                gzip,
            }),
        }
    }

    /// Sends one payload.
    pub async fn send(&mut self, payload: Bytes) -> Result<Sent, SendError> {
        match self {
            OtlpSender::Grpc {
                channel,
                headers,
                gzip,
                timeout,
            } => {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                if *gzip {
                    grpc = grpc.send_compressed(CompressionEncoding::Gzip);
                }
                grpc = grpc.accept_compressed(CompressionEncoding::Gzip);
                if let Err(err) = grpc.ready().await {
                    return Err(SendError::Retryable {
                        reason: "connect".to_owned(),
                        after: None,
                        detail: error_chain(&err),
                    });
                }
                let mut request = tonic::Request::new(payload);
                request.set_timeout(*timeout);
                for (key, value) in headers.iter() {
                    request.metadata_mut().insert(key.clone(), value.clone());
                }
                let path = PathAndQuery::from_static(EXPORT_PATH);
                match grpc.unary(request, path, RawCodec).await {
                    Ok(response) => Ok(sent(response.into_inner())),
                    Err(status) => Err(classify_grpc(&status)),
                }
            }
            OtlpSender::Http {
                client,
                url,
                headers,
                gzip,
            } => {
                let mut request = client
                    .post(url.as_str())
                    .headers(headers.clone())
                    .header("content-type", "application/x-protobuf");
                let body = if *gzip {
                    request = request.header("content-encoding", "gzip");
                    gzip_bytes(&payload)
                } else {
                    payload
                };
                let response = request.body(body).send().await.map_err(transport_error)?;
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.bytes().await.map_err(transport_error)?;
                if (200..300).contains(&status) {
                    let answer = ExportTraceServiceResponse::decode(body).unwrap_or_default();
                    Ok(sent(answer))
                } else {
                    Err(classify_http(
                        status,
                        retry_after.as_deref(),
                        &String::from_utf8_lossy(&body),
                    ))
                }
            }
        }
    }
}

fn sent(response: ExportTraceServiceResponse) -> Sent {
    match response.partial_success {
        Some(partial) if partial.rejected_spans > 0 => Sent {
            rejected: u64::try_from(partial.rejected_spans).unwrap_or(0),
            message: partial.error_message,
        },
        _ => Sent::default(),
    }
}

/// A connection or timeout failure of an HTTP client: retryable.
pub fn transport_error(err: reqwest::Error) -> SendError {
    let reason = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "io"
    };
    SendError::Retryable {
        reason: reason.to_owned(),
        after: None,
        detail: error_chain(&err),
    }
}

/// The HTTP client of an exporter: timeout, TLS roots and client identity.
pub fn http_client(name: &str, config: &ExporterConfig) -> Result<reqwest::Client, ExportError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(config.timeout)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if let Some(ca) = &config.tls.ca_file {
        let cert = reqwest::Certificate::from_pem(&read_file(name, ca)?).map_err(|e| {
            ExportError::Endpoint {
                exporter: name.to_owned(),
                endpoint: config.endpoint.clone(),
                message: format!("tls.ca_file: {e}"),
            }
        })?;
        builder = builder.add_root_certificate(cert);
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
        let mut pem = read_file(name, cert)?;
        pem.extend(read_file(name, key)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ExportError::Endpoint {
            exporter: name.to_owned(),
            endpoint: config.endpoint.clone(),
            message: format!("tls.cert_file/key_file: {e}"),
        })?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| ExportError::Endpoint {
        exporter: name.to_owned(),
        endpoint: config.endpoint.clone(),
        message: e.to_string(),
    })
}

/// The configured headers as an HTTP header map.
pub fn header_map(
    name: &str,
    config: &ExporterConfig,
) -> Result<reqwest::header::HeaderMap, ExportError> {
    let mut map = reqwest::header::HeaderMap::new();
    for (key, value) in &config.headers {
        let invalid = |what: &str| ExportError::Endpoint {
            exporter: name.to_owned(),
            endpoint: config.endpoint.clone(),
            message: format!("header {key:?}: {what}"),
        };
        let key = reqwest::header::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| invalid("not a valid name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| invalid("not a valid value"))?;
        value.set_sensitive(true);
        map.insert(key, value);
    }
    Ok(map)
}

/// gzip of a payload (into memory; payloads are bounded by the batch size).
pub fn gzip_bytes(payload: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(payload.len() / 4),
        flate2::Compression::fast(),
    );
    // ok: writing to a Vec cannot fail.
    let _ = encoder.write_all(payload);
    encoder.finish().unwrap_or_default().into()
}

/// Sends bytes as they are; decodes the response with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("cannot decode the response: {e}")))
    }
}
