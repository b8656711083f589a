//! Writes metric families in one of the two text formats, escaping every value the way
//! that format requires.
//!
//! Both formats escape a label value's `\`, `"` and line feed (`\\`, `\"`, `\n`); a value
//! is otherwise written as it is, so any UTF-8 string survives (`#`, `{`, `}`, tabs, a
//! line that looks like `# EOF`). They differ in the rest, and each difference is one
//! `match` on the format here, never a rewrite of the other format's text:
//!
//! | | Prometheus text 0.0.4 | OpenMetrics 1.0 |
//! |---|---|---|
//! | counter `# TYPE`/`# HELP` name | `name_total` | `name` |
//! | `# HELP` escapes | `\\`, `\n` | `\\`, `\n`, `\"` |
//! | `# UNIT` | none | when the family has a unit |
//! | `_created` samples | none | counters and histograms |
//! | exemplars | none | `# {trace_id="…",span_id="…"} value` on buckets |
//! | end | | `# EOF` |

use std::fmt::Write;

use super::Format;

/// What a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Only goes up (reset at restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative buckets, a sum and a count.
    Histogram,
}

/// A family's name, help and type. Counters are named without `_total`, and a unit is
/// already the name's suffix (`mcp_payload_bytes`, unit `bytes`), as OpenMetrics wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The family name.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its type.
    pub kind: MetricType,
    /// Its unit, if any (the name ends with `_<unit>`).
    pub unit: Option<&'static str>,
}

impl Descriptor {
    /// A counter (`name` without `_total`).
    pub const fn counter(name: &'static str, help: &'static str) -> Self {
        Descriptor {
            name,
            help,
            kind: MetricType::Counter,
            unit: None,
        }
    }

    /// A gauge.
    pub const fn gauge(name: &'static str, help: &'static str) -> Self {
        Descriptor {
            name,
            help,
            kind: MetricType::Gauge,
            unit: None,
        }
    }

    /// A histogram; `name` ends with `_<unit>` when `unit` is given.
    pub const fn histogram(
        name: &'static str,
        help: &'static str,
        unit: Option<&'static str>,
    ) -> Self {
        Descriptor {
            name,
            help,
            kind: MetricType::Histogram,
            unit,
        }
    }
}

/// The label pairs of one series, visited in order. Empty values are not written: in
/// Prometheus an empty label is an absent one.
pub trait LabelSet {
    /// Calls `f` with each `(name, value)`.
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
}

impl LabelSet for () {
    fn for_each(&self, _: &mut dyn FnMut(&str, &str)) {}
}

impl<const N: usize> LabelSet for [(&str, &str); N] {
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self {
            f(name, value);
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer count.
    Count(u64),
    /// A signed integer (gauges).
    Int(i64),
    /// A float.
    Float(f64),
}

/// The trace behind a sample (OpenMetrics only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The operation's trace id.
    pub trace_id: [u8; 16],
    /// The operation's span id.
    pub span_id: [u8; 8],
    /// The value observed.
    pub value: f64,
}

/// Writes families into a `String`.
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut String,
    format: Format,
}

impl<'a> Encoder<'a> {
    /// An encoder of `format` appending to `out`.
    pub fn new(out: &'a mut String, format: Format) -> Self {
        Encoder { out, format }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `# HELP`, `# TYPE` (and `# UNIT`) of a family; its samples follow.
    pub fn family(&mut self, desc: &Descriptor) {
        let (suffix, kind) = match (self.format, desc.kind) {
            (Format::Prometheus, MetricType::Counter) => ("_total", "counter"),
            (_, MetricType::Counter) => ("", "counter"),
            (_, MetricType::Gauge) => ("", "gauge"),
            (_, MetricType::Histogram) => ("", "histogram"),
        };
        let out = &mut *self.out;
        out.push_str("# HELP ");
        out.push_str(desc.name);
        out.push_str(suffix);
        out.push(' ');
        for c in desc.help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if self.format == Format::OpenMetrics => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push_str("\n# TYPE ");
        out.push_str(desc.name);
        out.push_str(suffix);
        out.push(' ');
        out.push_str(kind);
        out.push('\n');
        if let (Format::OpenMetrics, Some(unit)) = (self.format, desc.unit) {
            out.push_str("# UNIT ");
            out.push_str(desc.name);
            out.push(' ');
            out.push_str(unit);
            out.push('\n');
        }
    }

    /// One sample line: `name{labels[,le]} value[ # {exemplar} value]`. `le` is a bucket
    /// bound; the exemplar is written only in OpenMetrics.
    pub fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &dyn LabelSet,
        le: Option<f64>,
        value: Number,
        exemplar: Option<&Exemplar>,
    ) {
        let out = &mut *self.out;
        out.push_str(name);
        out.push_str(suffix);
        let mut first = true;
        let mut open = |out: &mut String| {
            out.push(if first { '{' } else { ',' });
            first = false;
        };
        labels.for_each(&mut |label, value| {
            if !value.is_empty() {
                open(out);
                out.push_str(label);
                out.push_str("=\"");
                push_escaped(out, value);
                out.push('"');
            }
        });
        if let Some(bound) = le {
            open(out);
            out.push_str("le=\"");
            push_float(out, bound);
            out.push('"');
        }
        if !first {
            out.push('}');
        }
        out.push(' ');
        push_number(out, value);
        if let (Format::OpenMetrics, Some(exemplar)) = (self.format, exemplar) {
            out.push_str(" # {trace_id=\"");
            push_hex(out, &exemplar.trace_id);
            out.push_str("\",span_id=\"");
            push_hex(out, &exemplar.span_id);
            out.push_str("\"} ");
            push_float(out, exemplar.value);
        }
        out.push('\n');
    }

