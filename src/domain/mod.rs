//! Rules at the core of the service; depends on nothing else in the crate.

pub mod identity;
