//! The example order system run as real processes on 127.0.0.1: what
//! `cargo xtask demo` shows and what `cargo xtask e2e` checks.
//!
//! - [`process`]: a service binary as a child process, stopped by process id;
//! - [`system`]: payments, inventory and orders wired to an OTLP receiver;
//! - [`load`]: a bounded load of orders, each the root of a known trace;
//! - [`abuse`]: a bounded battery of bad requests;
//! - [`prometheus`]: a real Prometheus server and PromQL queries;
//! - [`waterfall`]: one trace drawn across the services;
//! - [`viewer`]: throughline-viewer as the collector, and a headless browser on it.

pub mod abuse;
pub mod load;
pub mod process;
pub mod prometheus;
pub mod system;
pub mod viewer;
pub mod waterfall;
