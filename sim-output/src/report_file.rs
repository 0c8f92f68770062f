//! The report `preflight report` writes into a run directory: a file a run
//! directory may hold besides the ones its manifest lists, when it is
//! provably a report.

use std::io::Read;
use std::path::Path;

/// Where `preflight report` writes in a run directory by default.
pub const REPORT_FILE: &str = "report.html";

/// The line in a report's head that marks it as Preflight's.
pub const REPORT_MARKER: &str = r#"<meta name="generator" content="preflight report">"#;

/// Whether `path` is a report Preflight wrote: a regular file whose first
/// kilobyte holds [`REPORT_MARKER`].
pub fn is_report(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let mut head = Vec::with_capacity(1024);
    match std::fs::File::open(path) {
        Ok(f) => {
            if f.take(1024).read_to_end(&mut head).is_err() {
                return false;
            }
        }
        Err(_) => return false,
    }
    String::from_utf8_lossy(&head).contains(REPORT_MARKER)
}
