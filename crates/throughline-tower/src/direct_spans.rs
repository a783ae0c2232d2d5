//! Recorded spans built directly as OpenTelemetry spans, without the
//! `tracing` bridge.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::InstrumentationScope;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Tracer, TracerProvider};

use crate::head_sampling::HeadSampling;

/// The tracer a layer builds a recorded span with, directly as an
/// OpenTelemetry span, once the head sampler has said it is recorded: a
/// server request's span, or a client call's.
///
/// A bridged `tracing` span costs what tracing-opentelemetry does for every
/// span (a builder, the layer's bookkeeping on each poll, the close); a span
/// built directly costs what the SDK does. The request's context is attached
/// while the handler runs, so that the handler's own `tracing` spans take it
/// as their parent, its outgoing calls carry it and its log lines name it;
/// events written straight in the handler reach it through
/// throughline-subscriber's `ContextEventsLayer`, which `throughline::init()`
/// installs.
///
/// There is a tracer when the layer was given a tracer provider, or when
/// its head sampling is the process-wide one and a head sampler was
/// published (`throughline::init()` publishes it with the global tracer
/// provider it describes). Otherwise the recorded span is a bridged
/// `tracing` span, as when no head sampler is known.
#[derive(Clone)]
pub struct DirectSpans {
    scope: InstrumentationScope,
    given: Option<Arc<BoxedTracer>>,
    /// The global tracer provider's tracer, taken at the first recorded
    /// request: layers are often built before `init()` runs.
    process_wide: Arc<OnceLock<BoxedTracer>>,
}

impl DirectSpans {
    /// Spans of this instrumentation scope, with the global tracer provider
    /// under process-wide head sampling.
    pub fn new(scope: InstrumentationScope) -> Self {
        Self { scope, given: None, process_wide: Arc::default() }
    }

    /// Spans built with `provider`'s tracer, whatever the head sampling.
    pub fn with_provider(self, provider: &impl SpanTracerProvider) -> Self {
        let tracer = BoxedTracer::new(Box::new(provider.tracer_with_scope(self.scope.clone())));
        Self { given: Some(Arc::new(tracer)), ..self }
    }

    /// The tracer for a request `head` has decided to record, if any.
    pub(crate) fn tracer(&self, head: HeadSampling) -> Option<&BoxedTracer> {
        match (&self.given, head) {
            (Some(tracer), _) => Some(tracer),
            (None, HeadSampling::ProcessWide) => Some(
                self.process_wide
                    .get_or_init(|| opentelemetry::global::tracer_with_scope(self.scope.clone())),
            ),
            (None, _) => None,
        }
    }
}

/// A tracer provider whose tracer a layer can keep and build spans with
/// from any thread: the SDK's, or any other whose tracer and spans are
/// `Send + Sync`.
pub trait SpanTracerProvider:
    TracerProvider<Tracer: Tracer<Span: Send + Sync + 'static> + Send + Sync + 'static>
{
}

impl<P> SpanTracerProvider for P where
    P: TracerProvider<Tracer: Tracer<Span: Send + Sync + 'static> + Send + Sync + 'static>
{
}

impl fmt::Debug for DirectSpans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSpans")
            .field("scope", &self.scope.name())
            .field("provider", &if self.given.is_some() { "given" } else { "global" })
            .finish()
    }
}
