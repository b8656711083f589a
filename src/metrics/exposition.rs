//! `GET /metrics`: the registry as Prometheus text (0.0.4, the default) or OpenMetrics
//! 1.0 (when the scraper's `Accept` asks for `application/openmetrics-text`).
//!
//! `prometheus-client` encodes OpenMetrics only. The Prometheus text format differs in
//! three ways that matter to parsers such as `promtool check metrics`: a counter's
//! `# TYPE`/`# HELP` name carries the `_total` suffix, there are no `# UNIT` lines or
//! exemplars, and there is no `# EOF`. [`openmetrics_to_prometheus`] makes those changes
//! line by line on the encoded text.

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

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

/// Encodes `registry` in `format`.
pub fn render(registry: &Registry, format: Format) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(16 * 1024);
    encode(&mut text, registry)?;
    Ok(match format {
        Format::OpenMetrics => text,
        Format::Prometheus => openmetrics_to_prometheus(&text),
    })
}

/// Rewrites OpenMetrics text as Prometheus text 0.0.4 (see the module docs), in one pass:
/// a `# HELP` line is held until its `# TYPE` line says whether the name needs `_total`.
pub fn openmetrics_to_prometheus(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some(help) = pending_help.replace(rest) {
                push_line(&mut out, &["# HELP ", help]);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let (suffix, kind) = match kind {
                "counter" => ("_total", "counter"),
                "unknown" => ("", "untyped"),
                other => ("", other),
            };
            if let Some(help) = pending_help.take() {
                let text = help.strip_prefix(name).unwrap_or(help);
                push_line(&mut out, &["# HELP ", name, suffix, text]);
            }
            push_line(&mut out, &["# TYPE ", name, suffix, " ", kind]);
            continue;
        }
        if let Some(help) = pending_help.take() {
            push_line(&mut out, &["# HELP ", help]);
        }
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        // Samples: drop the exemplar (" # {...} value [ts]") which 0.0.4 cannot carry.
        let sample = line.find(" # {").map_or(line, |at| &line[..at]);
        push_line(&mut out, &[sample]);
    }
    if let Some(help) = pending_help {
        push_line(&mut out, &["# HELP ", help]);
    }
    out
}

fn push_line(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
    out.push('\n');
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

    #[test]
    fn counters_gain_total_in_type_and_help() {
        let om = "# HELP a_spans Spans.\n# TYPE a_spans counter\na_spans_total{t=\"x\"} 3\n\
                  # HELP g Gauge.\n# TYPE g gauge\ng 1\n# HELP h Hist.\n# TYPE h histogram\n# UNIT h seconds\nh_bucket{le=\"1.0\"} 1 # {trace_id=\"ab\"} 0.5\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(om),
            "# HELP a_spans_total Spans.\n# TYPE a_spans_total counter\na_spans_total{t=\"x\"} 3\n\
             # HELP g Gauge.\n# TYPE g gauge\ng 1\n# HELP h Hist.\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\n"
        );
    }
}
