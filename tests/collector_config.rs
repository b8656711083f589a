//! collector-config/: the Prometheus config and alert rules pass promtool (and the
//! rules' unit tests), and the Grafana dashboard and the rules only name metrics mcpcol
//! really exposes.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{peers, TestCollector};

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("collector-config")
}

fn promtool(args: &[&str]) {
    let Some(promtool) = peers::debian_binary("promtool", "prometheus") else {
        return;
    };
    let out = Command::new(promtool)
        .args(args)
        .current_dir(config_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_config_and_rules_pass_promtool() {
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);
}

/// Every metric name mcpcol can expose, from the `# TYPE` lines of a fresh collector
/// (families are listed even before they have series), with the sample suffixes.
async fn exposed_names() -> HashSet<String> {
    let mcpcol = TestCollector::start(&["metrics.spanmetrics_compat=true"]).await;
    let text = mcpcol.scrape().await.text;
    let mut names = HashSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
        names.insert(name.to_owned());
        if kind == "histogram" {
            for suffix in ["_bucket", "_count", "_sum"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    assert!(
        names.contains("mcp_server_operation_duration_seconds_bucket"),
        "{names:?}"
    );
    assert!(names.contains("mcp_session_operations_total"), "{names:?}");
    names
}

/// Metric names in a PromQL expression: identifiers outside label matchers (`{…}`),
/// outside grouping lists (`by (…)`, `without (…)`, `on (…)`, `ignoring (…)`,
/// `group_left (…)`, `group_right (…)`) and not the label argument of `label_values`.
fn metric_names(expr: &str) -> Vec<String> {
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let bytes = expr.as_bytes();
    let mut names = Vec::new();
    let (mut braces, mut grouping_depth, mut parens) = (0usize, None::<usize>, 0usize);
    let mut previous_word = String::new();
    let mut label_values_arg: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
            {
                i += 1;
            }
            let word = &expr[start..i];
            let is_label =
                braces > 0 || grouping_depth.is_some() || label_values_arg == Some(parens);
            if !is_label && (word.starts_with("mcp") || word.starts_with("traces_span_metrics_")) {
                names.push(word.to_owned());
            }
            previous_word = word.to_owned();
            continue;
        }
        match c {
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'(' => {
                parens += 1;
                if GROUPING.contains(&previous_word.as_str()) && grouping_depth.is_none() {
                    grouping_depth = Some(parens);
                }
            }
            b')' => {
                if grouping_depth == Some(parens) {
                    grouping_depth = None;
                }
                if label_values_arg == Some(parens) {
                    label_values_arg = None;
                }
                parens = parens.saturating_sub(1);
            }
            b',' if previous_word_is_label_values(expr, i) => label_values_arg = Some(parens),
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            previous_word.clear();
        }
        i += 1;
    }
    names
}

/// Whether the comma at `at` separates `label_values(metric, label)`'s arguments.
fn previous_word_is_label_values(expr: &str, at: usize) -> bool {
    expr[..at]
        .rfind("label_values(")
        .is_some_and(|open| !expr[open..at].contains(')'))
}

#[test]
fn metric_names_skip_labels() {
    assert_eq!(
        metric_names(
            r#"sum by (mcp_method_name) (rate(mcp_x_count{mcp_session_id="mcp_y"}[5m])) / on(service_name) mcpcol_z"#
        ),
        ["mcp_x_count", "mcpcol_z"]
    );
    assert_eq!(
        metric_names("label_values(mcp_a_count, mcp_method_name)"),
        ["mcp_a_count"]
    );
}

fn collect_strings(value: &serde_json::Value, keys: &[&str], out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if keys.contains(&k.as_str()) {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                }
                collect_strings(v, keys, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, keys, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_names_only_exposed_metrics() {
    let exposed = exposed_names().await;
    let text = std::fs::read_to_string(config_dir().join("grafana/mcp-overview.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    collect_strings(&dashboard["panels"], &["expr"], &mut exprs);
    collect_strings(&dashboard["templating"], &["definition"], &mut exprs);
    assert!(exprs.len() >= 20, "{} expressions", exprs.len());
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "names no mcpcol metric: {expr}");
        for name in names {
            assert!(
                exposed.contains(&name),
                "{name} is not exposed by mcpcol (in {expr})"
            );
        }
    }
    // Latency panels show exemplars, which link to traces.
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap_or_default().to_lowercase();
        if title.contains("latency") {
            for target in panel["targets"].as_array().unwrap() {
                assert_eq!(target["exemplar"], true, "{title}");
            }
        }
    }
}

#[tokio::test]
async fn the_alert_rules_name_only_exposed_metrics() {
    let exposed = exposed_names().await;
    let text = std::fs::read_to_string(config_dir().join("alerts.yml")).unwrap();
    let rules: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    collect_strings(&rules, &["expr"], &mut exprs);
    assert_eq!(exprs.len(), 6);
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                exposed.contains(&name),
                "{name} is not exposed by mcpcol (in {expr})"
            );
        }
    }
}

