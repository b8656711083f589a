//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`.
//!
//! In: protobuf (`application/x-protobuf`) or OTLP/JSON (`application/json`) bodies,
//! identity, gzip or zstd. Out: decoded requests to the [`Receiver`]; the answer is in the
//! request's own encoding. Status codes follow the OTLP specification:
//!
//! | case | status | body |
//! |---|---|---|
//! | accepted (maybe partially) | 200 | `Export*ServiceResponse` |
//! | undecodable body, bad compression | 400 | `google.rpc.Status` + `BadRequest` |
//! | wrong path | 404 | `google.rpc.Status` |
//! | not `POST` | 405 + `Allow: POST` | `google.rpc.Status` |
//! | body over the limit (before or after decompression) | 413 | `google.rpc.Status` |
//! | `Content-Type`/`Content-Encoding` OTLP does not define | 415 | `google.rpc.Status` |
//! | queue full | 503 + `Retry-After` | `google.rpc.Status` + `RetryInfo` |

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use serde_json::json;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

use super::limits::{decompress_capped, ContentEncoding, DecompressError};
use super::otlp_json::{self, JsonDecodeError};
use super::{Accepted, Receiver, Refusal};
use crate::auth::Tenant;
use crate::telemetry::{RefusalReason, Transport};
use crate::trimmed::TraceRequest;

/// Path of trace exports.
pub const TRACES_PATH: &str = "/v1/traces";
/// Path of log exports.
pub const LOGS_PATH: &str = "/v1/logs";
/// Path of metric exports.
pub const METRICS_PATH: &str = "/v1/metrics";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// How the body (and so the answer) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn from_content_type(value: Option<&HeaderValue>) -> Option<Self> {
        let media = value?
            .to_str()
            .ok()?
            .split(';')
            .next()?
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            PROTOBUF => Some(Encoding::Protobuf),
            JSON => Some(Encoding::Json),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }
}

/// One OTLP signal served over HTTP.
trait HttpSignal: Send + Sync + 'static {
    /// Name used in messages.
    const NAME: &'static str;
    /// The decoded request.
    type Request;
    /// Decodes a protobuf body (within the receiver's decode caps).
    fn decode_protobuf(receiver: &Receiver, body: Bytes) -> Result<Self::Request, String>;
    /// Decodes an OTLP/JSON body (within the receiver's decode caps).
    fn decode_json(receiver: &Receiver, body: &[u8]) -> Result<Self::Request, JsonDecodeError>;
    /// Hands the request to the receiver; the answer as protobuf and as JSON.
    fn export(
        receiver: &Receiver,
        request: Self::Request,
        tenant: Tenant,
    ) -> Result<Answer, Refusal>;
}

/// Decodes a whole protobuf message (logs, metrics).
fn decode_message<M: Message + Default>(body: Bytes) -> Result<M, String> {
    M::decode(body).map_err(|err| err.to_string())
}

/// A success answer in both encodings; only one is sent.
struct Answer {
    protobuf: Vec<u8>,
    json: serde_json::Value,
}

fn json_partial(accepted: &Accepted, rejected_key: &str) -> serde_json::Value {
    if accepted.rejected == 0 {
        return json!({});
    }
    // proto3 JSON writes int64 as a decimal string.
    json!({ "partialSuccess": {
        rejected_key: accepted.rejected.to_string(),
        "errorMessage": accepted.error_message,
    }})
}

struct Traces;
struct Logs;
struct Metrics;

impl HttpSignal for Traces {
    const NAME: &'static str = "ExportTraceServiceRequest";
    /// The trimmed request, the protobuf bytes to forward, and the attributes not kept.
    type Request = (TraceRequest, Bytes, u64);

    fn decode_protobuf(receiver: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        let (request, not_kept) = receiver
            .decode_traces(body.clone())
            .map_err(|e| e.to_string())?;
        Ok((request, body, not_kept))
    }

    fn decode_json(receiver: &Receiver, body: &[u8]) -> Result<Self::Request, JsonDecodeError> {
        // JSON is decoded whole, then encoded once: the protobuf is what is forwarded.
        let full = otlp_json::decode_traces(body)?;
        let bytes = Bytes::from(full.encode_to_vec());
        let (request, not_kept) =
            receiver
                .decode_traces(bytes.clone())
                .map_err(|err| JsonDecodeError::Schema {
                    path: "resourceSpans".to_owned(),
                    message: err.to_string(),
                })?;
        Ok((request, bytes, not_kept))
    }

