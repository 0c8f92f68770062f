//! Standard output of the commands, without panics.
//!
//! `println!` panics when stdout cannot be written (`> /dev/full`, a closed
//! pipe). The commands print through [`outln!`](crate::outln) and
//! [`out!`](crate::out) instead: the first failure is kept and later
//! writes are skipped, and the binary asks [`finish`] at the end, which
//! flushes and reports the failure (exit 3: the environment failed). A
//! reader that stops early (`preflight fit … | head`) is not a failure:
//! writing just stops.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write failed or the reader went away: nothing more is written.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// The first failure other than a closed pipe.
static FAILURE: Mutex<Option<io::Error>> = Mutex::new(None);

fn record(e: io::Error) {
    STOPPED.store(true, Ordering::Relaxed);
    if e.kind() == io::ErrorKind::BrokenPipe {
        return;
    }
    if let Ok(mut f) = FAILURE.lock()
        && f.is_none()
    {
        *f = Some(e);
    }
}

/// Writes formatted text to stdout (used by [`out!`](crate::out)).
pub fn write_fmt(args: fmt::Arguments<'_>) {
    if STOPPED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = io::stdout().lock().write_fmt(args) {
        record(e);
    }
}

/// Writes `text` to stdout as it is.
pub fn write_str(text: &str) {
    write_fmt(format_args!("{text}"));
}

/// Flushes stdout and returns the first write failure, if any (a closed
/// pipe is not one).
pub fn finish() -> Result<(), io::Error> {
    if !STOPPED.load(Ordering::Relaxed)
        && let Err(e) = io::stdout().lock().flush()
    {
        record(e);
    }
    match FAILURE.lock() {
        Ok(mut f) => f.take().map_or(Ok(()), Err),
        Err(_) => Ok(()),
    }
}

/// `print!` that never panics (see [`console`](crate::console)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write_fmt(format_args!($($arg)*))
    };
}

/// `println!` that never panics (see [`console`](crate::console)).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::write_str("\n")
    };
    ($($arg:tt)*) => {
        $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}
