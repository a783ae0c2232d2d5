//! Which work is the pipeline's own export: a mark on the threads that do it,
//! so that a subscriber can leave the exporter's HTTP and gRPC clients out of
//! what it exports while the same crates in the application stay in.

use std::cell::Cell;

thread_local! {
    static EXPORTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is doing the pipeline's own export work: the
/// export thread (where every exporter's client and connections run), a
/// metric export on the SDK's reader thread, and shutdown's flush.
///
/// A subscriber filters on it so that the spans and events of hyper, h2,
/// tonic, reqwest or tower made *by the exporter* are not exported (exporting
/// them would feed the exporter its own output), while the spans of
/// `tower_http::trace` or `reqwest_tracing` in the application are; the
/// facade's `init()` does. One thread-local read.
///
/// ```
/// assert!(!throughline_pipeline::is_export_activity(), "this thread is the application's");
/// ```
pub fn is_export_activity() -> bool {
    EXPORTING.with(Cell::get)
}

/// Marks the current thread as doing export work until dropped.
pub(crate) struct ExportActivity {
    before: bool,
}

impl ExportActivity {
    pub(crate) fn enter() -> Self {
        Self { before: EXPORTING.with(|exporting| exporting.replace(true)) }
    }
}

impl Drop for ExportActivity {
    fn drop(&mut self) {
        EXPORTING.with(|exporting| exporting.set(self.before));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_lasts_for_its_scope_and_nests() {
        assert!(!is_export_activity());
        {
            let _outer = ExportActivity::enter();
            {
                let _inner = ExportActivity::enter();
                assert!(is_export_activity());
            }
            assert!(is_export_activity(), "the outer scope still holds");
        }
        assert!(!is_export_activity());
    }
}
