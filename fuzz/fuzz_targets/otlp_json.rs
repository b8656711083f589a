//! OTLP/JSON bodies of the three signals, as `POST /v1/{traces,logs,metrics}` with
//! `application/json` reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcol::receiver::{otlp_json, validate};
use mcpcol::trimmed::TraceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    match otlp_json::decode_traces(data) {
        Ok(request) => {
            // What the receiver does next: encode once, read that as the hot path does.
            let (trimmed, bytes) =
                TraceRequest::from_full(&request).expect("JSON strings are UTF-8");
            assert_eq!(trimmed.span_count(), validate::count_spans(&request));
            // The encoding is what is forwarded: it must decode whole again.
            let again = ExportTraceServiceRequest::decode(bytes.clone())
                .expect("the forwarded encoding of an accepted JSON request decodes");
            assert_eq!(again.encode_to_vec(), bytes);
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    match otlp_json::decode_logs(data) {
        Ok(request) => {
            let again = ExportLogsServiceRequest::decode(&request.encode_to_vec()[..])
                .expect("an accepted JSON request encodes to valid protobuf");
            assert_eq!(
                validate::count_log_records(&again),
                validate::count_log_records(&request)
            );
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    match otlp_json::decode_metrics(data) {
        Ok(request) => {
            let again = ExportMetricsServiceRequest::decode(&request.encode_to_vec()[..])
                .expect("an accepted JSON request encodes to valid protobuf");
            assert_eq!(
                validate::count_data_points(&again),
                validate::count_data_points(&request)
            );
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
});
