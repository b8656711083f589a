//! OpenInference (`openinference-instrumentation-mcp`): emits **no spans** of its own.
//!
//! It wraps the MCP transports only to carry the caller's OpenTelemetry context across
//! them, so an application span inside a tool handler becomes a child of the client's
//! span, in the client's trace. There is nothing for mcpcol to recognise; what matters
//! is that the propagated context survives, and it does: mcpcol never rewrites trace,
//! span or parent ids, and forwards every span, recognised or not. In an MCP SDK 2.x
//! process the SDK's own spans (the `semconv` dialect) are what a collector sees.
//!
//! The captures `openinference-*` hold only the two application spans; the tests check
//! that they yield no operation and that the server's span sits in the client's trace.
