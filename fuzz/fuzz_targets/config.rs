//! The config parser: a YAML file plus `--set KEY=VALUE` overrides, through the same
//! parsing, layering and validation as `mcpcol --config` and `mcpcol check-config`.
//!
//! Input: the file's text, then optionally a NUL byte and one `--set` argument a line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mcpcol::config::{self, ConfigError, Override};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (yaml, sets) = text.split_once('\0').unwrap_or((text, ""));
    let mut overrides = Vec::new();
    for arg in sets.lines() {
        match Override::parse(arg) {
            Ok(o) => overrides.push(o),
            Err(err) => described(&err),
        }
    }
    match config::from_yaml(yaml, Path::new("fuzz.yaml"), &overrides) {
        Ok(config) => {
            // What `load` returns has passed validation.
            let mut problems = Vec::new();
            config.validate(&mut problems);
            assert!(problems.is_empty(), "{problems:?}");
        }
        Err(err) => {
            described(&err);
            for problem in err.problems() {
                described(problem);
            }
        }
    }
});

/// Every error names what is wrong.
fn described(err: &ConfigError) {
    assert!(!err.to_string().is_empty());
    assert!(!err.problems().is_empty());
}
