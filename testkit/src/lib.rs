//! Running a command in an integration test, in the manner of ripgrep's `TestCommand`.
//!
//! [`TestCommand`] builds a command and runs it through the project's one bounded runner,
//! [`ocf::command::output_with_input`] (own process group, killed on timeout). [`Ran`] is what
//! came back; its `expect_*` checks panic with the command line (environment included), the
//! exit status, the elapsed time, stdout and stderr, so a failing test explains itself without
//! a re-run.

mod command;
mod ran;

pub use command::{TestCommand, DEFAULT_TIMEOUT};
pub use ran::Ran;
