//! OTLP/HTTP sending: `POST {endpoint}/v1/traces` with `application/x-protobuf` bodies
//! (gzip-compressed once, before the run, when asked), answers decoded as
//! `ExportTraceServiceResponse` for `partial_success`.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};

use super::{error_chain, Answer, REQUEST_TIMEOUT};
use crate::LoadError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const PROTOBUF: &str = "application/x-protobuf";
/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";

/// `endpoint` with `/v1/traces` appended unless it already ends so.
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_owned()
    } else {
        format!("{base}{TRACES_PATH}")
    }
}

/// Checks that something listens at `endpoint`, then builds `connections` clients
/// (reqwest connects lazily, so the check is a plain TCP connect).
pub async fn connect(
    endpoint: &str,
    connections: usize,
) -> Result<Vec<reqwest::Client>, LoadError> {
    let invalid = |reason: String| LoadError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let url = reqwest::Url::parse(endpoint).map_err(|e| invalid(e.to_string()))?;
    if url.scheme() != "http" {
        return Err(invalid(format!(
            "only http:// is supported (mcpcol-load has no TLS), not {}://",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| invalid("no host".to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let refused = |reason: String| LoadError::Connect {
        endpoint: endpoint.to_owned(),
        reason,
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(refused(e.to_string())),
        Err(_) => return Err(refused(format!("no answer in {CONNECT_TIMEOUT:?}"))),
    }
    (0..connections.max(1))
        .map(|_| {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(|e| invalid(error_chain(&e)))
        })
        .collect()
}

/// gzip `payload` (level 6, as OTel SDKs do).
pub fn gzip(payload: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // ok: writing to a Vec cannot fail.
    let _ = encoder.write_all(payload);
    encoder.finish().unwrap_or_default().into()
}

/// One stream's HTTP client.
pub struct HttpSender {
    client: reqwest::Client,
    url: String,
    gzip: bool,
}

impl HttpSender {
    /// Posts to `url` with `client`; `gzip` says the bodies it gets are compressed.
    pub fn new(client: reqwest::Client, url: String, gzip: bool) -> HttpSender {
        HttpSender { client, url, gzip }
    }

    /// Posts one body and waits for the answer.
    pub async fn send(&mut self, body: Bytes) -> Answer {
        let mut request = self
            .client
            .post(self.url.as_str())
            .header(CONTENT_TYPE, PROTOBUF);
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Answer::NonOk("http:timeout".into()),
            Err(e) if e.is_connect() => return Answer::NonOk("http:connect".into()),
            Err(_) => return Answer::NonOk("http:error".into()),
        };
        let status = response.status();
        // Read the whole body either way, so the connection can carry the next request.
        let body = response.bytes().await.unwrap_or_default();
        if status != reqwest::StatusCode::OK {
            return Answer::NonOk(format!("http:{}", status.as_u16()));
        }
        let rejected = ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0));
        Answer::Ok { rejected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_appends_the_path_once() {
        assert_eq!(traces_url("http://h:4318"), "http://h:4318/v1/traces");
        assert_eq!(traces_url("http://h:4318/"), "http://h:4318/v1/traces");
        assert_eq!(
            traces_url("http://h:4318/v1/traces"),
            "http://h:4318/v1/traces"
        );
    }

    #[tokio::test]
    async fn https_is_refused_with_a_reason() {
        let err = connect("https://127.0.0.1:1", 1).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "endpoint https://127.0.0.1:1: only http:// is supported (mcpcol-load has no TLS), \
             not https://; use a URL such as http://127.0.0.1:4317 (gRPC) or \
             http://127.0.0.1:4318 (HTTP)"
        );
    }
}
