//! Progress of long operations, for whoever draws it.
//!
//! The engine counts (campaigns run, scenarios predicted) into a [`Task`];
//! what a task shows is up to the [`ProgressSink`] the embedding program
//! installs once with [`set_sink`] (the `preflight` binary draws progress
//! bars on a terminal). Without a sink, or when a task is started disabled,
//! counting costs an atomic add and shows nothing.

use std::sync::OnceLock;

/// Draws tasks: the embedding program's side of progress reporting.
pub trait ProgressSink: Send + Sync {
    /// A new task called `label` (`campaigns`, `predicting scenarios`) of
    /// `total` units.
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressView>;
}

/// One drawn task (see [`ProgressSink::start`]).
pub trait ProgressView: Send + Sync {
    /// `n` more units done.
    fn inc(&self, n: u64);
    /// The total changed (the run grew, or stopped early).
    fn set_total(&self, total: u64);
    /// The task is over: remove what was drawn.
    fn finish(&self);
}

static SINK: OnceLock<Box<dyn ProgressSink>> = OnceLock::new();

/// Installs the sink every later [`Task`] reports to. Once per process;
/// returns `false` (and keeps the first) when one is installed already.
pub fn set_sink(sink: Box<dyn ProgressSink>) -> bool {
    SINK.set(sink).is_ok()
}

/// A counted task: cheap to update from many threads.
pub struct Task {
    view: Option<Box<dyn ProgressView>>,
    total: std::sync::atomic::AtomicU64,
}

impl Task {
    /// Starts a task of `total` units, shown only when `enabled` and a sink
    /// is installed.
    pub fn start(label: &str, total: u64, enabled: bool) -> Task {
        let view = SINK
            .get()
            .filter(|_| enabled)
            .map(|s| s.start(label, total));
        Task {
            view,
            total: total.into(),
        }
    }

    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        if let Some(v) = &self.view {
            v.inc(n);
        }
    }

    /// The total, as last set.
    pub fn length(&self) -> u64 {
        self.total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the total.
    pub fn set_length(&self, total: u64) {
        self.total
            .store(total, std::sync::atomic::Ordering::Relaxed);
        if let Some(v) = &self.view {
            v.set_total(total);
        }
    }

    /// Adds `n` to the total.
    pub fn inc_length(&self, n: u64) {
        let total = self
            .total
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed)
            + n;
        if let Some(v) = &self.view {
            v.set_total(total);
        }
    }

    /// Ends the task and removes what was drawn.
    pub fn finish_and_clear(&self) {
        if let Some(v) = &self.view {
            v.finish();
        }
    }
}