    /// A `_created` sample (OpenMetrics only; Prometheus text has none).
    pub fn created(&mut self, name: &str, labels: &dyn LabelSet, unix_seconds: f64) {
        if self.format == Format::OpenMetrics {
            self.sample(
                name,
                "_created",
                labels,
                None,
                Number::Float(unix_seconds),
                None,
            );
        }
    }

    /// Ends the exposition (`# EOF` in OpenMetrics).
    pub fn finish(self) {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

/// A label value with `\`, `"` and line feeds escaped: the only escapes both formats
/// define, and the only characters that can end a value or a line early.
fn push_escaped(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(at) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// A float as both formats read it: `+Inf`, `-Inf`, `NaN`, else Rust's shortest form
/// that reads back to the same value (`1.0`, `0.01`, `1e-7`).
fn push_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value:?}");
    }
}

fn push_number(out: &mut String, value: Number) {
    match value {
        Number::Count(n) => {
            let _ = write!(out, "{n}");
        }
        Number::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Number::Float(f) => push_float(out, f),
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: Format, value: &str) -> String {
        let mut out = String::new();
        let mut encoder = Encoder::new(&mut out, format);
        encoder.family(&Descriptor::counter(
            "calls",
            "Calls \"made\"\\ here\nand there",
        ));
        encoder.sample(
            "calls",
            "_total",
            &[("tool", value), ("empty", "")],
            None,
            Number::Count(3),
            None,
        );
        encoder.created("calls", &[("tool", value)], 1.5);
        encoder.finish();
        out
    }

    #[test]
    fn label_values_escape_only_what_ends_a_value_or_a_line() {
        let value = "a # {b} \"q\" \\ \n# EOF\t";
        assert_eq!(
            render(Format::Prometheus, value),
            "# HELP calls_total Calls \"made\"\\\\ here\\nand there\n# TYPE calls_total counter\n\
             calls_total{tool=\"a # {b} \\\"q\\\" \\\\ \\n# EOF\t\"} 3\n"
        );
        assert_eq!(
            render(Format::OpenMetrics, value),
            "# HELP calls Calls \\\"made\\\"\\\\ here\\nand there\n# TYPE calls counter\n\
             calls_total{tool=\"a # {b} \\\"q\\\" \\\\ \\n# EOF\t\"} 3\n\
             calls_created{tool=\"a # {b} \\\"q\\\" \\\\ \\n# EOF\t\"} 1.5\n# EOF\n"
        );
    }

    #[test]
    fn buckets_units_and_exemplars() {
        let exemplar = Exemplar {
            trace_id: [0xab; 16],
            span_id: [1; 8],
            value: 0.25,
        };
        for (format, expected) in [
            (
                Format::Prometheus,
                "# HELP d_seconds D.\n# TYPE d_seconds histogram\nd_seconds_bucket{s=\"x\",le=\"0.5\"} 1\n\
                 d_seconds_bucket{le=\"+Inf\"} 2\n",
            ),
            (
                Format::OpenMetrics,
                "# HELP d_seconds D.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                 d_seconds_bucket{s=\"x\",le=\"0.5\"} 1 # {trace_id=\"abababababababababababababababab\",span_id=\"0101010101010101\"} 0.25\n\
                 d_seconds_bucket{le=\"+Inf\"} 2\n# EOF\n",
            ),
        ] {
            let mut out = String::new();
            let mut encoder = Encoder::new(&mut out, format);
            encoder.family(&Descriptor::histogram("d_seconds", "D.", Some("seconds")));
            encoder.sample("d_seconds", "_bucket", &[("s", "x")], Some(0.5), Number::Count(1), Some(&exemplar));
            encoder.sample("d_seconds", "_bucket", &(), Some(f64::INFINITY), Number::Count(2), None);
            encoder.finish();
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn floats_read_back_as_themselves() {
        let mut out = String::new();
        for v in [1.0, 0.01, 300.0, 1e-7, 1e21, f64::NEG_INFINITY, f64::NAN] {
            push_float(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "1.0 0.01 300.0 1e-7 1e21 -Inf NaN ");
    }
}
