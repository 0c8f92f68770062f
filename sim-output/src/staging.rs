//! Atomic publication of a run directory.
//!
//! Files are written into a staging directory beside the output directory
//! (`.{name}.tmp-{pid}-{nanos}`, same parent, hence the same file system).
//! Publishing renames an existing output directory aside
//! (`.{name}.old-{pid}-{nanos}`), renames the staging directory into place,
//! then deletes the old one. A crash at any point leaves complete results at
//! the output path, or at the `.old-` path in the instant between the two
//! renames; [`recover`] (run when the next writer is created) puts such a
//! stranded `.old-` directory back and deletes staging directories whose
//! process is gone.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::OutputError;

/// The file whose presence marks a directory as a run directory.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";

/// Staging directories of this process not yet published or removed, for
/// [`remove_unfinished`] (a signal handler). Publishing holds the lock
/// while it renames, so a handler never runs between the two renames.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deletes every staging directory of this process that is not published
/// yet, and returns how many there were. For a handler of SIGINT or SIGTERM
/// that then exits: published results and the previous results of an
/// output directory are never touched. Blocks while a publication is
/// renaming, so the output directory is never left moved aside.
pub fn remove_unfinished() -> usize {
    let mut live = unfinished();
    let n = live.len();
    for path in live.drain(..) {
        let _ = fs::remove_dir_all(&path);
    }
    n
}

const TMP_TAG: &str = "tmp";
const OLD_TAG: &str = "old";

