//! The forecasting library's error: bad input (exit 2 for the binary), a
//! result file that could not be written, or a bug.

/// An error of reading, forecasting or writing. Its `Display` is the whole
/// message, ready to print.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input or usage: the telemetry, a threshold, an option. The
    /// message names the file and what was expected.
    #[error("{0}")]
    Input(String),
    /// Writing `forecast.parquet` failed.
    #[error("preflight: {context}: {source}")]
    Output {
        /// What was being written.
        context: String,
        /// The writer's error.
        #[source]
        source: sim_output::OutputError,
    },
    /// A bug: something the library relies on did not hold.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Bad input or usage.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }
}
