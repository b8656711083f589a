//! Optional bearer-token access, one [`AuthConfig`] for the OTLP receivers
//! (`receivers.otlp.auth`) and one for the admin listener (`metrics.auth`).
//!
//! Tokens come from an environment variable (several separated by commas or whitespace)
//! and/or a file (one per line; blank lines and `#` comments skipped), read at start and
//! again on SIGHUP (a reload that fails keeps the tokens in use). A request passes with
//! `authorization: Bearer <token>` for any of them, compared in constant time. Tokens
//! are never logged: errors name the variable or file, never a value.
//!
//! A line of the file may name a tenant after the token (`<token> <tenant>`). On the
//! receivers, spans sent with that token belong to the tenant: every series derived
//! from them carries `tenant="…"`, and the live view keeps them apart. On the admin
//! listener, such a token reads only its tenant's data in `/api/v1` (and the page);
//! `/metrics`, `/mcp` and `/debug` need a token without a tenant (403 otherwise).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

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

/// A tenant: who a request's token belongs to, when the token file names one.
pub type Tenant = Option<Arc<str>>;

/// Longest tenant name.
const MAX_TENANT_BYTES: usize = 64;

/// One accepted token.
#[derive(Clone)]
struct Accepted {
    token: Vec<u8>,
    tenant: Tenant,
}

/// The tokens a listener accepts; empty = no authentication. Clones share one set, so
/// a reload ([`Tokens::replace`]) reaches every holder.
#[derive(Clone, Default)]
pub struct Tokens {
    current: Arc<RwLock<Arc<Vec<Accepted>>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values.
        write!(f, "Tokens({} accepted)", self.snapshot().len())
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
        let mut accepted: Vec<Accepted> = Vec::new();
        if let Some(name) = &self.bearer_token_env {
            match std::env::var(name) {
                Ok(value) => accepted.extend(split(&value).map(|token| Accepted {
                    token,
                    tenant: None,
                })),
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
                Ok(text) => {
                    for (number, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let mut words = line.split_whitespace();
                        let token = words.next().unwrap_or_default().as_bytes().to_vec();
                        let tenant = words.next();
                        if words.next().is_some() || tenant.is_some_and(|t| !valid_tenant(t)) {
                            problems.push(ConfigError::invalid(
                                format!("{key}.bearer_token_file"),
                                format!("{} line {}", path.display(), number + 1),
                                "write `<token>` or `<token> <tenant>` per line; a tenant is 1 \
                                 to 64 of A-Z a-z 0-9 . _ -",
                            ));
                            continue;
                        }
                        accepted.push(Accepted {
                            token,
                            tenant: tenant.map(Arc::from),
                        });
                    }
                }
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
        Tokens {
            current: Arc::new(RwLock::new(Arc::new(accepted))),
        }
    }
}

fn valid_tenant(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TENANT_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn split(value: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.as_bytes().to_vec())
}

/// Equal in time that depends on the lengths only, not on where the bytes differ.
/// Whether two tokens are equal, in time that does not depend on where they differ
/// (`subtle`'s compare, whose optimisation barriers keep the compiler from turning it
/// back into an early exit; a length mismatch returns at once: lengths are not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

impl Tokens {
    fn snapshot(&self) -> Arc<Vec<Accepted>> {
        // ok: a poisoned lock still holds a valid Arc.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether requests need a token.
    pub fn is_enabled(&self) -> bool {
        !self.snapshot().is_empty()
    }

    /// Whether any token names a tenant.
    pub fn has_tenants(&self) -> bool {
        self.snapshot().iter().any(|a| a.tenant.is_some())
    }

    /// Puts `fresh`'s tokens in place of these, for every holder of a clone.
    pub fn replace(&self, fresh: &Tokens) {
        let tokens = fresh.snapshot();
        // ok: a poisoned lock still holds a valid Arc; overwrite it.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = tokens;
    }

    /// Checks an `authorization` header value; passes with the token's tenant.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<Tenant, Denied> {
        let accepted = self.snapshot();
        if accepted.is_empty() {
            return Ok(None);
        }
        let Some(value) = authorization else {
            return Err(Denied::Missing);
        };
        let token = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => return Err(Denied::Missing),
        };
        // Every token is compared, so the time does not tell which one matched.
        let mut found = None;
        for candidate in accepted.iter() {
            if constant_time_eq(&candidate.token, token) && found.is_none() {
                found = Some(candidate);
            }
        }
        match found {
            Some(candidate) => Ok(candidate.tenant.clone()),
            None => Err(Denied::Wrong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(list: &[&str]) -> Tokens {
        let accepted = list
            .iter()
            .map(|t| Accepted {
                token: t.as_bytes().to_vec(),
                tenant: None,
            })
            .collect();
        Tokens {
            current: Arc::new(RwLock::new(Arc::new(accepted))),
        }
    }

    #[test]
    fn any_accepted_token_passes_and_nothing_else() {
        let t = tokens(&["alpha", "beta"]);
        assert_eq!(t.check(Some(b"Bearer alpha")), Ok(None));
        assert_eq!(t.check(Some(b"bearer beta")), Ok(None));
        assert_eq!(t.check(Some(b"Bearer gamma")), Err(Denied::Wrong));
        assert_eq!(t.check(Some(b"Bearer alph")), Err(Denied::Wrong));
        assert_eq!(t.check(Some(b"Basic alpha")), Err(Denied::Missing));
        assert_eq!(t.check(None), Err(Denied::Missing));
        assert_eq!(Tokens::default().check(None), Ok(None));
    }

    #[test]
    fn file_and_env_are_read_and_problems_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# team a\none\n\n  two  \nthree team-b\n").unwrap();
        let config = AuthConfig {
            bearer_token_env: None,
            bearer_token_file: Some(file.clone()),
        };
        let mut problems = Vec::new();
        let t = config.load("receivers.otlp.auth", &mut problems);
        assert!(problems.is_empty());
        assert_eq!(t.check(Some(b"Bearer two")), Ok(None));
        assert_eq!(
            t.check(Some(b"Bearer three")),
            Ok(Some(Arc::from("team-b")))
        );
        assert!(t.has_tenants());
        assert_eq!(format!("{t:?}"), "Tokens(3 accepted)");

        // A reload reaches every clone; a bad tenant is a problem naming the line.
        let holder = t.clone();
        std::fs::write(&file, "four\nfive bad/tenant\n").unwrap();
        let mut problems = Vec::new();
        let fresh = config.load("receivers.otlp.auth", &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().contains("line 2"),
            "{}",
            problems[0]
        );
        std::fs::write(&file, "four\n").unwrap();
        let fresh_ok = config.load("receivers.otlp.auth", &mut Vec::new());
        drop(fresh);
        t.replace(&fresh_ok);
        assert_eq!(holder.check(Some(b"Bearer two")), Err(Denied::Wrong));
        assert_eq!(holder.check(Some(b"Bearer four")), Ok(None));

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
