//! Shared by the setup crate's offline integration tests.

pub mod offline;
