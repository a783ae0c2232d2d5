//! The non-blocking writer: lines get written, and when its queue is full
//! they are dropped and counted instead of blocking the caller.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use throughline_subscriber::{Logfmt, NonBlockingWriter};
use throughline_testing::Capture;
use tracing_subscriber::prelude::*;

/// An output that holds every write until it is released.
struct Gate {
    open: Arc<Mutex<mpsc::Receiver<()>>>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.open.lock().unwrap().recv();
        self.written.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_queue_drops_and_counts_lines_instead_of_blocking() {
    let (release, open) = mpsc::channel();
    let written = Arc::new(Mutex::new(Vec::new()));
    let gate = Gate { open: Arc::new(Mutex::new(open)), written: written.clone() };
    let (writer, guard) = NonBlockingWriter::with_queue_lines(gate, 4);
    let capture = Capture::new();
    writer.observe(capture.meter_provider());

    let subscriber =
        tracing_subscriber::registry().with(Logfmt::default().layer().with_writer(writer.clone()));
    let started = Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..100 {
            tracing::info!(n, "line");
        }
    });
    assert!(started.elapsed() < Duration::from_secs(5), "logging never waited on the output");

    // At most the queue and the line being written got through.
    let dropped = writer.dropped_lines();
    assert!((100 - 4 - 1..=100 - 4).contains(&dropped), "dropped {dropped}");
    assert_eq!(capture.metrics().total("throughline.log.lines.dropped", &[]), dropped as f64);

    drop(release); // the output accepts everything from now on
    drop(guard); // flushes what is queued
    let written = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    assert_eq!(written.lines().count() as u64, 100 - dropped);
    assert!(written.lines().all(|l| l.contains("message=line")), "{written}");
}

#[test]
fn lines_reach_the_output_in_order() {
    let written = Arc::new(Mutex::new(Vec::new()));
    let (release, open) = mpsc::channel();
    drop(release); // never held
    let gate = Gate { open: Arc::new(Mutex::new(open)), written: written.clone() };
    let (writer, guard) = NonBlockingWriter::new(gate);
    let subscriber = tracing_subscriber::registry()
        .with(Logfmt::default().with_timer(()).layer().with_writer(writer.clone()));
    tracing::subscriber::with_default(subscriber, || (0..10).for_each(|n| tracing::info!(n, "line")));
    drop(guard);
    let written = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    let numbers: Vec<&str> = written.lines().map(|l| l.rsplit("n=").next().unwrap()).collect();
    assert_eq!(numbers, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert_eq!(writer.dropped_lines(), 0);
}
