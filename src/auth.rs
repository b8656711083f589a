//! Optional bearer-token access, one [`AuthConfig`] for the OTLP receivers
//! (`receivers.otlp.auth`) and one for the admin listener (`metrics.auth`).
//!
//! Tokens come from an environment variable (several separated by commas or whitespace)
//! and/or a file (one per line; blank lines and `#` comments skipped), read at start. A
//! request passes with `authorization: Bearer <token>` for any of them, compared in
//! constant time. Tokens are never logged: errors name the variable or file, never a
//! value.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::ConfigError;

/// `auth` section of a listener.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Environment variable holding the accepted tokens (comma- or space-separated).
    pub bearer_token_env: Option<String>,
    /// File holding the accepted tokens, one per line.
    pub bearer_token_file: Option<PathBuf>,
}

/// The tokens a listener accepts; empty = no authentication.
#[derive(Clone, Default)]
pub struct Tokens {
    accepted: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values.
        write!(f, "Tokens({} accepted)", self.accepted.len())
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `authorization: Bearer …` header.
    Missing,
    /// A bearer token that is not accepted.
    Wrong,
}

impl Denied {
    /// The message for the client (and the log): says what to send, never the token.
    pub fn message(self) -> &'static str {
        match self {
            Denied::Missing => {
                "authentication required: send the header `authorization: Bearer <token>`"
            }
            Denied::Wrong => "the bearer token is not accepted",
        }
    }
}

impl AuthConfig {
    /// Whether tokens are configured.
    pub fn is_enabled(&self) -> bool {
        self.bearer_token_env.is_some() || self.bearer_token_file.is_some()
    }

    /// Reads the tokens; each problem names `key` and the variable or file.
    pub fn load(&self, key: &str, problems: &mut Vec<ConfigError>) -> Tokens {
        let mut accepted = Vec::new();
        if let Some(name) = &self.bearer_token_env {
            match std::env::var(name) {
                Ok(value) => accepted.extend(split(&value)),
                Err(_) => problems.push(ConfigError::invalid(
                    format!("{key}.bearer_token_env"),
                    name,
                    "the environment variable is not set (or not UTF-8); set it to the \
                     accepted tokens, separated by commas",
                )),
            }
        }
        if let Some(path) = &self.bearer_token_file {
            match std::fs::read_to_string(path) {
                Ok(text) => accepted.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(|l| l.as_bytes().to_vec()),
                ),
                Err(err) => problems.push(ConfigError::invalid(
                    format!("{key}.bearer_token_file"),
                    path.display(),
                    &format!(
                        "cannot read it ({err}); give a readable file with one token per line"
                    ),
                )),
            }
        }
        if self.is_enabled() && accepted.is_empty() && problems.is_empty() {
            problems.push(ConfigError::invalid(
                key.to_owned(),
                "no tokens",
                "the configured variable or file holds no token; add one or remove the auth section",
            ));
        }
        Tokens { accepted }
    }
}

fn split(value: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.as_bytes().to_vec())
}

/// Equal in time that depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// Whether requests need a token.
    pub fn is_enabled(&self) -> bool {
        !self.accepted.is_empty()
    }

    /// Checks an `authorization` header value.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        if !self.is_enabled() {
            return Ok(());
        }
        let Some(value) = authorization else {
            return Err(Denied::Missing);
        };
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => return Err(Denied::Missing),
        };
        let mut ok = false;
        for accepted in &self.accepted {
            ok |= constant_time_eq(accepted, token);
        }
        if ok {
            Ok(())
        } else {
            Err(Denied::Wrong)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(list: &[&str]) -> Tokens {
        Tokens {
            accepted: list.iter().map(|t| t.as_bytes().to_vec()).collect(),
        }
    }

    #[test]
    fn any_accepted_token_passes_and_nothing_else() {
        let t = tokens(&["alpha", "beta"]);
        assert_eq!(t.check(Some(b"Bearer alpha")), Ok(()));
        assert_eq!(t.check(Some(b"bearer beta")), Ok(()));
        assert_eq!(t.check(Some(b"Bearer gamma")), Err(Denied::Wrong));
        assert_eq!(t.check(Some(b"Bearer alph")), Err(Denied::Wrong));
        assert_eq!(t.check(Some(b"Basic alpha")), Err(Denied::Missing));
        assert_eq!(t.check(None), Err(Denied::Missing));
        assert_eq!(Tokens::default().check(None), Ok(()));
    }

    #[test]
    fn file_and_env_are_read_and_problems_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# team a\none\n\n  two  \n").unwrap();
        let config = AuthConfig {
            bearer_token_env: None,
            bearer_token_file: Some(file),
        };
        let mut problems = Vec::new();
        let t = config.load("receivers.otlp.auth", &mut problems);
        assert!(problems.is_empty());
        assert_eq!(t.check(Some(b"Bearer two")), Ok(()));
        assert_eq!(format!("{t:?}"), "Tokens(2 accepted)");

        let missing = AuthConfig {
            bearer_token_env: Some("MCPCOL_TEST_TOKEN_THAT_IS_NOT_SET".into()),
            bearer_token_file: Some(dir.path().join("absent")),
        };
        let mut problems = Vec::new();
        missing.load("metrics.auth", &mut problems);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 2, "{text:?}");
        assert!(
            text[0].contains("metrics.auth.bearer_token_env"),
            "{text:?}"
        );
        assert!(
            text[1].contains("metrics.auth.bearer_token_file"),
            "{text:?}"
        );
    }
}
