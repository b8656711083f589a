//! Caps on every label value that comes from the network.
//!
//! Tool names, session ids, service names, error types and method names are chosen by
//! whoever talks to an MCP server (or sends OTLP to mcpcol): left alone, a client
//! inventing names would grow memory and the scrape without bound. Each label has a cap;
//! past it the value is recorded as `other` and `mcpcol_series_overflow_total{label}`
//! counts it. The sets that remember admitted values are bounded too (the target budget
//! of all services together is `max_series`), so memory stays flat under a flood.
//!
//! Caps forget: a value not seen for `metrics.idle_timeout` leaves its set
//! ([`Limits::forget_idle`]), so a burst of invented tool names fills the cap only until
//! it has been idle that long, not until a restart (counted in
//! `mcpcol_label_values_forgotten_total{label}`).

use std::collections::HashMap;

use crate::mcp::Operation;
use crate::telemetry::Telemetry;

/// Label values come from clients: a hash seeded per process (foldhash) keeps them from
/// choosing colliding values, at a fraction of SipHash's cost on short strings.
type Hasher = foldhash::fast::RandomState;

/// The value every capped label falls back to.
pub const OTHER: &str = "other";

/// Unknown method names kept per service (the known MCP methods are always kept).
pub const MAX_OTHER_METHODS_PER_SERVICE: usize = 32;
/// Error types kept per service.
pub const MAX_ERROR_TYPES_PER_SERVICE: usize = 64;
/// Protocol versions kept in all.
pub const MAX_PROTOCOL_VERSIONS: usize = 16;

/// A set of admitted values with a cap, each with when it was last seen (seconds on the
/// metrics stage's clock).
#[derive(Debug, Default)]
pub struct ValueLimit {
    seen: HashMap<String, u32, Hasher>,
    max: usize,
}

impl ValueLimit {
    /// Admits at most `max` distinct values.
    pub fn new(max: usize) -> Self {
        ValueLimit {
            seen: HashMap::default(),
            max,
        }
    }

    /// The value itself if already admitted or if there is room; `None` past the cap.
    /// `now` marks it seen.
    pub fn admit<'a>(&mut self, value: &'a str, now: u32) -> Option<&'a str> {
        if value.is_empty() {
            return Some(value);
        }
        if let Some(last) = self.seen.get_mut(value) {
            *last = now;
            return Some(value);
        }
        if self.seen.len() < self.max {
            self.seen.insert(value.to_owned(), now);
            return Some(value);
        }
        None
    }

    /// The value if admitted (marking it seen), without admitting a new one.
    fn known<'a>(&mut self, value: &'a str, now: u32) -> Option<&'a str> {
        let last = self.seen.get_mut(value)?;
        *last = now;
        Some(value)
    }

    /// Forgets the values not seen since `before`; returns how many.
    pub fn forget_idle(&mut self, before: u32) -> usize {
        let len = self.seen.len();
        self.seen.retain(|_, last| *last >= before);
        len - self.seen.len()
    }

    /// Values admitted.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is admitted.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[derive(Debug)]
struct ServiceLimits {
    targets: ValueLimit,
    other_methods: ValueLimit,
    error_types: ValueLimit,
}

/// The label values of one operation after the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted<'a> {
    /// `service_name`.
    pub service: &'a str,
    /// `mcp_method_name`.
    pub method: &'a str,
    /// The tool, prompt or resource name (empty when none).
    pub target: &'a str,
    /// `error_type` (empty on success).
    pub error_type: &'a str,
    /// `mcp_protocol_version`.
    pub protocol: &'a str,
}

/// Every cap, for all services.
#[derive(Debug)]
pub struct Limits {
    services: ValueLimit,
    per_service: HashMap<String, ServiceLimits, Hasher>,
    protocols: ValueLimit,
    max_targets_per_service: usize,
    /// Target names admitted in all services; bounded by `target_budget`.
    targets_admitted: usize,
    target_budget: usize,
}

impl Limits {
    /// Caps from the configuration.
    pub fn new(max_services: usize, max_targets_per_service: usize, max_series: usize) -> Self {
        Limits {
            services: ValueLimit::new(max_services),
            per_service: HashMap::default(),
            protocols: ValueLimit::new(MAX_PROTOCOL_VERSIONS),
            max_targets_per_service,
            targets_admitted: 0,
            target_budget: max_series,
        }
    }

