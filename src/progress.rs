//! Progress bars on stderr for the engine's tasks (`sim_engine::progress`),
//! drawn only when stderr is a terminal.

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

/// Installs the bars when stderr is a terminal (nothing is drawn into a
/// pipe or a log file).
pub fn install() {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        sim_engine::progress::set_sink(Box::new(Bars));
    }
}
