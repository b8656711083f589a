//! The real spans captured from each instrumentation, in `tests/data/captures/` (copied from the workspace's conventions).

use std::path::{Path, PathBuf};

/// The folder of one capture.
pub fn dir(capture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(capture)
}

/// The capture's OTLP requests (file name, protobuf body) in arrival order: the order the
/// capturing sink numbered the files.
pub fn requests(capture: &str) -> Vec<(String, Vec<u8>)> {
    let dir = dir(capture);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}
