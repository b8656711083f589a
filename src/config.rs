//! The root configuration: one field per pipeline stage, each section's struct beside its
//! stage's code. This file owns loading, layering and [`ConfigError`].
//!
//! Layering, lowest to highest: built-in defaults → the YAML file (`--config`) → the
//! common flags and their `MCPCOL_*` variables (a flag beats its variable) → every
//! `--set key=value`, in order. Everything is validated before any port is bound, and
//! `mcpcol check-config` runs the very same path.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::export::config::ExportersConfig;
use crate::live::{LiveConfig, UiConfig};
use crate::metrics::MetricsConfig;
use crate::receiver::ReceiversConfig;

/// Everything mcpcol can be told. Every field has a default, so an empty file (or no
/// file) runs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `receivers`: where OTLP comes in.
    pub receivers: ReceiversConfig,
    /// `metrics`: the admin listener (`/metrics`, `/health`, `/ready`).
    pub metrics: MetricsConfig,
    /// `exporters`: where spans go, and the queue in front of them.
    pub exporters: ExportersConfig,
    /// `live`: the bounds of the live view (API, page, MCP endpoint).
    pub live: LiveConfig,
    /// `ui`: the live page.
    pub ui: UiConfig,
    /// `service`: process-wide settings.
    pub service: ServiceConfig,
}

/// `service` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// On SIGINT/SIGTERM, how long to wait for in-flight requests and queued spans
    /// before exiting anyway. Default: 10s. Range: 0s ..= 1h.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Recognise MCP operations and derive the RED metrics and the live view from them.
    /// `false` makes mcpcol a plain OTLP relay (receive, validate, forward): the
    /// baseline `scripts/bench.sh` measures analysis against. Default: true.
    pub analysis: bool,
    /// Hard memory limit in MiB, like the OTel Collector's `memory_limiter`: while
    /// resident memory is above `memory_limit_mib - memory_spike_limit_mib`, the
    /// receivers throttle clients. Default: 0 (off). Range: 0, or 32 ..= 1048576.
    pub memory_limit_mib: u64,
    /// Headroom below the hard limit where throttling starts, MiB. Default: 0, meaning
    /// 20 % of `memory_limit_mib`. Must be less than `memory_limit_mib`.
    pub memory_spike_limit_mib: u64,
    /// A repeated warning (a refusal reason, an exporter's failures, a cap reached) is
    /// logged at most once per this interval, with the count since its last line; the
    /// first occurrence always at once. Default: 1m. Range: 1s ..= 1d.
    #[serde(with = "humantime_serde")]
    pub log_rate_limit: Duration,
}

impl ServiceConfig {
    /// The spike headroom in MiB, the default applied.
    pub fn spike_limit_mib(&self) -> u64 {
        if self.memory_spike_limit_mib == 0 {
            self.memory_limit_mib / 5
        } else {
            self.memory_spike_limit_mib
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            shutdown_timeout: Duration::from_secs(10),
            analysis: true,
            memory_limit_mib: 0,
            memory_spike_limit_mib: 0,
            log_rate_limit: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Checks every value; pushes one error per bad key.
    pub fn validate(&self, problems: &mut Vec<ConfigError>) {
        self.receivers.validate("receivers", problems);
        self.metrics.validate("metrics", problems);
        self.exporters.validate("exporters", problems);
        self.live.validate("live", problems);
        self.ui.validate("ui", problems);
        let every = self.service.log_rate_limit;
        if every < Duration::from_secs(1) || every > Duration::from_secs(86_400) {
            problems.push(ConfigError::invalid(
                "service.log_rate_limit",
                humantime::format_duration(every),
                "use a duration from 1s to 1d, such as 1m",
            ));
        }
        if self.service.shutdown_timeout > Duration::from_secs(3600) {
            problems.push(ConfigError::invalid(
                "service.shutdown_timeout",
                humantime::format_duration(self.service.shutdown_timeout),
                "use a duration up to 1h, such as 10s",
            ));
        }
        let limit = self.service.memory_limit_mib;
        if limit != 0 && !(32..=1_048_576).contains(&limit) {
            problems.push(ConfigError::invalid(
                "service.memory_limit_mib",
                limit,
                "use 0 (off) or a size in MiB from 32 to 1048576",
            ));
        } else if limit != 0 && self.service.spike_limit_mib() >= limit {
            problems.push(ConfigError::invalid(
                "service.memory_spike_limit_mib",
                self.service.memory_spike_limit_mib,
                "use less than service.memory_limit_mib (0 means 20 % of it)",
            ));
        }
    }
}

/// One `key=value` applied on top of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key, e.g. `receivers.otlp.grpc.endpoint`.
    pub key: String,
    /// The value, already parsed as YAML (`4` is a number, `true` a bool).
    pub value: Value,
}

impl Override {
    /// Parses `key=value` as given to `--set`.
    pub fn parse(arg: &str) -> Result<Self, ConfigError> {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(ConfigError::Override {
                arg: arg.to_owned(),
                message: "expected KEY=VALUE, e.g. receivers.otlp.grpc.endpoint=0.0.0.0:4317"
                    .to_owned(),
            });
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(ConfigError::Override {
                arg: arg.to_owned(),
                message: "the key must be dotted names such as metrics.endpoint".to_owned(),
            });
        }
        Ok(Override {
            key: key.to_owned(),
            value: parse_scalar(raw),
        })
    }

