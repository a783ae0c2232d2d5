//! The order service of the example system.

pub mod store;