/// The outcome of loading the defaults with one key set.
fn load_with(set: &str) -> Result<mcpcol::config::Config, String> {
    let set = mcpcol::config::Override::parse(set).unwrap();
    mcpcol::config::load(None, &[set]).map_err(|e| e.to_string())
}

/// The keys the loader accepts under `prefix`, found by asking it: an unknown key is
/// refused with the list of keys allowed there.
fn allowed_under(prefix: &str) -> Option<Vec<String>> {
    let probe = if prefix.is_empty() {
        "zz_probe=1".to_owned()
    } else {
        format!("{prefix}.zz_probe=1")
    };
    let err = load_with(&probe).err()?;
    let list = err.split("unknown key; allowed here: ").nth(1)?;
    let list = list.lines().next().unwrap_or_default();
    Some(list.split(", ").map(str::to_owned).collect())
}

/// Every key of the configuration as dotted paths, sections walked down; a named
/// exporter's keys under `exporters.NAME`.
fn every_key() -> Vec<String> {
    fn walk(prefix: &str, out: &mut Vec<String>) {
        assert!(
            prefix.split('.').count() < 8,
            "no section is this deep: {prefix}"
        );
        let Some(keys) = allowed_under(prefix) else {
            out.push(prefix.to_owned());
            return;
        };
        for key in keys {
            let path = if prefix.is_empty() {
                key
            } else {
                format!("{prefix}.{key}")
            };
            if path == "exporters" {
                for section in ["queue", "batch", "retry"] {
                    walk(&format!("exporters.{section}"), out);
                }
                walk("exporters.otlp", out);
                continue;
            }
            walk(&path, out);
        }
    }
    let mut keys = Vec::new();
    walk("", &mut keys);
    keys.into_iter()
        .map(|k| k.replacen("exporters.otlp.", "exporters.NAME.", 1))
        .collect()
}

/// The dotted keys a YAML document sets.
fn keys_in(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                keys_in(value, &path, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

/// `collector-config/mcpcol.yaml` says it has every key with its default: it must load
/// to exactly the defaults, and name every key the loader accepts (a named exporter's
/// keys under the example exporter `NAME`, which is commented out: there is none by
/// default).
#[test]
fn the_reference_config_lists_every_key_with_its_default() {
    let path = config_dir().join("mcpcol.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = mcpcol::config::load(Some(&path), &[]).unwrap();
    assert_eq!(
        loaded,
        mcpcol::config::Config::default(),
        "the file holds the defaults"
    );

    let tree: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let mut listed = Vec::new();
    keys_in(&tree, "", &mut listed);
    // The example exporter, commented out: its lines without the `# ` in front.
    let example: String = text
        .lines()
        .skip_while(|l| !l.contains("# NAME:"))
        .take_while(|l| l.trim_start().starts_with('#'))
        .map(|l| l.replacen("# ", "", 1) + "\n")
        .collect();
    let example: serde_json::Value = serde_saphyr::from_str(&example).unwrap();
    keys_in(&example["NAME"], "exporters.NAME", &mut listed);

    let expected = every_key();
    assert!(
        expected.len() > 60,
        "the probe found the keys: {expected:?}"
    );
    let missing: Vec<&String> = expected.iter().filter(|k| !listed.contains(k)).collect();
    let unknown: Vec<&String> = listed.iter().filter(|k| !expected.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "keys missing from mcpcol.yaml: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys in mcpcol.yaml the loader does not know: {unknown:?}"
    );
}
