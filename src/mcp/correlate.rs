//! The one cross-span join the recogniser does: a tool failure seen by the server is
//! given to the client's span of the same call.
//!
//! The MCP Python SDK's client spans do not look at the result, so a tool call that
//! returns `isError: true` ends with a client span that says nothing. The server span of
//! the same call does say it (`error.type`), and it is a child of the client span (the
//! client propagates its context in `params._meta`). The server span also ends, and is
//! exported, before the client span, so when the client span arrives its server child
//! is usually known: the client operation then takes the outcome `tool_error` (what the
//! client received). If the server span arrives later or elsewhere, the client
//! operation stays as its own span said. Memory is a fixed number of recent server
//! failures, oldest forgotten first.

use std::collections::{HashSet, VecDeque};

use super::operation::{Method, Operation, Outcome, Side, TOOL_ERROR};

/// Recent server tool-call failures remembered for the join.
pub const CAPACITY: usize = 4096;

type CallKey = ([u8; 16], [u8; 8]);

/// Remembers failed server tool calls by their parent (the client's span).
#[derive(Debug, Default)]
pub struct ToolErrorJoin {
    failed: HashSet<CallKey>,
    order: VecDeque<CallKey>,
}

impl ToolErrorJoin {
    /// Records a failed server call, or marks a client call whose server child failed.
    pub fn apply(&mut self, operation: &mut Operation) {
        if operation.method != Method::ToolsCall {
            return;
        }
        match operation.side {
            Side::Server => {
                if let (Outcome::Error(_), Some(parent)) =
                    (&operation.outcome, operation.parent_span_id)
                {
                    self.remember((operation.trace_id, parent));
                }
            }
            Side::Client => {
                let key = (operation.trace_id, operation.span_id);
                if operation.outcome == Outcome::Ok && self.failed.remove(&key) {
                    operation.outcome = Outcome::Error(TOOL_ERROR.into());
                }
            }
        }
    }

    fn remember(&mut self, key: CallKey) {
        if self.failed.len() >= CAPACITY {
            while let Some(old) = self.order.pop_front() {
                if self.failed.remove(&old) {
                    break;
                }
            }
        }
        if self.failed.insert(key) {
            self.order.push_back(key);
        }
        // Keys already joined (removed from the set) may linger in `order`; trim them.
        if self.order.len() > 2 * CAPACITY {
            let failed = &self.failed;
            self.order.retain(|k| failed.contains(k));
        }
    }
}