/// Splits an output path into its parent directory (`.` when it has none)
/// and its final name.
pub(crate) fn split_out_dir(out_dir: &Path) -> Result<(PathBuf, OsString), OutputError> {
    let name = out_dir
        .file_name()
        .ok_or_else(|| OutputError::InvalidOutDir {
            path: out_dir.to_owned(),
            reason: "the path has no final directory name".to_string(),
        })?
        .to_owned();
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// Largest `manifest.json` read when deciding whether a directory is a run
/// directory.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Checks that `out_dir` may be replaced: it does not exist, or it is an
/// empty directory, or it is provably a run directory: its `manifest.json`
/// is a run's manifest (`"tool": "preflight"`, a `files` list and
/// `row_counts`) and every other entry is a regular file that manifest
/// lists. Anything else — a symlink, a file, a directory with one file a
/// run did not write — is refused, so that `--out` never deletes a user's
/// files.
pub(crate) fn check_replaceable(out_dir: &Path) -> Result<(), OutputError> {
    let refuse = |reason: String| {
        Err(OutputError::NotARunDir {
            path: out_dir.to_owned(),
            reason,
        })
    };
    let meta = match fs::symlink_metadata(out_dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::io("inspect", out_dir, e)),
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(out_dir)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return Err(OutputError::InvalidOutDir {
            path: out_dir.to_owned(),
            reason: format!(
                "it is a symbolic link{target}: results replace the directory itself, which would \
                 replace the link; give the directory it points to, or another path"
            ),
        });
    }
    if !meta.is_dir() {
        return Err(OutputError::InvalidOutDir {
            path: out_dir.to_owned(),
            reason: "it exists and is not a directory".to_string(),
        });
    }
    let mut others = Vec::new();
    let mut has_manifest = false;
    let entries = fs::read_dir(out_dir).map_err(|e| OutputError::io("read", out_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| OutputError::io("read", out_dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| OutputError::io("inspect", entry.path(), e))?;
        let name = entry.file_name();
        if name == EXPORT_DIR && kind.is_dir() {
            // `preflight export`'s default place: replaced with the run
            // (exports of the old results would be stale) when every
            // folder in it is provably an export.
            if let Err(why) = check_exports(&out_dir.join(EXPORT_DIR)) {
                return refuse(why);
            }
            continue;
        }
        if name == crate::REPORT_FILE && crate::is_report(&entry.path()) {
            // `preflight report`'s default place: its page of these
            // results, replaced with them.
            continue;
        }
        if !kind.is_file() {
            return refuse(format!(
                "it holds `{}`, which is not a regular file, and a run writes only files",
                name.to_string_lossy()
            ));
        }
        if name == MANIFEST_FILE {
            has_manifest = true;
        } else {
            others.push(name);
        }
    }
    if !has_manifest {
        if others.is_empty() {
            return Ok(());
        }
        return refuse("it is not empty and has no manifest.json".to_string());
    }
    let listed = match read_run_manifest(&out_dir.join(MANIFEST_FILE)) {
        Ok(files) => files,
        Err(why) => return refuse(format!("its manifest.json {why}")),
    };
    others.sort();
    if let Some(extra) = others
        .iter()
        .find(|n| !n.to_str().is_some_and(|n| listed.iter().any(|l| l == n)))
    {
        return refuse(format!(
            "it holds `{}`, which its manifest does not list as a result file",
            extra.to_string_lossy()
        ));
    }
    Ok(())
}

/// The folder of a run directory where `preflight export` writes by default.
pub const EXPORT_DIR: &str = "export";

/// The file whose presence marks a directory as an export's.
pub const EXPORT_INDEX: &str = "index.json";

/// `dir` (a run directory's `export/`) holds only export directories.
fn check_exports(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("`{EXPORT_DIR}` cannot be read: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("`{EXPORT_DIR}` cannot be read: {e}"))?;
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => check_export_dir(&path).map_err(|why| {
                format!(
                    "it holds `{EXPORT_DIR}/{}`, which {why}",
                    entry.file_name().to_string_lossy()
                )
            })?,
            _ => {
                return Err(format!(
                    "it holds `{EXPORT_DIR}/{}`, which no export wrote",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    Ok(())
}

/// Whether `dir` is provably an export's directory: its `index.json` says
/// `"tool": "preflight"` with the export's `format` and lists every other
/// entry, each a regular file. `Err` says why not.
pub fn check_export_dir(dir: &Path) -> Result<(), String> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Marker {
        tool: String,
        #[allow(dead_code)] // required to be present, not read
        format: String,
        files: Vec<String>,
    }
    let index = dir.join(EXPORT_INDEX);
    let mut bytes = Vec::new();
    fs::File::open(&index)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|_| format!("has no readable {EXPORT_INDEX}"))?;
    let marker: Marker = serde_json::from_slice(&bytes)
        .ok()
        .filter(|m: &Marker| m.tool == crate::manifest::TOOL)
        .ok_or_else(|| format!("has an {EXPORT_INDEX} that is not an export's"))?;
    for entry in fs::read_dir(dir).map_err(|e| format!("cannot be read: {e}"))? {
        let entry = entry.map_err(|e| format!("cannot be read: {e}"))?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let listed = name == EXPORT_INDEX
            || name
                .to_str()
                .is_some_and(|n| marker.files.iter().any(|f| f == n));
        if !is_file || !listed {
            return Err(format!(
                "holds `{}`, which its {EXPORT_INDEX} does not list",
                name.to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// A directory of files written in a staging directory beside `out_dir`
/// and published in one rename, replacing `out_dir` only when it is
/// provably an export's directory ([`check_export_dir`]) or empty.
#[derive(Debug)]
pub struct ExportStaging {
    staging: StagingDir,
    out_dir: PathBuf,
    parent: PathBuf,
    name: OsString,
}

impl ExportStaging {
    /// Checks that `out_dir` may be replaced, then creates the staging
    /// directory beside it (and its parents).
    pub fn create(out_dir: &Path) -> Result<ExportStaging, OutputError> {
        check_export_replaceable(out_dir)?;
        let (parent, name) = split_out_dir(out_dir)?;
        recover(&parent, &name, out_dir);
        Ok(ExportStaging {
            staging: StagingDir::create(&parent, &name)?,
            out_dir: out_dir.to_owned(),
            parent,
            name,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Puts the files in place of `out_dir`.
    pub fn publish(self) -> Result<(), OutputError> {
        self.staging.publish_with(
            &self.out_dir,
            &self.parent,
            &self.name,
            check_export_replaceable,
        )
    }
}

fn check_export_replaceable(out_dir: &Path) -> Result<(), OutputError> {
    match fs::symlink_metadata(out_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutputError::io("inspect", out_dir, e)),
        Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {
            let empty = fs::read_dir(out_dir)
                .map_err(|e| OutputError::io("read", out_dir, e))?
                .next()
                .is_none();
            if empty {
                return Ok(());
            }
            check_export_dir(out_dir).map_err(|reason| OutputError::NotAnExportDir {
                path: out_dir.to_owned(),
                reason,
            })
        }
        Ok(_) => Err(OutputError::InvalidOutDir {
            path: out_dir.to_owned(),
            reason: "it exists and is not a directory (or is a symbolic link)".to_string(),
        }),
    }
}

/// The `files` list of a run's `manifest.json`, or why the file is not one.
fn read_run_manifest(path: &Path) -> Result<Vec<String>, &'static str> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(|_| "cannot be read")?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| "cannot be read")?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err("is larger than any run writes");
    }
    // Only the fields that mark a run directory: a manifest of an older or
    // newer version with other fields still counts.
    #[derive(serde::Deserialize)]
    struct Marker {
        tool: String,
        files: Vec<String>,
        #[allow(dead_code)] // required to be present, not read
        row_counts: std::collections::BTreeMap<String, u64>,
    }
    let not_ours =
        "is not a run's manifest (no `\"tool\": \"preflight\"`, `files` and `row_counts`)";
    let marker: Marker = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) if e.is_syntax() || e.is_eof() => return Err("is not a run's manifest (not JSON)"),
        Err(_) => return Err(not_ours),
    };
    if marker.tool != crate::manifest::TOOL {
        return Err(not_ours);
    }
    Ok(marker.files)
}

/// `parent/.{name}.{tag}-{pid}-{nanos}`.
fn sibling(parent: &Path, name: &OsStr, tag: &str, nanos: u128) -> PathBuf {
    let mut file_name = OsString::from(".");
    file_name.push(name);
    file_name.push(format!(".{tag}-{}-{nanos}", std::process::id()));
    parent.join(file_name)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Creates a fresh directory `parent/.{name}.{tag}-{pid}-{nanos}`.
fn create_unique_sibling(parent: &Path, name: &OsStr, tag: &str) -> Result<PathBuf, OutputError> {
    let start = now_nanos();
    let mut last_err = None;
    // Bounded: a clash needs the same pid and the same nanosecond.
    for bump in 0..64 {
        let path = sibling(parent, name, tag, start + bump);
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(OutputError::io("create directory", path, e)),
        }
    }
    let path = sibling(parent, name, tag, start);
    Err(OutputError::io(
        "create directory",
        path,
        last_err.unwrap_or_else(|| io::Error::other("no unique name found")),
    ))
}

/// A path `parent/.{name}.{tag}-{pid}-{nanos}` that does not exist yet.
fn free_sibling(parent: &Path, name: &OsStr, tag: &str) -> PathBuf {
    let start = now_nanos();
    (0..64)
        .map(|bump| sibling(parent, name, tag, start + bump))
        .find(|p| fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| sibling(parent, name, tag, start + 64))
}

/// Syncs a directory, so that renames and new entries in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), OutputError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| OutputError::io("sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The staging directory of a run being written. Removed on drop unless it
/// was published.
#[derive(Debug)]
pub(crate) struct StagingDir {
    path: PathBuf,
    armed: bool,
}

impl StagingDir {
    /// Creates `parent/.{name}.tmp-{pid}-{nanos}`, creating `parent` first if needed.
    pub(crate) fn create(parent: &Path, name: &OsStr) -> Result<StagingDir, OutputError> {
        fs::create_dir_all(parent).map_err(|e| OutputError::io("create directory", parent, e))?;
        let mut live = unfinished();
        let path = create_unique_sibling(parent, name, TMP_TAG)?;
        live.push(path.clone());
        Ok(StagingDir { path, armed: true })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces `out_dir` (in `parent`, named `name`) by this directory.
    ///
    /// Order: sync the staging directory; rename an existing `out_dir` aside;
    /// rename the staging directory to `out_dir`; sync `parent`; delete the
    /// old directory. When the second rename fails the old directory is put
    /// back. A failure to delete the old directory is only logged: the new
    /// results are in place, and [`recover`] deletes it later.
    pub(crate) fn publish(
        self,
        out_dir: &Path,
        parent: &Path,
        name: &OsStr,
    ) -> Result<(), OutputError> {
        self.publish_with(out_dir, parent, name, check_replaceable)
    }

    /// [`StagingDir::publish`], with the rule for what `out_dir` may be.
    pub(crate) fn publish_with(
        mut self,
        out_dir: &Path,
        parent: &Path,
        name: &OsStr,
        replaceable: fn(&Path) -> Result<(), OutputError>,
    ) -> Result<(), OutputError> {
        sync_dir(&self.path)?;
        replaceable(out_dir)?;
        // No signal handler runs until the renames are done.
        let mut live = unfinished();
        let old = if fs::symlink_metadata(out_dir).is_ok() {
            let old = free_sibling(parent, name, OLD_TAG);
            fs::rename(out_dir, &old).map_err(|e| OutputError::io("move aside", out_dir, e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = fs::rename(&self.path, out_dir) {
            if let Some(old) = &old
                && let Err(back) = fs::rename(old, out_dir)
            {
                tracing::error!(
                    "could not put the previous results back from {} to {}: {back}",
                    old.display(),
                    out_dir.display()
                );
            }
            return Err(OutputError::io("move results into", out_dir, e));
        }
        self.armed = false;
        live.retain(|p| *p != self.path);
        drop(live);
        sync_dir(parent)?;
        if let Some(old) = old
            && let Err(e) = fs::remove_dir_all(&old)
        {
            tracing::warn!("could not delete previous results {}: {e}", old.display());
        }
        Ok(())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        unfinished().retain(|p| *p != self.path);
        if self.armed
            && let Err(e) = fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(
                "could not delete unfinished results {}: {e}",
                self.path.display()
            );
        }
    }
}

/// A sibling directory left by an earlier writer, parsed from its name.
struct Leftover {
    path: PathBuf,
    tag: &'static str,
    pid: u32,
    nanos: u128,
}

fn parse_leftover(parent: &Path, name: &OsStr, entry: &OsStr) -> Option<Leftover> {
    let entry_bytes = entry.as_encoded_bytes();
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let rest = entry_bytes.strip_prefix(prefix.as_encoded_bytes())?;
    let rest = std::str::from_utf8(rest).ok()?;
    let (tag, rest) = rest.split_once('-')?;
    let tag = [TMP_TAG, OLD_TAG].into_iter().find(|t| *t == tag)?;
    let (pid, nanos) = rest.split_once('-')?;
    Some(Leftover {
        path: parent.join(entry),
        tag,
        pid: pid.parse().ok()?,
        nanos: nanos.parse().ok()?,
    })
}

/// Whether the process `pid` may still be running (and writing). Conservative:
/// true wherever it cannot be told.
fn process_may_live(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        Path::new("/proc").join(pid.to_string()).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// Cleans up after writers of `out_dir` that were killed: deletes their
/// staging directories and, when `out_dir` is missing because a writer died
/// between its two renames, puts the newest previous results back. Only
/// directories of processes that are gone are touched. Problems are logged,
/// not returned: recovery never stops a new run.
pub(crate) fn recover(parent: &Path, name: &OsStr, out_dir: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let mut stale: Vec<Leftover> = entries
        .filter_map(Result::ok)
        .filter_map(|e| parse_leftover(parent, name, &e.file_name()))
        .filter(|l| !process_may_live(l.pid))
        .collect();
    if stale.is_empty() {
        return;
    }
    // Newest previous results first.
    stale.sort_by_key(|l| std::cmp::Reverse(l.nanos));
    let mut restored = fs::symlink_metadata(out_dir).is_ok();
    for leftover in stale {
        if leftover.tag == OLD_TAG && !restored {
            match fs::rename(&leftover.path, out_dir) {
                Ok(()) => {
                    restored = true;
                    tracing::warn!(
                        "restored previous results {} from {} (a run was killed while replacing them)",
                        out_dir.display(),
                        leftover.path.display()
                    );
                    continue;
                }
                Err(e) => tracing::warn!(
                    "could not restore {} from {}: {e}",
                    out_dir.display(),
                    leftover.path.display()
                ),
            }
        }
        match fs::remove_dir_all(&leftover.path) {
            Ok(()) => tracing::info!("deleted leftover {}", leftover.path.display()),
            Err(e) => tracing::warn!("could not delete leftover {}: {e}", leftover.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_out_dir_handles_bare_and_nested_names() {
        let (parent, name) = split_out_dir(Path::new("run")).unwrap();
        assert_eq!(
            (parent.as_path(), name.as_os_str()),
            (Path::new("."), OsStr::new("run"))
        );
        let (parent, name) = split_out_dir(Path::new("reports/x/")).unwrap();
        assert_eq!(
            (parent.as_path(), name.as_os_str()),
            (Path::new("reports"), OsStr::new("x"))
        );
        assert!(split_out_dir(Path::new("/")).is_err());
        assert!(split_out_dir(Path::new("a/..")).is_err());
    }

    #[test]
    fn leftover_names_round_trip() {
        let p = sibling(Path::new("/r"), OsStr::new("x.y"), OLD_TAG, 42);
        let l = parse_leftover(Path::new("/r"), OsStr::new("x.y"), p.file_name().unwrap()).unwrap();
        assert_eq!((l.tag, l.pid, l.nanos), (OLD_TAG, std::process::id(), 42));
        assert_eq!(l.path, p);
        // Another run directory's leftovers are not ours.
        assert!(parse_leftover(Path::new("/r"), OsStr::new("x"), p.file_name().unwrap()).is_none());
    }
}
