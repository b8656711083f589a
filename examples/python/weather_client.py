"""Drives weather_server.py over stdio with the MCP Python SDK client, whose own telemetry
exports CLIENT spans (and puts traceparent into params._meta, so the server's spans join the
client's trace). Both processes export to OTEL_EXPORTER_OTLP_ENDPOINT.

    mcpcol run &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python weather_client.py
"""

import asyncio
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weather_server.py")


async def main() -> None:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    provider = TracerProvider(resource=Resource.create({"service.name": "weather-py-client"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    env = dict(os.environ, OTEL_SERVICE_NAME="weather-py-server")
    params = StdioServerParameters(command=sys.executable, args=[SERVER], env=env)
    with open(os.devnull, "w") as quiet:  # the server's banner and the failing tool's traceback
        async with stdio_client(params, errlog=quiet) as streams:
            async with ClientSession(*streams) as session:
                await session.initialize()
                tools = await session.list_tools()
                print(f"tools/list: {len(tools.tools)} tools")
                for tool, city in (("get_weather", "Paris"), ("get_alerts", "Paris"), ("get_alerts", "Atlantis")):
                    result = await session.call_tool(tool, {"city": city})
                    print(f"tools/call {tool} {city}: {'isError' if result.is_error else 'ok'}")
                await session.read_resource("weather://forecast/today")
                print("resources/read: ok")
                await session.get_prompt("packing_list")
                print("prompts/get: ok")
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
