//! Progress on stderr for the engine's tasks (`sim_engine::progress`): bars
//! on a terminal, and a plain line every few seconds anywhere else (a CI
//! log, a file), so that a long command is never silent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sim_engine::progress::{ProgressSink, ProgressView};

/// Draws each engine task as an indicatif bar.
struct Bars;

struct Bar(indicatif::ProgressBar);

impl ProgressSink for Bars {
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressView> {
        let template = if label == "campaigns" {
            "{spinner} campaigns {pos}/{len} [{bar:30}] {per_sec} eta {eta}".to_string()
        } else {
            format!("{label} {{bar:30}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})")
        };
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Box::new(Bar(bar))
    }
}

impl ProgressView for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Off a terminal: one line per task at most every `every`.
struct Lines {
    every: Duration,
}

/// How often a task off a terminal reports, unless
/// `PREFLIGHT_PROGRESS_EVERY` (seconds) says otherwise.
const LINE_EVERY: Duration = Duration::from_secs(10);

struct Line {
    every: Duration,
    label: String,
    done: AtomicU64,
    total: AtomicU64,
    start: Instant,
    /// When the last line was printed, and how many were.
    last: Mutex<(Instant, u32)>,
}

impl ProgressSink for Lines {
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressView> {
        let now = Instant::now();
        Box::new(Line {
            every: self.every,
            label: label.to_owned(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(total),
            start: now,
            last: Mutex::new((now, 0)),
        })
    }
}

impl Line {
    fn report(&self, done: u64, end: bool) {
        let total = self.total.load(Ordering::Relaxed).max(done);
        let secs = self.start.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = if end || rate <= 0.0 {
            String::new()
        } else {
            format!(", about {:.0} s to go", (total - done) as f64 / rate)
        };
        eprintln!(
            "preflight: {}: {done}/{total} ({:.0}%) in {secs:.0} s{eta}",
            self.label,
            100.0 * done as f64 / total.max(1) as f64
        );
    }
}

impl ProgressView for Line {
    fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        // Only one thread prints; the others go on counting.
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.0.elapsed() >= self.every {
            *last = (Instant::now(), last.1 + 1);
            self.report(done, false);
        }
    }

    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    fn finish(&self) {
        // A task that reported while it ran says that it ended.
        let printed = self.last.lock().map_or(0, |l| l.1);
        if printed > 0 {
            self.report(self.done.load(Ordering::Relaxed), true);
        }
    }
}

/// Installs bars when stderr is a terminal, lines otherwise (every 10 s, or
/// every `PREFLIGHT_PROGRESS_EVERY` seconds).
pub fn install() {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        sim_engine::progress::set_sink(Box::new(Bars));
    } else {
        let every = std::env::var("PREFLIGHT_PROGRESS_EVERY")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(LINE_EVERY, Duration::from_secs_f64);
        sim_engine::progress::set_sink(Box::new(Lines { every }));
    }
}
