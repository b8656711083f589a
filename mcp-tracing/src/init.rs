//! One call that wires `tracing` to an OTLP exporter with a batch processor.

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot build the OTLP span exporter: {0} (check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http/protobuf)")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed: {0} (call mcp_tracing::init once, early in main, or use Tracing::layer with your own subscriber)")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the tracer provider alive; flushes and shuts it down on drop, so the last spans are
/// exported before the process exits.
#[must_use = "spans are flushed when the guard is dropped; keep it until main returns"]
#[derive(Debug)]
pub struct Guard {
    provider: SdkTracerProvider,
}

impl Guard {
    /// The provider, for tests or for adding span processors.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Errors here mean the collector was unreachable at exit; the exporter already logged.
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Builder for the tracing setup; [`init`] is `Tracing::new(name).install()`.
#[derive(Debug, Clone)]
pub struct Tracing {
    service_name: String,
    log_to_stderr: bool,
}

impl Tracing {
    /// `service_name` is used unless `OTEL_SERVICE_NAME` (or `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_to_stderr: false,
        }
    }

    /// Also print `tracing` events to stderr (stdout belongs to the stdio transport).
    pub fn log_to_stderr(mut self, on: bool) -> Self {
        self.log_to_stderr = on;
        self
    }

    /// A tracer provider that exports over OTLP with a batch processor. The exporter honours
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub fn provider(&self) -> Result<SdkTracerProvider, InitError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder().build()?;
        Ok(SdkTracerProvider::builder()
            .with_resource(self.resource())
            .with_batch_exporter(exporter)
            .build())
    }

    fn resource(&self) -> Resource {
        // The env detectors run inside `Resource::builder()`; only fill in the name if they
        // found none, so OTEL_SERVICE_NAME wins.
        let detected = Resource::builder().build();
        let has_env_name = std::env::var_os("OTEL_SERVICE_NAME").is_some()
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
                .map(|attributes| attributes.contains("service.name="))
                .unwrap_or(false);
        if has_env_name {
            detected
        } else {
            Resource::builder()
                .with_service_name(self.service_name.clone())
                .build()
        }
    }

    /// Install the global subscriber with an OTLP provider ([`Self::provider`]).
    pub fn install(self) -> Result<Guard, InitError> {
        let provider = self.provider()?;
        self.install_with(provider)
    }

    /// Install the global subscriber with your own provider (another exporter, or an
    /// in-memory one in tests). The OpenTelemetry layer gets INFO and above whatever
    /// `RUST_LOG` says, so MCP spans (INFO) are always exported; `RUST_LOG` (default `info`)
    /// filters only the stderr logs. The W3C TraceContext propagator is installed
    /// globally unless the application already set one.
    pub fn install_with(self, provider: SdkTracerProvider) -> Result<Guard, InitError> {
        let tracer = provider.tracer("mcp-tracing");
        let otel = layer(tracer).with_filter(LevelFilter::INFO);
        let logs = self.log_to_stderr.then(|| {
            let filter =
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter)
        });
        tracing_subscriber::registry()
            .with(otel)
            .with(logs)
            .try_init()?;
        // The default global propagator is a no-op one, with no fields.
        if global::get_text_map_propagator(|propagator| propagator.fields().next().is_none()) {
            global::set_text_map_propagator(TraceContextPropagator::new());
        }
        Ok(Guard { provider })
    }
}

/// The tracing-opentelemetry layer mcp-tracing installs, for use with your own subscriber.
/// It leaves out tracing-opentelemetry's default extras (`code.*` location, `thread.*`,
/// `busy_ns`/`idle_ns`, `target`) so MCP spans carry exactly the conventions' attributes.
pub fn layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
}

/// Set up `tracing` + OpenTelemetry + OTLP export for `service_name`; keep the guard alive.
pub fn init(service_name: impl Into<String>) -> Result<Guard, InitError> {
    Tracing::new(service_name).install()
}
