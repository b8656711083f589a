//! `GET /metrics`: the registry as Prometheus text (0.0.4, the default) or OpenMetrics
//! 1.0 (when the scraper's `Accept` asks for `application/openmetrics-text`).
//!
//! Each format is written by the same structured [`encoder`], which escapes every label
//! value as that format requires; neither format is derived from the other's text.

pub mod encoder;

use super::family::Registry;

/// Content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which exposition format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when it is listed with a
    /// non-zero quality, Prometheus text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let wants_openmetrics = accept.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let zero_quality = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !zero_quality
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The response `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_TEXT,
            Format::OpenMetrics => OPENMETRICS_TEXT,
        }
    }
}

/// What a scrape asks for, and whether its scraper stores samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scrape {
    /// The format to write.
    pub format: Format,
    /// The scraper stores what it reads (it sent `X-Prometheus-Scrape-Timeout-Seconds`,
    /// as Prometheus, Grafana Alloy, vmagent and the OpenTelemetry Collector's
    /// prometheus receiver do): the scrape that makes new series visible.
    pub storing: bool,
    /// New counters and histograms are written at zero to their first storing scrape
    /// (`metrics.new_series_at_zero`).
    pub zero_new_series: bool,
}

/// The header every Prometheus-compatible scraper sends, and a person's curl does not.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

impl Scrape {
    /// A scrape by something that only reads (a person, a test, the API).
    pub fn reading(format: Format) -> Self {
        Scrape {
            format,
            storing: false,
            zero_new_series: true,
        }
    }
}

/// Encodes `registry` as `scrape` asks.
pub fn render(registry: &Registry, scrape: &Scrape) -> String {
    let mut text = String::with_capacity(16 * 1024);
    let mut encoder = encoder::Encoder::new(&mut text, scrape.format);
    registry.collect(&mut encoder, scrape);
    encoder.finish();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_negotiation() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0,text/plain")),
            Format::Prometheus
        );
    }
}
