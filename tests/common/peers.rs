//! Real peers installed by scripts/test.sh (the Python venv, Debian packages).
//!
//! A test that needs one and does not find it fails when MCPCOL_REQUIRE_PEERS=1 (set by
//! scripts/test.sh and CI) and is skipped with a loud message otherwise, so a bare
//! `cargo test` still runs everything else.

use std::path::PathBuf;

/// The venv's python, if installed.
pub fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    if std::env::var("MCPCOL_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "{} is missing: run scripts/test.sh, which creates it",
            venv.display()
        );
    }
    eprintln!("SKIPPED: no .venv; run scripts/test.sh to install the Python test peers");
    None
}

/// A binary from a Debian package (e.g. `promtool`), if installed.
pub fn debian_binary(name: &str, package: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("MCPCOL_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "{} is missing: scripts/test.sh installs Debian's {package}",
            path.display()
        );
    }
    eprintln!("SKIPPED: no {name}; run scripts/test.sh to install Debian's {package}");
    None
}
