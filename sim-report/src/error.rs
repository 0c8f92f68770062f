//! The report's error.

/// What went wrong, by who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a run directory, a table that does not read, an output path
    /// that would replace someone's file (exit 2).
    #[error("{0}")]
    Input(String),
    /// Writing the page failed (exit 3).
    #[error("{0}")]
    Environment(String),
    /// A plot could not be drawn: a bug (exit 70).
    #[error("{0}")]
    Internal(String),
}
