"""A live MCP session exporting its spans to mcpcol.

    mcp_live.py client --endpoint http://127.0.0.1:PORT --server sdk|fastmcp

The client (the MCP Python SDK's ClientSession, with the SDK's own telemetry) starts
the chosen server as a child process over stdio and makes these calls, in order:
initialize, tools/list, tools/call add (ok), tools/call fail (isError), resources/read
greeting, prompts/get review, ping. The server is either the SDK's MCPServer (the SDK's
own OpenTelemetry spans) or a fastmcp 4 FastMCP (fastmcp's native telemetry). Both
processes export every span over OTLP/HTTP to --endpoint and flush before exiting.
Prints one JSON line per call with what the client saw.
"""

import argparse
import asyncio
import json
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def setup_tracing(service: str, endpoint: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def run_server(kind: str, endpoint: str) -> None:
    provider = setup_tracing(f"live-{kind}-server", endpoint)
    if kind == "sdk":
        from mcp.server.mcpserver import MCPServer

        server = MCPServer("live-sdk-server")
    else:
        from fastmcp import FastMCP

        server = FastMCP("live-fastmcp-server")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ValueError(f"deliberate failure: {reason}")

    @server.resource("live://greeting")
    def greeting() -> str:
        """A greeting."""
        return "hello"

    @server.prompt()
    def review(code: str) -> str:
        """Ask for a review."""
        return f"Please review: {code}"

    try:
        server.run("stdio")
    finally:
        provider.shutdown()


async def run_client(kind: str, endpoint: str) -> None:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    provider = setup_tracing(f"live-{kind}-client", endpoint)
    params = StdioServerParameters(
        command=sys.executable,
        args=[os.path.abspath(__file__), "server", "--endpoint", endpoint, "--server", kind],
        env=dict(os.environ),
    )

    def report(step, ok, is_error=None):
        print(json.dumps({"step": step, "ok": ok, "isError": is_error}), flush=True)

    # The server's own logs (fastmcp's banner, tracebacks of the failing tool) are noise here.
    errlog = open(os.devnull, "w")
    async with stdio_client(params, errlog=errlog) as streams:
        async with ClientSession(*streams) as session:
            await session.initialize()
            report("initialize", True)
            await session.list_tools()
            report("tools/list", True)
            for tool, args in (("add", {"a": 2, "b": 3}), ("fail", {"reason": "boom"})):
                result = await session.call_tool(tool, args)
                report(f"tools/call {tool}", True, bool(result.is_error))
            await session.read_resource("live://greeting")
            report("resources/read", True)
            await session.get_prompt("review", {"code": "x = 1"})
            report("prompts/get review", True)
            try:
                await session.send_ping()
                report("ping", True)
            except Exception as err:  # noqa: BLE001 - report what the client saw
                report("ping", False, str(err))
    provider.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--server", choices=["sdk", "fastmcp"], required=True)
    args = parser.parse_args()
    if args.role == "server":
        run_server(args.server, args.endpoint)
    else:
        asyncio.run(run_client(args.server, args.endpoint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