    /// A string value for `key`, used by the flags that name one key.
    pub fn string(key: &str, value: &str) -> Self {
        Override {
            key: key.to_owned(),
            value: Value::String(value.to_owned()),
        }
    }
}

/// A value on the command line is YAML: `4` → number, `true` → bool, `[a, b]` → list;
/// anything YAML cannot read stays a string.
fn parse_scalar(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::String(String::new());
    }
    match serde_saphyr::from_str::<Value>(raw) {
        Ok(Value::Null) if !matches!(raw.trim(), "null" | "~") => Value::String(raw.to_owned()),
        Ok(value) => value,
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// Most problems reported at once; past it the list is cut.
const MAX_PROBLEMS: usize = 50;

/// Loads the configuration: defaults, then `file`, then `overrides` in order, then
/// validation. Reports every bad key it finds, not just the first.
pub fn load(file: Option<&Path>, overrides: &[Override]) -> Result<Config, ConfigError> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            from_yaml(&text, path, overrides)
        }
        // No file reads as an empty one: the defaults.
        None => from_yaml("", Path::new(""), overrides),
    }
}

/// [`load`] for YAML already in memory; `origin` names it in errors. The same parsing,
/// layering and validation (the config fuzz target's entry point: no file per input).
pub fn from_yaml(text: &str, origin: &Path, overrides: &[Override]) -> Result<Config, ConfigError> {
    let mut tree = parse_tree(text, origin)?;
    let mut problems = Vec::new();
    for o in overrides {
        if let Err(err) = set_path(&mut tree, &o.key, o.value.clone()) {
            problems.push(err);
        }
    }
    let config = loop {
        match serde_path_to_error::deserialize::<_, Config>(&tree) {
            Ok(config) => break config,
            Err(err) => {
                let problem = ConfigError::from_serde(err);
                let key = problem.key().unwrap_or_default().to_owned();
                problems.push(problem);
                // Drop the bad key (its default applies) and look for more problems.
                if key.is_empty() || !remove_path(&mut tree, &key) || problems.len() >= MAX_PROBLEMS
                {
                    return Err(match problems.len() {
                        1 => problems.remove(0),
                        _ => ConfigError::Several(problems),
                    });
                }
            }
        }
    };
    config.validate(&mut problems);
    match problems.len() {
        0 => Ok(config),
        1 => Err(problems.remove(0)),
        _ => Err(ConfigError::Several(problems)),
    }
}

