//! Arbitrary label values through both exposition formats: every line of the output must
//! read, by the formats' grammar, as a descriptor (`# HELP`, `# TYPE`, `# UNIT`), a
//! sample, or the final `# EOF`; the samples must be exactly those written; and every
//! label value must read back as written. The input is split at 0xFF bytes into up to 16
//! values, each read as UTF-8 (invalid bytes replaced), so any string reaches the
//! encoder: `#`, `{`, `"`, `\`, line feeds, `# EOF`, control bytes.
//!
//! The reader below is written from the grammar of the two formats (Prometheus
//! `exposition_formats.md`, OpenMetrics 1.0's ABNF), not from the encoder. The crate
//! `openmetrics-parser` was tried as the oracle and refused valid input (a family without
//! samples followed by another, `# UNIT` on a histogram, a label value starting with a
//! space), so `tests/exposition.rs` checks the real exposition with promtool and the
//! official Python parsers instead, and this target checks the encoder at speed.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mcpcol::metrics::exposition::encoder::{Descriptor, Encoder, Exemplar, Number};
use mcpcol::metrics::exposition::Format;

const CALLS: Descriptor = Descriptor::counter("calls", "Calls \"by\" tool\\name\nsecond line");
const DURATION: Descriptor =
    Descriptor::histogram("duration_seconds", "Duration.", Some("seconds"));

fn render(format: Format, values: &BTreeSet<String>) -> String {
    let mut out = String::new();
    let mut encoder = Encoder::new(&mut out, format);
    encoder.family(&CALLS);
    for (i, value) in values.iter().enumerate() {
        let labels = [("tool", value.as_str()), ("kind", "x")];
        encoder.sample("calls", "_total", &labels, None, Number::Count(i as u64), None);
        encoder.created("calls", &labels, 1.5);
    }
    encoder.family(&DURATION);
    let exemplar = Exemplar {
        trace_id: [7; 16],
        span_id: [9; 8],
        value: 0.25,
    };
    for value in values {
        let labels = [("tool", value.as_str())];
        encoder.sample("duration_seconds", "_bucket", &labels, Some(0.5), Number::Count(1), Some(&exemplar));
        encoder.sample("duration_seconds", "_bucket", &labels, Some(f64::INFINITY), Number::Count(2), None);
        encoder.sample("duration_seconds", "_sum", &labels, None, Number::Float(1.25), None);
        encoder.sample("duration_seconds", "_count", &labels, None, Number::Count(2), None);
    }
    encoder.finish();
    out
}

/// One sample line read by the grammar: its name and labels.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
}

/// `name{label="escaped",...} value[ # {labels} value]`, or why not.
fn sample(line: &str, format: Format) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .ok_or("no value")?;
    let name = line[..name_end].to_owned();
    if name.is_empty() {
        return Err("no metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            let eq = rest.find('=').ok_or("label without =")?;
            let label = &rest[..eq];
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {label:?}"));
            }
            rest = rest[eq + 1..].strip_prefix('"').ok_or("unquoted value")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next().ok_or("unterminated value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("unknown escape \\{c}")),
                    },
                    (_, '\n') => return Err("raw line feed in a value".into()),
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_owned(), value));
            rest = &rest[end + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else {
                rest = rest.strip_prefix('}').ok_or("labels not closed")?;
                break;
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let (value, exemplar) = match rest.split_once(" # ") {
        Some((value, exemplar)) if format == Format::OpenMetrics => (value, Some(exemplar)),
        Some(_) => return Err("an exemplar in Prometheus text".into()),
        None => (rest, None),
    };
    if value.parse::<f64>().is_err() && !matches!(value, "+Inf" | "-Inf" | "NaN") {
        return Err(format!("bad value {value:?}"));
    }
    let expected = "{trace_id=\"07070707070707070707070707070707\",span_id=\"0909090909090909\"} 0.25";
    if exemplar.is_some_and(|e| e != expected) {
        return Err(format!("bad exemplar {exemplar:?}"));
    }
    Ok(Sample { name, labels })
}

/// Reads the whole exposition; returns its samples.
fn read(text: &str, format: Format) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the last line is terminated");
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    let mut samples = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(comment) = line.strip_prefix("# ") {
            let last = i == lines.len() - 1;
            match comment.split_once(' ').map_or(comment, |(word, _)| word) {
                "HELP" | "TYPE" => {}
                "UNIT" if format == Format::OpenMetrics => {}
                "EOF" if format == Format::OpenMetrics && last && comment == "EOF" => {}
                other => panic!("line {i}: unexpected comment {other:?}\n{text}"),
            }
            continue;
        }
        match sample(line, format) {
            Ok(sample) => samples.push(sample),
            Err(err) => panic!("line {i} {line:?}: {err}\n{text}"),
        }
    }
    if format == Format::OpenMetrics {
        assert_eq!(lines.last(), Some(&"# EOF"), "OpenMetrics ends with # EOF");
    }
    samples
}

fn tools(samples: &[Sample], name: &str) -> Vec<String> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| {
            s.labels
                .iter()
                .find(|(label, _)| label == "tool")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Values are unique per family (the registry never writes a label set twice), and an
    // empty value is not written at all (an empty label is an absent one).
    let values: BTreeSet<String> = data
        .split(|b| *b == 0xFF)
        .take(16)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let expected: Vec<String> = values.iter().cloned().collect();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = render(format, &values);
        let samples = read(&text, format);
        let per_value = if format == Format::OpenMetrics { 6 } else { 5 };
        assert_eq!(samples.len(), values.len() * per_value, "{text}");
        assert_eq!(tools(&samples, "calls_total"), expected, "{text}");
        assert_eq!(tools(&samples, "duration_seconds_count"), expected, "{text}");
    }
});