    fn export(
        receiver: &Receiver,
        (request, raw, not_kept): Self::Request,
        tenant: Tenant,
    ) -> Result<Answer, Refusal> {
        let accepted = receiver.export_traces(Transport::Http, request, raw, not_kept, tenant)?;
        let response = ExportTraceServiceResponse {
            partial_success: (accepted.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: accepted.rejected,
                error_message: accepted.error_message.clone(),
            }),
        };
        Ok(Answer {
            protobuf: response.encode_to_vec(),
            json: json_partial(&accepted, "rejectedSpans"),
        })
    }
}

impl HttpSignal for Logs {
    const NAME: &'static str = "ExportLogsServiceRequest";
    type Request = ExportLogsServiceRequest;

    fn decode_protobuf(_: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        decode_message(body)
    }

    fn decode_json(_: &Receiver, body: &[u8]) -> Result<Self::Request, JsonDecodeError> {
        otlp_json::decode_logs(body)
    }

    fn export(
        receiver: &Receiver,
        request: Self::Request,
        _tenant: Tenant,
    ) -> Result<Answer, Refusal> {
        let accepted = receiver.export_logs(Transport::Http, request);
        let response = ExportLogsServiceResponse {
            partial_success: (accepted.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: accepted.rejected,
                error_message: accepted.error_message.clone(),
            }),
        };
        Ok(Answer {
            protobuf: response.encode_to_vec(),
            json: json_partial(&accepted, "rejectedLogRecords"),
        })
    }
}

impl HttpSignal for Metrics {
    const NAME: &'static str = "ExportMetricsServiceRequest";
    type Request = ExportMetricsServiceRequest;

    fn decode_protobuf(_: &Receiver, body: Bytes) -> Result<Self::Request, String> {
        decode_message(body)
    }

    fn decode_json(_: &Receiver, body: &[u8]) -> Result<Self::Request, JsonDecodeError> {
        otlp_json::decode_metrics(body)
    }

    fn export(
        receiver: &Receiver,
        request: Self::Request,
        _tenant: Tenant,
    ) -> Result<Answer, Refusal> {
        let accepted = receiver.export_metrics(Transport::Http, &request);
        Ok(Answer {
            protobuf: ExportMetricsServiceResponse {
                partial_success: None,
            }
            .encode_to_vec(),
            json: json_partial(&accepted, "rejectedDataPoints"),
        })
    }
}

#[derive(Clone)]
struct HttpState {
    receiver: Arc<Receiver>,
    max_body_bytes: usize,
}