fn parse_tree(text: &str, path: &Path) -> Result<Value, ConfigError> {
    let tree: Value = serde_saphyr::from_str(text).map_err(|err| ConfigError::Syntax {
        path: path.to_owned(),
        message: err.to_string(),
    })?;
    match tree {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(tree),
        other => Err(ConfigError::Syntax {
            path: path.to_owned(),
            message: format!(
                "the top level must be a mapping of sections (receivers:, metrics:, …), not {}",
                kind_of(&other)
            ),
        }),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn set_path(tree: &mut Value, key: &str, value: Value) -> Result<(), ConfigError> {
    let mut node = tree;
    let mut walked = Vec::new();
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        walked.push(*part);
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else {
            return Err(ConfigError::WrongType {
                key: walked[..walked.len() - 1].join("."),
                message: format!("cannot set {key}: this key holds a value, not a section"),
            });
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return Ok(());
        }
        node = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

fn remove_path(tree: &mut Value, key: &str) -> bool {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Value::Object(map) = node else {
            return false;
        };
        if i + 1 == parts.len() {
            return map.remove(*part).is_some();
        }
        match map.get_mut(*part) {
            Some(next) => node = next,
            None => return false,
        }
    }
    false
}

/// What is wrong with the configuration, naming the key and what is allowed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named by `--config` cannot be read.
    #[error("config file {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, or not a mapping at the top.
    #[error("config file {}: not valid YAML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key mcpcol does not know (a typo is an error, not an ignored key).
    #[error("{key}: unknown key; {allowed}")]
    UnknownKey {
        /// Dotted key.
        key: String,
        /// The keys allowed at that place.
        allowed: String,
    },
    /// A value of the wrong kind (a list where a number goes, …).
    #[error("{key}: {message}")]
    WrongType {
        /// Dotted key.
        key: String,
        /// What was expected.
        message: String,
    },
    /// A value of the right kind but out of range or malformed.
    #[error("{key}: {value:?} is not allowed; {allowed}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// The value given.
        value: String,
        /// What to use instead.
        allowed: String,
    },
    /// A `--set` argument that is not `KEY=VALUE`.
    #[error("--set {arg:?}: {message}")]
    Override {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// More than one of the above.
    #[error("{}", Several(.0))]
    Several(Vec<ConfigError>),
}

struct Several<'a>(&'a [ConfigError]);

impl fmt::Display for Several<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problems in the configuration:", self.0.len())?;
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// A value that is out of range: names the key, the value and what is allowed.
    pub fn invalid(key: impl Into<String>, value: impl fmt::Display, allowed: &str) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.to_owned(),
        }
    }

    /// Whether the message names the configuration file (it could not be read or
    /// parsed), so that it is not prefixed with the file name again.
    pub fn names_file(&self) -> bool {
        matches!(self, ConfigError::Read { .. } | ConfigError::Syntax { .. })
    }

    /// Every individual problem (one, or the members of `Several`).
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }

    fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // serde: "unknown field `foo`, expected one of `a`, `b`"
        if let Some(rest) = message.strip_prefix("unknown field `") {
            if let Some((name, expected)) = rest.split_once('`') {
                let parent = path
                    .strip_suffix(name)
                    .map(|p| p.trim_end_matches('.'))
                    .unwrap_or(&path);
                let parent = if parent == "." { "" } else { parent };
                let key = if parent.is_empty() {
                    name.to_owned()
                } else {
                    format!("{parent}.{name}")
                };
                // "one of `a`, `b`, `c`", "`a` or `b`", "`a`": a plain list.
                let allowed = expected
                    .trim_start_matches(", ")
                    .replace("expected one of", "allowed here:")
                    .replace("expected", "allowed here:")
                    .replace("` or `", "`, `")
                    .replace('`', "");
                return ConfigError::UnknownKey { key, allowed };
            }
        }
        let message = message.split(" at line ").next().unwrap_or(&message);
        // A list or value where a section was expected: serde names the first element
        // (`receivers[0]`); the user wrote the key.
        let path = match path.rsplit_once('[') {
            Some((key, _)) if message.contains("expected struct") => key.to_owned(),
            _ => path,
        };
        let key = if path == "." { String::new() } else { path };
        ConfigError::WrongType {
            key,
            message: in_users_words(message),
        }
    }
}

