//! OTLP over gRPC: the three collector services, gzip accepted.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::Viewer;

/// The largest gRPC message accepted, decompressed: 16 MiB, four times
/// what an OTLP exporter sends at most by default.
///
/// ```
/// assert_eq!(throughline_viewer::MAX_GRPC_MESSAGE_BYTES, 16 << 20);
/// ```
pub const MAX_GRPC_MESSAGE_BYTES: usize = 16 << 20;

impl Viewer {
    /// The OTLP gRPC services (traces, metrics, logs) feeding this viewer,
    /// as a tonic router to serve on a listener of your choice.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let viewer = throughline_viewer::Viewer::default();
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:4317").await?;
    /// tonic::transport::Server::builder()
    ///     .add_routes(viewer.grpc_routes())
    ///     .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn grpc_routes(&self) -> tonic::service::Routes {
        let front = Grpc(self.clone());
        tonic::service::Routes::new(
            TraceServiceServer::new(front.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        )
        .add_service(
            MetricsServiceServer::new(front.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        )
        .add_service(
            LogsServiceServer::new(front)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        )
    }
}

#[derive(Clone)]
struct Grpc(Viewer);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.ingest_traces(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.ingest_metrics(request.get_ref());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.0.ingest_logs(request.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}
