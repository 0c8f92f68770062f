//! The library's error: what went wrong, by who can fix it.
//!
//! Every fallible entry point of the engine returns [`Error`]. The binary
//! maps it to an exit code in one place (2 for [`Error::Input`] and for an
//! output path the user must change, 3 when the environment failed, 70 for
//! [`Error::Internal`], a bug); a library caller (a worker, a report
//! generator) matches on the kind.

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
    /// A bug in Preflight: something the engine relies on did not hold (a
    /// simulation delivered a message to an actor that does not handle it,
    /// so its figures would be wrong). Raised before any result file is
    /// published. The message says what failed and asks to report it with
    /// the scenario and the seed.
    #[error("{0}")]
    Internal(String),
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
            Error::Environment(_) | Error::Internal(_) => false,
        }
    }

    /// `e` itself when it is an engine [`Error`] raised inside a step that
    /// returns `anyhow` — a bug ([`Error::Internal`]) must not be reported
    /// as a failing environment, nor a damaged part of a merge
    /// ([`Error::Input`]) — else `otherwise(e)`.
    pub(crate) fn keep_internal(
        e: anyhow::Error,
        otherwise: impl FnOnce(anyhow::Error) -> Error,
    ) -> Error {
        match e.downcast::<Error>() {
            Ok(typed) => typed,
            Err(e) => otherwise(e),
        }
    }
}

impl From<sim_forecast::Error> for Error {
    fn from(e: sim_forecast::Error) -> Self {
        match e {
            sim_forecast::Error::Input(m) => Error::Input(m),
            sim_forecast::Error::Output { context, source } => Error::Output { context, source },
            sim_forecast::Error::Internal(m) => Error::Internal(m),
        }
    }
}

/// [`Error::Internal`] when a simulation counted `misrouted` messages
/// delivered to an actor that does not handle them
/// (`sim_models::campaign::CampaignResult::misrouted`, or a two-scale
/// baseline's): its figures would be silently wrong. `what` names the
/// simulation and its seed, so that it can be replayed.
pub fn check_routed(misrouted: u64, what: impl FnOnce() -> String) -> Result<()> {
    if misrouted == 0 {
        return Ok(());
    }
    Err(Error::Internal(format!(
        "preflight: internal error (a bug in Preflight): {}: {misrouted} message{} reached an actor that does not handle {}, so the figures would be wrong; no result was written. Please report it with the scenario file, the seed and the command line.",
        what(),
        if misrouted == 1 { "" } else { "s" },
        if misrouted == 1 { "it" } else { "them" },
    )))
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misrouted_message_is_an_internal_error_naming_the_simulation_and_count() {
        assert!(check_routed(0, || unreachable!("named only on failure")).is_ok());
        let e = check_routed(3, || "variant `base`, campaign 7 (seed 42)".into()).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        assert!(!e.is_usage());
        let m = e.to_string();
        assert!(m.starts_with("preflight: internal error"), "{m}");
        assert!(m.contains("variant `base`, campaign 7 (seed 42)"), "{m}");
        assert!(m.contains("3 messages reached an actor"), "{m}");
        assert!(m.contains("bug") && m.contains("report"), "{m}");
    }

    #[test]
    fn an_internal_error_inside_anyhow_stays_internal() {
        let inner = check_routed(1, || "x".into()).unwrap_err();
        let wrapped = anyhow::Error::new(inner).context("remediation");
        let e = Error::keep_internal(wrapped, |e| Error::environment(format!("{e:#}")));
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        let other = anyhow::anyhow!("disk full");
        let e = Error::keep_internal(other, |e| Error::environment(format!("{e:#}")));
        assert!(
            matches!(e, Error::Environment(ref m) if m == "disk full"),
            "{e:?}"
        );
    }
}
