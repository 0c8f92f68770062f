//! The library's error: what went wrong, by who can fix it.
//!
//! Every fallible entry point of the engine returns [`Error`]. The binary
//! maps it to an exit code in one place (2 for [`Error::Input`] and for an
//! output path the user must change, 3 when the environment failed); a
//! library caller (a worker, a report generator) matches on the kind.

use sim_output::OutputError;

/// An error that ends an operation of the engine. Its `Display` is the
/// whole message, ready to print (it may span several lines, one problem
/// per line, each starting `preflight: `).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input or usage: a scenario, a data file, an option. The message
    /// names the file, the field path and the line where known, and what
    /// was expected.
    #[error("{0}")]
    Input(String),
    /// Writing the run directory failed; [`OutputError::is_usage`] tells an
    /// output path the user must change from a failing environment.
    #[error("preflight: {context}: {source}")]
    Output {
        /// What was being written (`--out`, `writing reports/x`).
        context: String,
        /// The writer's error.
        #[source]
        source: OutputError,
    },
    /// The environment failed: a file could not be written, a disk is full,
    /// a thread pool could not start.
    #[error("{0}")]
    Environment(String),
}

impl Error {
    /// Bad input or usage.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    /// A failing environment.
    pub fn environment(message: impl Into<String>) -> Self {
        Error::Environment(message.into())
    }

    /// An error of the run-directory writer, with what was being written.
    pub fn output(context: impl Into<String>, source: OutputError) -> Self {
        Error::Output {
            context: context.into(),
            source,
        }
    }

    /// Whether the user can fix it by changing an input or an option (as
    /// opposed to the environment failing).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Input(_) => true,
            Error::Output { source, .. } => source.is_usage(),
            Error::Environment(_) => false,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
