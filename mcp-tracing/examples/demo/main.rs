//! An rmcp weather server and a client that drives it, both instrumented with mcp-tracing and
//! exporting to a local mcpcol (OTLP/HTTP on 127.0.0.1:4318 unless OTEL_EXPORTER_OTLP_* say
//! otherwise).
//!
//!     mcpcol run &                                   # or: mcpcol demo
//!     cargo run -p mcp-tracing --example demo
//!
//! The client starts this same binary with `--serve-stdio` as its server (the usual stdio
//! setup), so client and server are two processes with their own service names, and the
//! server's spans are children of the client's through `traceparent` in `params._meta`.

mod handler;

use std::error::Error;

use mcp_tracing::{TracedPeer, TracedServer, Tracing};
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;

const SERVE_FLAG: &str = "--serve-stdio";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    if std::env::args().any(|arg| arg == SERVE_FLAG) {
        return serve().await;
    }
    drive().await
}

/// The server: stdout carries the protocol, so nothing else may print there.
async fn serve() -> Result<(), Box<dyn Error>> {
    let _guard = mcp_tracing::init("weather-server")?;
    let server = TracedServer::new(handler::Weather)
        .with_transport("pipe")
        .serve(rmcp::transport::stdio())
        .await?;
    server.waiting().await?;
    Ok(())
}

fn city(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), name.into());
    arguments
}

async fn drive() -> Result<(), Box<dyn Error>> {
    let _guard = Tracing::new("weather-client").install()?;
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command.arg(SERVE_FLAG);
    let client = ().serve(TokioChildProcess::new(command)?).await?;
    let peer = TracedPeer::new(client.peer().clone()).with_transport("pipe");

    let tools = peer.list_tools(None).await?;
    println!("tools/list: {} tools", tools.tools.len());
    for (tool, place) in [
        ("get_weather", "Paris"),
        ("get_alerts", "Paris"),
        ("get_alerts", "Atlantis"),
    ] {
        let result = peer
            .call_tool(CallToolRequestParams::new(tool).with_arguments(city(place)))
            .await?;
        let outcome = if result.is_error == Some(true) {
            "isError"
        } else {
            "ok"
        };
        println!("tools/call {tool} {place}: {outcome}");
    }
    match peer
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Ok(_) => println!("tools/call get_weather without city: unexpectedly ok"),
        Err(error) => println!("tools/call get_weather without city: {error}"),
    }
    let forecast = peer
        .read_resource(ReadResourceRequestParams::new(handler::FORECAST_URI))
        .await?;
    println!("resources/read: {} contents", forecast.contents.len());
    let prompt = peer
        .get_prompt(GetPromptRequestParams::new("packing_list"))
        .await?;
    println!("prompts/get: {} messages", prompt.messages.len());

    client.cancel().await?;
    println!("done; spans flush on exit");
    Ok(())
}
