"""Exports N spans to an OTLP endpoint with the official OpenTelemetry Python SDK.

Usage: export_spans.py --protocol grpc|http --endpoint URL --count N

Exits 0 only when the exporter reports success for every batch.
"""

import argparse
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult


class CountingExporter:
    """Wraps the real exporter to remember whether any export failed."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()

    if args.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=args.endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=args.endpoint)

    counting = CountingExporter(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": "python-sdk-test"}))
    provider.add_span_processor(BatchSpanProcessor(counting, max_export_batch_size=64))
    tracer = provider.get_tracer("mcpcol.tests")
    for i in range(args.count):
        with tracer.start_as_current_span("tools/call add", kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("mcp.method.name", "tools/call")
            span.set_attribute("gen_ai.tool.name", "add")
            span.set_attribute("jsonrpc.request.id", str(i))
    provider.force_flush()
    provider.shutdown()
    if counting.failures:
        print(f"{counting.failures} export(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
