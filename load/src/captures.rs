//! Recorded traffic: the OTLP request bodies real MCP SDKs sent, from
//! `tests/data/captures/<library>-<transport>/NNNN-traces.pb` (the repository's copy).
//!
//! In: the captures directory. Out: the bodies, in directory then file order, and a
//! mix of them with synthetic requests.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::{LoadError, Payload};

/// Where the captures sit in a checkout: the repository's `tests/data/captures`.
pub const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/captures");

/// Every `*/NNNN-traces.pb` under `dir`, sorted by directory and file name.
pub fn captures(dir: &Path) -> Result<Vec<Bytes>, LoadError> {
    let mut files = Vec::new();
    for library in sorted_entries(dir)? {
        if !library.is_dir() {
            continue;
        }
        for file in sorted_entries(&library)? {
            if is_traces_pb(&file) {
                files.push(file);
            }
        }
    }
    if files.is_empty() {
        return Err(LoadError::NoCaptures {
            path: dir.to_owned(),
        });
    }
    files
        .into_iter()
        .map(|path| match std::fs::read(&path) {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(source) => Err(LoadError::Captures { path, source }),
        })
        .collect()
}

/// The captures as payloads (each decoded once to count its spans).
pub fn capture_payloads(dir: &Path) -> Result<Vec<Payload>, LoadError> {
    captures(dir)?
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| Payload::decode(&format!("capture {i} in {}", dir.display()), bytes))
        .collect()
}

/// Captures and synthetic requests taken in turn (capture, synthetic, capture, …), the
/// shorter list repeated until the longer one is used up.
pub fn mixed(captures: &[Payload], synthetic: &[Payload]) -> Vec<Payload> {
    if captures.is_empty() || synthetic.is_empty() {
        return captures.iter().chain(synthetic).cloned().collect();
    }
    let rounds = captures.len().max(synthetic.len());
    (0..rounds)
        .flat_map(|i| {
            [
                captures[i % captures.len()].clone(),
                synthetic[i % synthetic.len()].clone(),
            ]
        })
        .collect()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let read = |source| LoadError::Captures {
        path: dir.to_owned(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    entries.sort();
    Ok(entries)
}

/// `NNNN-traces.pb`: four digits, then `-traces.pb`.
fn is_traces_pb(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    match name.split_once('-') {
        Some((digits, "traces.pb")) => {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Synthetic;

    #[test]
    fn reads_every_capture_from_the_shared_directory() {
        let dir = Path::new(DEFAULT_DIR);
        let bodies = captures(dir).unwrap();
        assert!(bodies.len() > 100, "{} captures", bodies.len());
        let payloads = capture_payloads(dir).unwrap();
        assert_eq!(payloads.len(), bodies.len());
        assert!(payloads.iter().map(|p| p.spans).sum::<u64>() > 0);
    }

    #[test]
    fn a_missing_directory_says_what_to_pass() {
        let err = captures(Path::new("/nonexistent/captures")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("captures /nonexistent/captures: "),
            "{text}"
        );
        assert!(text.ends_with("pass --captures-dir pointing at a folder of <library>-<transport>/NNNN-traces.pb captures (the repository has them in tests/data/captures)"));
    }

    #[test]
    fn only_numbered_traces_files_count() {
        assert!(is_traces_pb(Path::new("a/0001-traces.pb")));
        assert!(!is_traces_pb(Path::new("a/0001-traces.json")));
        assert!(!is_traces_pb(Path::new("a/spans.txt")));
        assert!(!is_traces_pb(Path::new("a/x1-traces.pb")));
    }

    #[test]
    fn mixed_alternates_and_uses_up_the_longer_list() {
        let synthetic = Synthetic {
            spans_per_request: 1,
            ..Synthetic::default()
        }
        .payloads(3);
        let captures = vec![Payload {
            bytes: Bytes::new(),
            spans: 0,
        }];
        let mixed = mixed(&captures, &synthetic);
        let spans: Vec<u64> = mixed.iter().map(|p| p.spans).collect();
        assert_eq!(spans, [0, 1, 0, 1, 0, 1]);
    }
}
