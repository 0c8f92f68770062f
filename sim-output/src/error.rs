//! [`OutputError`]: everything that can go wrong while writing a run directory.

use std::io;
use std::path::PathBuf;

/// An error while writing a run directory. Every message names the path it
/// concerns, so the CLI can print it as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create directory" or "sync".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The Parquet writer (or the footer reader, when verifying) failed.
    #[error("cannot write Parquet file {}: {source}", path.display())]
    Parquet {
        /// The Parquet file concerned.
        path: PathBuf,
        /// The parquet crate's error.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Rows could not be assembled into a record batch matching the table's
    /// schema (a bug in a table definition, or a batch of the wrong schema
    /// passed to [`write_table`](crate::write_table)).
    #[error("cannot build a record batch for {}: {source}", path.display())]
    Arrow {
        /// The Parquet file the batch was meant for.
        path: PathBuf,
        /// The arrow crate's error.
        #[source]
        source: arrow::error::ArrowError,
    },

    /// `manifest.json` could not be serialized, or read back as a run's
    /// manifest.
    #[error("cannot {action} {}: {source}", path.display())]
    Json {
        /// `write` or `parse`.
        action: &'static str,
        /// The manifest's path.
        path: PathBuf,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },

    /// The output path cannot be a run directory (it has no final component,
    /// like `/` or `..`, or it names a file).
    #[error("cannot write results to {}: {reason}", path.display())]
    InvalidOutDir {
        /// The output path as given.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// The output directory exists and is not provably a run directory (a
    /// run's own manifest and only the files it lists), so replacing it
    /// could destroy someone's files.
    #[error(
        "refusing to replace {}: {reason}, so it is not provably a preflight run directory \
         (nothing in it was touched); remove it or choose another output directory",
        path.display()
    )]
    NotARunDir {
        /// The existing directory.
        path: PathBuf,
        /// What in it is not a run's.
        reason: String,
    },

    /// The output directory of an export exists and is not provably an
    /// export's (its own `index.json` and only the files it lists).
    #[error(
        "refusing to replace {}: it {reason}, so it is not provably a preflight export directory \
         (nothing in it was touched); remove it or choose another --out",
        path.display()
    )]
    NotAnExportDir {
        /// The existing directory.
        path: PathBuf,
        /// What in it is not an export's.
        reason: String,
    },
}

impl OutputError {
    /// Whether the error is the user's to fix (a bad output path: exit 2)
    /// rather than the environment's (a write that failed: exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            OutputError::InvalidOutDir { .. }
                | OutputError::NotARunDir { .. }
                | OutputError::NotAnExportDir { .. }
        )
    }

    /// Shorthand for [`OutputError::Io`].
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        OutputError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`OutputError::Parquet`].
    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        OutputError::Parquet {
            path: path.into(),
            source,
        }
    }
}
