//! When to retry an export, and how long to wait.
//!
//! Classification is a pure function of the response, per the OTLP specification:
//! gRPC `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`,
//! `DATA_LOSS` are retryable, `RESOURCE_EXHAUSTED` only with a `RetryInfo`; HTTP 429, 502,
//! 503, 504 are retryable; a connection that fails or times out is retryable; everything
//! else is permanent. A server's hint (`RetryInfo`, `Retry-After` in seconds or as an
//! HTTP date) is honoured; otherwise the wait grows exponentially (×1.5, capped) with
//! ±50 % jitter, until `max_elapsed` is spent.

use std::time::{Duration, SystemTime};

use tonic::Code;
use tonic_types::StatusExt;

use super::config::RetryConfig;

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying, after `after` if the server said.
    Retryable {
        /// Short reason, used as a metric label (`unavailable`, `http_503`, `connect`).
        reason: String,
        /// The server's hint.
        after: Option<Duration>,
        /// What failed, for the log: the server's message, or the error and its causes
        /// down to the OS error (`connection refused (os error 111)`).
        detail: String,
    },
    /// Not worth retrying: the spans are counted as failed.
    Permanent {
        /// Short reason, used as a metric label (`invalid_argument`, `http_400`).
        reason: String,
        /// What the server or the client library said.
        detail: String,
    },
}

/// The snake_case name of a gRPC code, as a metric label.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// An error and its causes, outermost first: `error trying to connect: tcp connect
/// error: Connection refused (os error 111)`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Classifies a gRPC status.
///
/// A status with a source was made here, from a transport failure (the connection
/// reset or closed mid-call, as when the downstream restarts): not an answer from the
/// downstream, so retried whatever its code (tonic says `UNKNOWN` "transport error"), or
/// a downstream restart would lose the batches in flight.
pub fn classify_grpc(status: &tonic::Status) -> SendError {
    if std::error::Error::source(status).is_some() {
        return SendError::Retryable {
            reason: "transport".to_owned(),
            after: None,
            detail: error_chain(status),
        };
    }
    let hint = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    let reason = code_name(status.code()).to_owned();
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => hint.is_some(),
        _ => false,
    };
    if retryable {
        SendError::Retryable {
            reason,
            after: hint,
            detail: format!("gRPC {}: {}", code_name(status.code()), status.message()),
        }
    } else {
        SendError::Permanent {
            reason,
            detail: status.message().to_owned(),
        }
    }
}

/// Classifies an HTTP answer that is not a success.
pub fn classify_http(status: u16, retry_after: Option<&str>, body: &str) -> SendError {
    let reason = format!("http_{status}");
    match status {
        429 | 502 | 503 | 504 => SendError::Retryable {
            reason,
            after: retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())),
            detail: format!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ),
        },
        _ => SendError::Permanent {
            reason,
            detail: body.chars().take(300).collect(),
        },
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The waits of one batch's attempts.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max_interval: Duration,
    budget: Duration,
    spent: Duration,
}

impl Backoff {
    /// Starts a new sequence of waits.
    pub fn new(config: &RetryConfig) -> Self {
        Backoff {
            next: config.initial_interval,
            max_interval: config.max_interval,
            budget: if config.enabled {
                config.max_elapsed
            } else {
                Duration::ZERO
            },
            spent: Duration::ZERO,
        }
    }

    /// The wait before the next attempt, or `None` when the budget is spent. A server
    /// hint replaces the computed wait (it is not jittered: the server asked for it).
    pub fn next_delay(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let delay = match hint {
            Some(hint) => hint,
            None => {
                let jitter = 0.5 + fastrand::f64(); // 0.5 ..= 1.5
                self.next.mul_f64(jitter)
            }
        };
        self.next = (self.next.mul_f64(1.5)).min(self.max_interval);
        if self.spent + delay > self.budget {
            return None;
        }
        self.spent += delay;
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn a_transport_failure_is_retried_whatever_its_code() {
        // What tonic makes of a connection reset mid-call: UNKNOWN "transport error".
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let status = tonic::Status::from_error(Box::new(reset));
        assert_eq!(status.code(), Code::Unknown);
        let SendError::Retryable {
            reason,
            after,
            detail,
        } = classify_grpc(&status)
        else {
            panic!("retryable");
        };
        assert_eq!((reason.as_str(), after), ("transport", None));
        assert!(
            detail.contains("reset"),
            "the cause is kept for the log: {detail}"
        );
        // The same code sent by the downstream is its answer: not retried.
        let answered = tonic::Status::new(Code::Unknown, "transport error");
        assert!(matches!(
            classify_grpc(&answered),
            SendError::Permanent { .. }
        ));
    }

    #[test]
    fn grpc_codes_follow_the_otlp_table() {
        for (code, retryable) in [
            (Code::Unavailable, true),
            (Code::DeadlineExceeded, true),
            (Code::Aborted, true),
            (Code::InvalidArgument, false),
            (Code::Unauthenticated, false),
            (Code::ResourceExhausted, false),
            (Code::Internal, false),
        ] {
            let got = classify_grpc(&tonic::Status::new(code, "x"));
            assert_eq!(
                matches!(got, SendError::Retryable { .. }),
                retryable,
                "{code:?}"
            );
        }
        let hinted = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(3))),
        );
        assert!(matches!(
            classify_grpc(&hinted),
            SendError::Retryable { reason, after: Some(d), .. }
                if reason == "resource_exhausted" && d == Duration::from_secs(3)
        ));
    }

    #[test]
    fn http_statuses_and_retry_after() {
        assert_eq!(
            classify_http(503, Some("7"), "busy"),
            SendError::Retryable {
                reason: "http_503".into(),
                after: Some(Duration::from_secs(7)),
                detail: "HTTP 503: busy".into(),
            }
        );
        assert!(matches!(
            classify_http(400, None, "bad"),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            classify_http(500, None, ""),
            SendError::Permanent { .. }
        ));
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_stops_at_the_budget() {
        let config = RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            max_elapsed: Duration::from_secs(20),
        };
        let mut backoff = Backoff::new(&config);
        let mut total = Duration::ZERO;
        let mut delays = Vec::new();
        while let Some(d) = backoff.next_delay(None) {
            assert!(
                d <= Duration::from_secs(6),
                "capped (4 s ×1.5 jitter): {d:?}"
            );
            total += d;
            delays.push(d);
        }
        assert!(total <= Duration::from_secs(20));
        assert!(delays.len() >= 4);
        let mut disabled = Backoff::new(&RetryConfig {
            enabled: false,
            ..config
        });
        assert_eq!(disabled.next_delay(None), None);
    }
}