    /// The operation's label values after every cap, seen at `now`; each overflow is
    /// counted.
    pub fn admit<'a>(
        &mut self,
        op: &'a Operation,
        now: u32,
        telemetry: &Telemetry,
    ) -> Admitted<'a> {
        let protocol = op.protocol_version.as_deref().unwrap_or_default();
        let protocol = self.protocols.admit(protocol, now).unwrap_or_else(|| {
            telemetry.series_overflow("mcp_protocol_version");
            OTHER
        });
        let service = op.service.name.as_str();
        // A service with limits was admitted: one lookup on the usual path.
        let limits = match self.per_service.get_mut(service) {
            Some(limits) => {
                self.services.known(service, now);
                limits
            }
            None => {
                if self.services.admit(service, now).is_none() {
                    telemetry.series_overflow("service_name");
                    return Admitted {
                        service: OTHER,
                        method: OTHER,
                        target: if op.target.is_some() { OTHER } else { "" },
                        error_type: if op.outcome.is_error() { OTHER } else { "" },
                        protocol,
                    };
                }
                let max_targets = self.max_targets_per_service;
                self.per_service
                    .entry(service.to_owned())
                    .or_insert_with(|| ServiceLimits {
                        targets: ValueLimit::new(max_targets),
                        other_methods: ValueLimit::new(MAX_OTHER_METHODS_PER_SERVICE),
                        error_types: ValueLimit::new(MAX_ERROR_TYPES_PER_SERVICE),
                    })
            }
        };
        let method = match &op.method {
            crate::mcp::operation::Method::Other(name) => {
                limits.other_methods.admit(name, now).unwrap_or_else(|| {
                    telemetry.series_overflow("mcp_method_name");
                    OTHER
                })
            }
            known => known.as_str(),
        };
        let target = match &op.target {
            None => "",
            Some(target) => {
                let before = limits.targets.len();
                let admitted = if self.targets_admitted < self.target_budget {
                    limits.targets.admit(&target.name, now)
                } else {
                    limits.targets.known(&target.name, now)
                };
                self.targets_admitted += limits.targets.len() - before;
                admitted.unwrap_or_else(|| {
                    telemetry.series_overflow(target_label(op));
                    OTHER
                })
            }
        };
        let error_type = match op.outcome.error_type() {
            None => "",
            Some(kind) => limits.error_types.admit(kind, now).unwrap_or_else(|| {
                telemetry.series_overflow("error_type");
                OTHER
            }),
        };
        Admitted {
            service,
            method,
            target,
            error_type,
            protocol,
        }
    }
}

impl Limits {
    /// Forgets every value not seen since `before`, and the limits of services not seen
    /// since then; counts what each label forgot.
    pub fn forget_idle(&mut self, before: u32, telemetry: &Telemetry) {
        let services = self.services.forget_idle(before);
        telemetry.label_values_forgotten("service_name", services);
        telemetry
            .label_values_forgotten("mcp_protocol_version", self.protocols.forget_idle(before));
        let (mut targets, mut methods, mut errors) = (0, 0, 0);
        let known = &self.services;
        self.per_service.retain(|service, limits| {
            let kept = known.seen.contains_key(service);
            if kept {
                targets += limits.targets.forget_idle(before);
                methods += limits.other_methods.forget_idle(before);
                errors += limits.error_types.forget_idle(before);
            } else {
                targets += limits.targets.len();
                methods += limits.other_methods.len();
                errors += limits.error_types.len();
            }
            kept
        });
        self.targets_admitted = self.targets_admitted.saturating_sub(targets);
        telemetry.label_values_forgotten("target", targets);
        telemetry.label_values_forgotten("mcp_method_name", methods);
        telemetry.label_values_forgotten("error_type", errors);
    }
}

fn target_label(op: &Operation) -> &'static str {
    use crate::mcp::operation::TargetKind;
    match op.target.as_ref().map(|t| t.kind) {
        Some(TargetKind::Prompt) => "gen_ai_prompt_name",
        Some(TargetKind::Resource) => "mcp_resource_uri",
        _ => "gen_ai_tool_name",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_limit_admits_up_to_the_cap_then_refuses_new_values() {
        let mut limit = ValueLimit::new(2);
        assert_eq!(limit.admit("a", 0), Some("a"));
        assert_eq!(limit.admit("b", 0), Some("b"));
        assert_eq!(limit.admit("c", 0), None);
        assert_eq!(limit.admit("a", 5), Some("a"), "known values stay");
        assert_eq!(limit.admit("", 0), Some(""), "empty is not a value");
        assert_eq!(limit.len(), 2);
    }

    #[test]
    fn a_full_cap_makes_room_once_its_values_idle() {
        let mut limit = ValueLimit::new(2);
        limit.admit("junk-1", 0);
        limit.admit("junk-2", 20);
        limit.admit("add", 30);
        assert_eq!(limit.admit("new-tool", 30), None, "full");
        assert_eq!(limit.forget_idle(10), 1, "junk-1 idle since 0");
        assert_eq!(limit.admit("new-tool", 40), Some("new-tool"));
        assert_eq!(limit.admit("junk-1", 40), None, "and the cap still holds");
    }
}