/// serde's message in the words of the configuration file, not of Rust's types:
/// `invalid type: integer `5`, expected struct GrpcConfig` becomes
/// `got the number 5; use a section of keys (indented under it)`.
fn in_users_words(message: &str) -> String {
    let (got, expected) = if let Some(rest) = message.strip_prefix("invalid type: ") {
        match rest.split_once(", expected ") {
            Some((got, expected)) => (Some(got), expected),
            None => return message.to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        match rest.split_once(", expected ") {
            Some((got, expected)) => (Some(got), expected),
            None => return message.to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        match rest.split_once(", expected ") {
            Some((got, expected)) => {
                let got = got.trim_matches('`');
                let allowed = expected.replace("one of ", "").replace('`', "");
                return format!("\"{got}\" is not allowed; use {allowed}");
            }
            None => return message.to_owned(),
        }
    } else {
        return message.to_owned();
    };
    let got = got.map(|got| {
        let value = |prefix: &str| {
            got.strip_prefix(prefix)
                .map(|v| v.trim_matches('`').to_owned())
        };
        value("integer ")
            .or_else(|| value("floating point "))
            .map(|n| format!("the number {n}"))
            .or_else(|| value("string ").map(|s| format!("the text {s}")))
            .or_else(|| value("boolean "))
            .unwrap_or_else(|| match got {
                "sequence" => "a list".to_owned(),
                "map" => "a section".to_owned(),
                "unit value" | "null" => "nothing (null)".to_owned(),
                other => other.to_owned(),
            })
    });
    let want = if expected.starts_with("struct ") || expected == "a map" {
        "use a section of keys (indented under it)".to_owned()
    } else if ["usize", "u64", "u32", "u16", "u8"].contains(&expected) {
        "use a whole number".to_owned()
    } else if ["i64", "i32", "f64", "f32"].contains(&expected) {
        "use a number".to_owned()
    } else if expected == "a boolean" {
        "use true or false".to_owned()
    } else if expected == "a sequence" {
        "use a list, such as [a, b]".to_owned()
    } else if expected == "a duration" {
        "use a duration such as 500ms, 10s, 5m or 1h30m".to_owned()
    } else if expected == "a string" {
        "use a text value".to_owned()
    } else {
        format!("use {expected}")
    };
    match got {
        Some(got) => format!("got {got}; {want}"),
        None => want,
    }
}

/// Checks an address to listen on: `HOST:PORT`, `[IPv6]:PORT`.
pub fn validate_endpoint(key: &str, value: &str, problems: &mut Vec<ConfigError>) {
    let ok = value.rsplit_once(':').is_some_and(|(host, port)| {
        let host_ok = if let Some(inner) = host.strip_prefix('[') {
            inner
                .strip_suffix(']')
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        } else {
            !host.is_empty() && !host.contains(':') && !host.contains('/')
        };
        host_ok && port.parse::<u16>().is_ok()
    });
    if !ok {
        problems.push(ConfigError::invalid(
            key,
            value,
            "use HOST:PORT, such as 127.0.0.1:4317, 0.0.0.0:4317 or [::1]:4317 (port 0 picks a free port)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_str(yaml: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(yaml.as_bytes()).unwrap();
        let overrides: Vec<Override> = overrides
            .iter()
            .map(|o| Override::parse(o).unwrap())
            .collect();
        load(Some(file.path()), &overrides)
    }

    #[test]
    fn no_file_gives_defaults() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.receivers.otlp.grpc.endpoint, "127.0.0.1:4317");
        assert_eq!(config.receivers.otlp.http.endpoint, "127.0.0.1:4318");
        assert_eq!(config.metrics.endpoint, "127.0.0.1:9464");
        assert_eq!(config.exporters.queue.max_spans, 100_000);
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(load_str("", &[]).unwrap(), Config::default());
        assert_eq!(load_str("# nothing\n", &[]).unwrap(), Config::default());
    }

    #[test]
    fn file_then_set_in_order() {
        let config = load_str(
            "receivers:\n  otlp:\n    grpc: { endpoint: 0.0.0.0:4317, max_recv_msg_size_mib: 8 }\n",
            &[
                "receivers.otlp.grpc.max_recv_msg_size_mib=16",
                "metrics.endpoint=127.0.0.1:0",
                "service.shutdown_timeout=2s",
            ],
        )
        .unwrap();
        assert_eq!(config.receivers.otlp.grpc.endpoint, "0.0.0.0:4317");
        assert_eq!(config.receivers.otlp.grpc.max_recv_msg_size_mib, 16);
        assert_eq!(config.metrics.endpoint, "127.0.0.1:0");
        assert_eq!(config.service.shutdown_timeout, Duration::from_secs(2));
    }

    #[test]
    fn unknown_keys_are_named_with_what_is_allowed() {
        let err = load_str("receivers:\n  otlp:\n    grcp: {}\n", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "receivers.otlp.grcp: unknown key; allowed here: grpc, http, throttle_retry_after, auth, limits"
        );
        let err = load_str("metric: {}\n", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric: unknown key; allowed here: receivers, metrics, exporters, live, ui, service"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let err = load_str(
            "receivers:\n  otlp:\n    grpc: { endpoint: nowhere, max_recv_msg_size_mib: lots }\n\
             metrics: { endpont: x }\n",
            &["exporters.queue.max_spans=0"],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("4 problems in the configuration:"),
            "{text}"
        );
        assert!(text.contains("receivers.otlp.grpc.max_recv_msg_size_mib: got the text \"lots\"; use a whole number"), "{text}");
        assert!(
            text.contains("metrics.endpont: unknown key; allowed here: endpoint"),
            "{text}"
        );
        assert!(
            text.contains(
                "receivers.otlp.grpc.endpoint: \"nowhere\" is not allowed; use HOST:PORT"
            ),
            "{text}"
        );
        assert!(
            text.contains("exporters.queue.max_spans: \"0\" is not allowed"),
            "{text}"
        );
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let err = load_str("receivers: [unclosed\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
        assert!(err.to_string().contains("not valid YAML"), "{err}");
        let err = load_str("- a\n- b\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("top level must be a mapping"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_says_so() {
        let err = load(Some(Path::new("/nonexistent/mcpcol.yaml")), &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config file /nonexistent/mcpcol.yaml: cannot read it:"),
            "{err}"
        );
    }

    #[test]
    fn set_parses_values_as_yaml() {
        assert_eq!(
            Override::parse("a.b=4").unwrap().value,
            serde_json::json!(4)
        );
        assert_eq!(
            Override::parse("a.b=true").unwrap().value,
            serde_json::json!(true)
        );
        assert_eq!(
            Override::parse("a.b=0.0.0.0:4317").unwrap().value,
            serde_json::json!("0.0.0.0:4317")
        );
        assert_eq!(
            Override::parse("a.b=200ms").unwrap().value,
            serde_json::json!("200ms")
        );
        assert!(Override::parse("a.b").is_err());
        assert!(Override::parse("a..b=1").is_err());
    }

    #[test]
    fn set_through_a_value_is_an_error() {
        let err = load(
            None,
            &[
                Override::parse("metrics.endpoint=1.2.3.4:5").unwrap(),
                Override::parse("metrics.endpoint.x=1").unwrap(),
            ],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("metrics.endpoint: cannot set metrics.endpoint.x"),
            "{err}"
        );
    }

    #[test]
    fn endpoints_are_checked() {
        let mut problems = Vec::new();
        for good in [
            "127.0.0.1:4317",
            "0.0.0.0:0",
            "[::1]:4317",
            "localhost:9464",
        ] {
            validate_endpoint("k", good, &mut problems);
        }
        assert!(problems.is_empty(), "{problems:?}");
        for bad in [
            "127.0.0.1",
            ":4317",
            "host:99999",
            "[::1:4317",
            "http://x:1",
        ] {
            validate_endpoint("k", bad, &mut problems);
        }
        assert_eq!(problems.len(), 5);
    }
}
