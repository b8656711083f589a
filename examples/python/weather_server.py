"""A fastmcp weather server whose spans go to mcpcol.

fastmcp 4 (and the MCP Python SDK 2) emit OpenTelemetry spans on their own through the
OpenTelemetry API; all a server adds is an SDK tracer provider with an OTLP exporter — the
block marked below. The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (default
http://localhost:4318) and the service name from OTEL_SERVICE_NAME.

    OTEL_SERVICE_NAME=weather-py python weather_server.py            # stdio
"""

# --- the lines a Python MCP server adds -------------------------------------------------
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

trace.set_tracer_provider(TracerProvider())  # flushed at exit
trace.get_tracer_provider().add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
# ------------------------------------------------------------------------------------------

from fastmcp import FastMCP  # noqa: E402  (after the provider, so fastmcp finds it)

mcp = FastMCP("weather")


@mcp.tool()
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"{city}: 18°C, light rain"


@mcp.tool()
def get_alerts(city: str) -> str:
    """Weather alerts for a city; fails for cities it does not know."""
    if city != "Paris":
        raise ValueError(f"no alert feed for {city}")
    return "no alerts"


@mcp.resource("weather://forecast/today")
def forecast() -> str:
    """Today's forecast."""
    return "sunny later"


@mcp.prompt()
def packing_list() -> str:
    """What to pack for the forecast."""
    return "Pack an umbrella."


if __name__ == "__main__":
    mcp.run("stdio")