/// The OTLP/HTTP routes, refusing bodies over `max_body_bytes` (before and after
/// decompression).
pub fn router(receiver: Arc<Receiver>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export::<Traces>))
        .route(LOGS_PATH, post(export::<Logs>))
        .route(METRICS_PATH, post(export::<Metrics>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(HttpState {
            receiver,
            max_body_bytes,
        })
}

async fn export<S: HttpSignal>(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let receiver = &state.receiver;
    let limit = state.max_body_bytes;
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let tenant = match receiver.authorize(Transport::Http, authorization) {
        Ok(tenant) => tenant,
        Err(message) => {
            let encoding = Encoding::from_content_type(headers.get(header::CONTENT_TYPE))
                .unwrap_or(Encoding::Protobuf);
            let mut response = status_response(
                encoding,
                StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                message.to_owned(),
                None,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let Some(encoding) = Encoding::from_content_type(headers.get(header::CONTENT_TYPE)) else {
        let message = format!(
            "Content-Type {:?} is not OTLP; use {PROTOBUF} or {JSON}",
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)")
        );
        return refuse(
            receiver,
            RefusalReason::UnsupportedMediaType,
            Encoding::Protobuf,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message,
        );
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let Some(compression) = ContentEncoding::parse(content_encoding) else {
        let message = format!(
            "Content-Encoding {:?} is not supported; use gzip, zstd or none",
            content_encoding.unwrap_or_default()
        );
        return refuse(
            receiver,
            RefusalReason::UnsupportedMediaType,
            encoding,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message,
        );
    };
    // Over the memory limit, the body is neither read nor decoded (an OTLP/JSON tree can
    // take many times the body's size).
    if let Err(Refusal::Throttled {
        message,
        retry_after,
    }) = receiver.admit_memory(Transport::Http)
    {
        return throttled(encoding, message, retry_after);
    }
    let too_large = || {
        refuse(
            receiver,
            RefusalReason::TooLarge,
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than the {limit}-byte limit \
                 (receivers.otlp.http.max_request_body_size_mib, before and after \
                 decompression); send smaller batches"
            ),
        )
    };
    // A declared length over the limit is refused before reading a byte of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return too_large();
    }
    let raw = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(err) => {
            return refuse(
                receiver,
                RefusalReason::Malformed,
                encoding,
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {err}"),
            )
        }
    };
    let body = match decompress_capped(compression, raw, limit) {
        Ok(body) => body,
        Err(DecompressError::TooLarge { .. }) => return too_large(),
        Err(err @ DecompressError::Corrupt { .. }) => {
            return refuse(
                receiver,
                RefusalReason::Malformed,
                encoding,
                StatusCode::BAD_REQUEST,
                err.to_string(),
            )
        }
    };
    let decoded = match encoding {
        Encoding::Protobuf => S::decode_protobuf(receiver, body)
            .map_err(|err| format!("cannot decode the body as a protobuf {}: {err}", S::NAME)),
        Encoding::Json => S::decode_json(receiver, &body)
            .map_err(|err| format!("cannot decode the body as an OTLP/JSON {}: {err}", S::NAME)),
    };
    let request = match decoded {
        Ok(request) => request,
        Err(message) => {
            return refuse(
                receiver,
                RefusalReason::Malformed,
                encoding,
                StatusCode::BAD_REQUEST,
                message,
            )
        }
    };
    match S::export(receiver, request, tenant) {
        Ok(answer) => {
            let body = match encoding {
                Encoding::Protobuf => answer.protobuf,
                Encoding::Json => answer.json.to_string().into_bytes(),
            };
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(Refusal::Throttled {
            message,
            retry_after,
        }) => throttled(encoding, message, retry_after),
        Err(Refusal::TooLarge { message }) => status_response(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            message,
            None,
        ),
        Err(Refusal::Malformed { message }) => status_response(
            encoding,
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            message,
            None,
        ),
    }
}

/// Counts a refused request and answers it.
fn refuse(
    receiver: &Receiver,
    reason: RefusalReason,
    encoding: Encoding,
    status: StatusCode,
    message: String,
) -> Response {
    receiver
        .telemetry()
        .request_refused(Transport::Http, reason, &message);
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        _ => Code::InvalidArgument,
    };
    let detail = (reason == RefusalReason::Malformed).then(|| Detail::BadRequest(message.clone()));
    status_response(encoding, status, code, message, detail)
}

fn throttled(encoding: Encoding, message: String, retry_after: Duration) -> Response {
    // Retry-After counts whole seconds; never tell a client 0.
    let seconds = retry_after.as_secs().max(1);
    let mut response = status_response(
        encoding,
        StatusCode::SERVICE_UNAVAILABLE,
        Code::Unavailable,
        message,
        Some(Detail::RetryAfter(Duration::from_secs(seconds))),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The detail a `google.rpc.Status` body carries.
enum Detail {
    /// `google.rpc.BadRequest` with one violation on the body.
    BadRequest(String),
    /// `google.rpc.RetryInfo`.
    RetryAfter(Duration),
}

/// A `google.rpc.Status` body in the request's encoding.
fn status_response(
    encoding: Encoding,
    status: StatusCode,
    code: Code,
    message: String,
    detail: Option<Detail>,
) -> Response {
    let body = match encoding {
        Encoding::Protobuf => {
            let details = match detail {
                Some(Detail::BadRequest(description)) => {
                    ErrorDetails::with_bad_request_violation("body", description)
                }
                Some(Detail::RetryAfter(delay)) => ErrorDetails::with_retry_info(Some(delay)),
                None => ErrorDetails::new(),
            };
            // tonic-types encodes the whole google.rpc.Status (code, message, details)
            // as the gRPC status details; that is exactly the OTLP/HTTP error body.
            tonic::Status::with_error_details(code, message, details)
                .details()
                .to_vec()
        }
        Encoding::Json => {
            let details: Vec<serde_json::Value> = match detail {
                Some(Detail::BadRequest(description)) => vec![json!({
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{ "field": "body", "description": description }],
                })],
                Some(Detail::RetryAfter(delay)) => vec![json!({
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": format!("{}s", delay.as_secs()),
                })],
                None => Vec::new(),
            };
            json!({ "code": code as i32, "message": message, "details": details })
                .to_string()
                .into_bytes()
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        Bytes::from(body),
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    status_response(
        Encoding::Protobuf,
        StatusCode::NOT_FOUND,
        Code::NotFound,
        format!(
            "no OTLP endpoint at {}; use {TRACES_PATH}, {LOGS_PATH} or {METRICS_PATH}",
            uri.path()
        ),
        None,
    )
}

async fn method_not_allowed(method: axum::http::Method) -> Response {
    let mut response = status_response(
        Encoding::Protobuf,
        StatusCode::METHOD_NOT_ALLOWED,
        Code::Unimplemented,
        format!("{method} is not allowed; OTLP/HTTP exports use POST"),
        None,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
