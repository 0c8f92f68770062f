//! Wall and CPU time of the phases of a command, for `manifest.json`
//! (`phases`) and the `-v` log.
//!
//! A [`Mark`] is a point in time: the wall clock and the CPU time (user +
//! system, every thread) the process has used so far. [`Phases`] adds the
//! spans between marks under a phase's name, in the order the phases first
//! ran. The CPU time is read from `/proc/self/stat` (Linux; in clock ticks of
//! 1/100 s, so it resolves 10 ms); elsewhere it is `None` and only wall
//! times are recorded.

use std::time::Instant;

/// The CPU time (user + system, all threads) this process has used, in
/// seconds; `None` where `/proc/self/stat` cannot be read.
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_cpu(&stat)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are
/// counted after its closing parenthesis: field 3 (the state) comes first,
/// `utime` and `stime` are fields 14 and 15. Linux reports them in
/// `USER_HZ` ticks, which is 100 per second on every architecture it
/// supports.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// Wall and CPU seconds of a phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Span {
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// CPU seconds of the whole process (user + system) over the span;
    /// `None` where the CPU time cannot be read.
    pub cpu_s: Option<f64>,
}

impl Span {
    /// No time: zero wall and CPU seconds.
    pub const ZERO: Span = Span {
        wall_s: 0.0,
        cpu_s: Some(0.0),
    };

    /// Adds `o` to this span.
    pub fn add(&mut self, o: Span) {
        self.wall_s += o.wall_s;
        self.cpu_s = match (self.cpu_s, o.cpu_s) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

/// A point in time: the wall clock and the process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    wall: Instant,
    cpu: Option<f64>,
}

impl Mark {
    /// Now.
    pub fn now() -> Mark {
        Mark {
            wall: Instant::now(),
            cpu: process_cpu_s(),
        }
    }

    /// The span from this mark to now.
    pub fn elapsed(&self) -> Span {
        let now = Mark::now();
        self.to(&now)
    }

    /// The span from this mark to `later`.
    pub fn to(&self, later: &Mark) -> Span {
        Span {
            wall_s: later
                .wall
                .saturating_duration_since(self.wall)
                .as_secs_f64(),
            cpu_s: match (self.cpu, later.cpu) {
                (Some(a), Some(b)) => Some((b - a).max(0.0)),
                _ => None,
            },
        }
    }
}

/// Named phases in the order they first ran, each the sum of its spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Phases {
    list: Vec<(&'static str, Span)>,
}

impl Phases {
    /// Adds `span` to phase `name` (created, last, when new).
    pub fn add(&mut self, name: &'static str, span: Span) {
        match self.list.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => s.add(span),
            None => self.list.push((name, span)),
        }
    }

    /// Adds the span from `mark` to now to phase `name`, and moves `mark`
    /// to now: consecutive laps cover the time between the first mark and
    /// the last without a gap.
    pub fn lap(&mut self, name: &'static str, mark: &mut Mark) -> Span {
        let now = Mark::now();
        let span = mark.to(&now);
        *mark = now;
        self.add(name, span);
        span
    }

    /// Adds every phase of `other`.
    pub fn merge(&mut self, other: &Phases) {
        for (n, s) in &other.list {
            self.add(n, *s);
        }
    }

    /// Phase `name`'s span (zero when it never ran).
    pub fn get(&self, name: &str) -> Span {
        self.list
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Span::default(), |(_, s)| *s)
    }

    /// The phases, in the order they first ran.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Span)> + '_ {
        self.list.iter().map(|(n, s)| (*n, *s))
    }

    /// The sum of every phase.
    pub fn sum(&self) -> Span {
        let mut t = Span::ZERO;
        for (_, s) in &self.list {
            t.add(*s);
        }
        t
    }

    /// The phases and `total` as `manifest.json` records them under
    /// `phases`, seconds rounded to the millisecond; `cpu_s` is `None`
    /// where the CPU time cannot be read.
    pub fn manifest(&self, total: Span) -> sim_output::manifest::Phases {
        let all = || self.iter().chain([("total", total)]);
        sim_output::manifest::Phases {
            order: self.iter().map(|(n, _)| n.to_owned()).collect(),
            wall_s: all()
                .map(|(n, s)| (n.to_owned(), round_ms(s.wall_s)))
                .collect(),
            cpu_s: total.cpu_s.is_some().then(|| {
                all()
                    .map(|(n, s)| (n.to_owned(), s.cpu_s.map(round_ms)))
                    .collect()
            }),
        }
    }

    /// Logs every phase and `total` at info level (`-v`).
    pub fn log(&self, what: &str, total: Span) {
        for (n, s) in self.iter().chain([("total", total)]) {
            tracing::info!(
                phase = n,
                wall_s = round_ms(s.wall_s),
                cpu_s = s.cpu_s.map(round_ms),
                "{what} phase"
            );
        }
    }
}

/// Seconds rounded to the millisecond (the manifest does not pretend to
/// more).
fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_spaces_in_the_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime ...
        let line = "4242 (pre flight) R 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu(line), Some(12.9));
        assert_eq!(parse_stat_cpu("4242 (x) R 1"), None);
    }

    #[test]
    fn laps_cover_the_time_without_gaps_and_add_up_by_name() {
        let start = Mark::now();
        let mut mark = start;
        let mut p = Phases::default();
        p.lap("a", &mut mark);
        std::thread::sleep(std::time::Duration::from_millis(5));
        p.lap("b", &mut mark);
        p.lap("a", &mut mark);
        let total = start.to(&mark);
        assert_eq!(p.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["a", "b"]);
        assert!((p.sum().wall_s - total.wall_s).abs() < 1e-9);
        assert!(p.get("b").wall_s >= 0.005);
        assert_eq!(p.get("none"), Span::default());
        let m = p.manifest(total);
        assert_eq!(m.order, ["a", "b"]);
        assert!(m.wall_s["total"] >= 0.005);
        assert!(m.wall_s.contains_key("a"));
    }

    #[test]
    fn this_process_has_used_some_cpu_on_linux() {
        if cfg!(target_os = "linux") {
            let c = process_cpu_s().expect("/proc/self/stat");
            assert!(c >= 0.0);
        }
    }
}
