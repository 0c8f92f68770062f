//! Reading the files a user names: scenarios, the data files a scenario
//! names (empirical distributions, `historical_faults:`), incident
//! histories and calibration maps.
//!
//! The rules (`docs/limits.md`, "Files"):
//!
//! - Only **regular files** are read (after following symlinks): a FIFO, a
//!   device such as `/dev/zero` or a directory is refused before a byte is
//!   read, so nothing reads without bound.
//! - Every file has a **size cap** ([`MAX_SCENARIO_BYTES`],
//!   [`MAX_DATA_FILE_BYTES`]), checked on the open handle and enforced while
//!   reading, so a file that grows after the check is still bounded.
//! - A file a **scenario names** is resolved relative to the scenario's
//!   folder and must lie inside it once symlinks and `..` are resolved,
//!   unless the user allows reading elsewhere ([`FileAccess::Anywhere`],
//!   `--allow-external-files`). A scenario is often written by someone else
//!   (a shared pipeline's gate, a worker pool): it must not be able to read,
//!   and echo in an error, a file such as `/etc/shadow`.
//! - Messages about a file that is not in the expected format never quote
//!   its content beyond what identifies the problem (a CSV's column names
//!   are shown; an arbitrary first line is not).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest scenario file read (16 MiB). A scenario of 10,000 resources is
/// under 2 MiB in any of the three formats.
pub const MAX_SCENARIO_BYTES: u64 = 16 * 1024 * 1024;

/// Largest data file read: an empirical distribution's CSV, an incident
/// history (CSV or Parquet), a calibration map (256 MiB).
pub const MAX_DATA_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Where the files a scenario names may be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileAccess {
    /// Inside the scenario's folder (the default).
    #[default]
    ScenarioFolder,
    /// Anywhere the user running Preflight may read (`--allow-external-files`).
    Anywhere,
}

impl FileAccess {
    /// [`Anywhere`](FileAccess::Anywhere) when `allow` (the flag
    /// `--allow-external-files`), else the scenario's folder.
    pub fn allowing_external(allow: bool) -> FileAccess {
        if allow {
            FileAccess::Anywhere
        } else {
            FileAccess::ScenarioFolder
        }
    }

    /// Whether files outside the scenario's folder may be read.
    pub fn allows_external(self) -> bool {
        self == FileAccess::Anywhere
    }
}

/// Human-readable size: `256 MiB`, `16 MiB`, `1.5 KiB`, `12 B`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Opens `path` for reading when it is a regular file of at most `max`
/// bytes; the message says what is wrong otherwise (without the path: the
/// caller names the file its own way).
pub fn open_regular(path: &Path, max: u64) -> Result<File, String> {
    // Refuse FIFOs and devices before opening: opening a FIFO blocks.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    check_meta(&meta, max)?;
    let file = File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    // And again on the handle, in case the path changed in between.
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    check_meta(&meta, max)?;
    Ok(file)
}

fn check_meta(meta: &std::fs::Metadata, max: u64) -> Result<(), String> {
    if meta.is_dir() {
        return Err("it is a directory, not a file".to_string());
    }
    if !meta.is_file() {
        return Err(
            "it is not a regular file (a FIFO, socket or device is not read: copy the data to a file)"
                .to_string(),
        );
    }
    if meta.len() > max {
        return Err(format!(
            "the file is {}, over the limit of {} (docs/limits.md)",
            format_bytes(meta.len()),
            format_bytes(max)
        ));
    }
    Ok(())
}

/// Reads a regular file of at most `max` bytes (see [`open_regular`]).
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = open_regular(path, max)?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "the file grew past the limit of {} while it was read",
            format_bytes(max)
        ));
    }
    Ok(bytes)
}

/// Resolves `name`, as a scenario file `scenario_file` writes it, relative
/// to the scenario's folder; with [`FileAccess::ScenarioFolder`] the result
/// must lie inside that folder once symlinks and `..` are resolved. The
/// message says why not (naming the file as written, never its content).
pub fn resolve_named(
    scenario_file: &Path,
    name: &str,
    access: FileAccess,
) -> Result<PathBuf, String> {
    let dir = scenario_dir(scenario_file);
    let joined = dir.join(name);
    if access == FileAccess::Anywhere {
        return Ok(joined);
    }
    let real_dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve the scenario's folder: {e}"))?;
    let real = match joined.canonicalize() {
        Ok(p) => p,
        // Missing: the reader says so; but a path that leaves the folder
        // lexically is refused whether it exists or not.
        Err(_) if !leaves_lexically(Path::new(name)) => return Ok(joined),
        Err(_) => return Err(outside_message(name)),
    };
    if real.starts_with(&real_dir) {
        Ok(joined)
    } else {
        Err(outside_message(name))
    }
}

fn scenario_dir(scenario_file: &Path) -> &Path {
    match scenario_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn leaves_lexically(p: &Path) -> bool {
    use std::path::Component;
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return true,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    false
}

fn outside_message(name: &str) -> String {
    format!(
        "`{name}` is outside the scenario's folder (after following symlinks); a scenario reads \
         only files in its own folder and below unless you pass --allow-external-files"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(format_bytes(12), "12 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(MAX_SCENARIO_BYTES), "16 MiB");
        assert_eq!(format_bytes(MAX_DATA_FILE_BYTES), "256 MiB");
    }

    #[test]
    fn paths_that_climb_out_are_seen_without_touching_the_disk() {
        assert!(leaves_lexically(Path::new("../x.csv")));
        assert!(leaves_lexically(Path::new("a/../../x.csv")));
        assert!(leaves_lexically(Path::new("/etc/shadow")));
        assert!(!leaves_lexically(Path::new("a/../x.csv")));
        assert!(!leaves_lexically(Path::new("./data/x.csv")));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_folder_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        let inner = dir.path().join("s");
        std::fs::create_dir(&inner).unwrap();
        std::os::unix::fs::symlink(outside.path(), inner.join("link.csv")).unwrap();
        std::fs::write(inner.join("ok.csv"), "a\n1\n").unwrap();
        let scenario = inner.join("x.yaml");
        let e = resolve_named(&scenario, "link.csv", FileAccess::ScenarioFolder).unwrap_err();
        assert!(e.contains("outside the scenario's folder"), "{e}");
        assert!(resolve_named(&scenario, "link.csv", FileAccess::Anywhere).is_ok());
        assert!(resolve_named(&scenario, "ok.csv", FileAccess::ScenarioFolder).is_ok());
        assert!(resolve_named(&scenario, "../x.csv", FileAccess::ScenarioFolder).is_err());
        // Missing files inside the folder pass here; the reader reports them.
        assert!(resolve_named(&scenario, "missing.csv", FileAccess::ScenarioFolder).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_not_read() {
        let e = read_regular(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(dir.path(), 1024).unwrap_err();
        assert!(e.contains("directory"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let e = read_regular(&big, 1024).unwrap_err();
        assert!(e.contains("over the limit of 1 KiB"), "{e}");
        assert_eq!(read_regular(&big, 4096).unwrap().len(), 2048);
    }
}
