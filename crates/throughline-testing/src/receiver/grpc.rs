//! The gRPC front end: the three OTLP collector services.

use std::sync::Arc;

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
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::{Answer, Shared, Signal};
use crate::received::Protocol;

pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    tls: Option<tonic::transport::ServerTlsConfig>,
) {
    let front = Grpc(shared);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = match builder.tls_config(tls) {
            Ok(builder) => builder,
            Err(error) => {
                eprintln!("throughline-testing: OTLP gRPC receiver: invalid TLS settings: {error}");
                return;
            }
        };
    }
    let served = builder
        .add_service(TraceServiceServer::new(front.clone()).accept_compressed(CompressionEncoding::Gzip))
        .add_service(MetricsServiceServer::new(front.clone()).accept_compressed(CompressionEncoding::Gzip))
        .add_service(LogsServiceServer::new(front).accept_compressed(CompressionEncoding::Gzip))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await;
    if let Err(error) = served {
        eprintln!("throughline-testing: OTLP gRPC receiver stopped: {error}");
    }
}

#[derive(Clone)]
struct Grpc(Arc<Shared>);

fn answer<T: Default>(answer: Answer) -> Result<Response<T>, Status> {
    match answer {
        Answer::Accepted => Ok(Response::new(T::default())),
        Answer::Unavailable => Err(Status::unavailable("the test receiver is failing on purpose")),
        Answer::Throttled(delay) => {
            use tonic_types::{ErrorDetails, StatusExt};
            Err(Status::with_error_details(
                tonic::Code::ResourceExhausted,
                "the test receiver throttles on purpose",
                ErrorDetails::with_retry_info(Some(delay)),
            ))
        }
        Answer::Rejected => Err(Status::invalid_argument("the test receiver rejects on purpose")),
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        answer(self.0.handle(Signal::Traces, |store| store.record_traces(Protocol::Grpc, request)).await)
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let request = request.into_inner();
        answer(self.0.handle(Signal::Metrics, |store| store.record_metrics(Protocol::Grpc, request)).await)
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let request = request.into_inner();
        answer(self.0.handle(Signal::Logs, |store| store.record_logs(Protocol::Grpc, request)).await)
    }
}
