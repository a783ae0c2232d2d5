//! A log writer that never makes the caller wait, and counts what it drops.

use std::io;

use opentelemetry::metrics::MeterProvider;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

/// Lines are handed to a background thread that writes them; when its queue
/// is full, a line is dropped and counted instead of blocking the thread that
/// logged. Built on tracing-appender's lossy non-blocking writer.
///
/// Keep the [`WorkerGuard`] until the end of `main`: dropping it writes what
/// is queued.
///
/// ```
/// use throughline_subscriber::{ContextLayer, Logfmt, NonBlockingWriter};
/// use tracing_subscriber::prelude::*;
///
/// let (writer, _guard) = NonBlockingWriter::stdout();
/// let dropped = writer.clone();
/// let subscriber = tracing_subscriber::registry()
///     .with(ContextLayer::new())
///     .with(Logfmt::default().layer().with_writer(writer));
/// tracing::subscriber::with_default(subscriber, || tracing::info!("ready"));
/// assert_eq!(dropped.dropped_lines(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct NonBlockingWriter {
    writer: NonBlocking,
    dropped: ErrorCounter,
}

impl NonBlockingWriter {
    /// Lines queued by default before new ones are dropped.
    pub const DEFAULT_QUEUE_LINES: usize = 128_000;

    /// Writes to standard output, with the default queue.
    pub fn stdout() -> (Self, WorkerGuard) {
        Self::new(io::stdout())
    }

    /// Writes to `out`, with the default queue.
    pub fn new(out: impl io::Write + Send + 'static) -> (Self, WorkerGuard) {
        Self::with_queue_lines(out, Self::DEFAULT_QUEUE_LINES)
    }

    /// Writes to `out`, dropping lines while `lines` wait already.
    pub fn with_queue_lines(out: impl io::Write + Send + 'static, lines: usize) -> (Self, WorkerGuard) {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(lines)
            .thread_name("throughline-log-writer")
            .finish(out);
        let dropped = writer.error_counter();
        (Self { writer, dropped }, guard)
    }

    /// How many lines were dropped because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.dropped_lines() as u64
    }

    /// Reports the dropped lines as the counter `throughline.log.lines.dropped`
    /// of `provider`, read at each collection.
    pub fn observe(&self, provider: &impl MeterProvider) {
        let dropped = self.dropped.clone();
        crate::meter_of(provider)
            .u64_observable_counter("throughline.log.lines.dropped")
            .with_unit("{line}")
            .with_description("Log lines dropped because the writer's queue was full")
            .with_callback(move |observer| observer.observe(dropped.dropped_lines() as u64, &[]))
            .build();
    }
}

impl<'a> MakeWriter<'a> for NonBlockingWriter {
    type Writer = NonBlocking;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer.clone()
    }
}
