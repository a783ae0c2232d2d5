//! The builder methods of [`ClientInstrumentation`](super::ClientInstrumentation),
//! on the adapters that wrap one, so that every client layer is configured
//! with the same names: `HttpClientLayer` here, throughline-reqwest's
//! `TracingMiddleware`.

/// Forwards [`ClientInstrumentation`](crate::client::ClientInstrumentation)'s
/// builder methods to a type with a field `instrumentation` holding one.
/// Not for use outside throughline.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_client_setters {
    () => {
        /// Writes the outgoing context with `propagator`, whatever the
        /// process installed (`ClientInstrumentation::propagator`).
        pub fn propagator(mut self, propagator: $crate::client::Propagator) -> Self {
            self.instrumentation = self.instrumentation.propagator(propagator);
            self
        }

        /// Asks this head sampler, rather than the process-wide one, whether a
        /// call is recorded (`ClientInstrumentation::head_sampling`).
        pub fn head_sampling(mut self, head: $crate::client::HeadSampling) -> Self {
            self.instrumentation = self.instrumentation.head_sampling(head);
            self
        }

        /// Builds a recorded call's span with `provider`'s tracer, directly
        /// (`ClientInstrumentation::tracer_provider`).
        pub fn tracer_provider(mut self, provider: &impl $crate::client::SpanTracerProvider) -> Self {
            self.instrumentation = self.instrumentation.tracer_provider(provider);
            self
        }

        /// Writes the outgoing context with the global OpenTelemetry propagator
        /// (`ClientInstrumentation::global_propagator`).
        pub fn global_propagator(mut self) -> Self {
            self.instrumentation = self.instrumentation.global_propagator();
            self
        }

        /// Emits the stable attribute names only, or the old ones too
        /// (`ClientInstrumentation::semconv_stability`).
        pub fn semconv_stability(mut self, stability: $crate::semconv::SemconvStability) -> Self {
            self.instrumentation = self.instrumentation.semconv_stability(stability);
            self
        }

        /// Redacts these query keys in `url.full`, in place of the conventions'
        /// list (`ClientInstrumentation::query_redaction`).
        pub fn query_redaction(mut self, redaction: $crate::semconv::QueryRedaction) -> Self {
            self.instrumentation = self.instrumentation.query_redaction(redaction);
            self
        }

        /// Also redacts the value of `key` in `url.full`
        /// (`ClientInstrumentation::redact_query_key`).
        pub fn redact_query_key(mut self, key: impl Into<std::borrow::Cow<'static, str>>) -> Self {
            self.instrumentation = self.instrumentation.redact_query_key(key);
            self
        }

        /// Never sends context headers (nor the deadline) to these hosts
        /// (`ClientInstrumentation::no_propagation_to`).
        pub fn no_propagation_to<I, H>(mut self, hosts: I) -> Self
        where
            I: IntoIterator<Item = H>,
            H: Into<String>,
        {
            self.instrumentation = self.instrumentation.no_propagation_to(hosts);
            self
        }

        /// Never sends context headers to a host for which `skip` is true
        /// (`ClientInstrumentation::no_propagation_when`).
        pub fn no_propagation_when(mut self, skip: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
            self.instrumentation = self.instrumentation.no_propagation_when(skip);
            self
        }

        /// Sends the remaining deadline on `header`, or on none
        /// (`ClientInstrumentation::deadline_header`).
        pub fn deadline_header(mut self, header: Option<$crate::__private::HeaderName>) -> Self {
            self.instrumentation = self.instrumentation.deadline_header(header);
            self
        }

        /// Records `http.client.request.duration` with `provider` rather than
        /// the global one (`ClientInstrumentation::meter_provider`).
        pub fn meter_provider(mut self, provider: &impl $crate::__private::MeterProvider) -> Self {
            self.instrumentation = self.instrumentation.meter_provider(provider);
            self
        }

        /// Records no metric: spans and injection only
        /// (`ClientInstrumentation::without_metrics`).
        pub fn without_metrics(mut self) -> Self {
            self.instrumentation = self.instrumentation.without_metrics();
            self
        }
    };
}
