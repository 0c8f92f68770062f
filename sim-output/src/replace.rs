//! Writing one file whole or not at all.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` as a whole or not at all: into a temporary
/// file in the same folder, synced, then renamed over `path`. A reader
/// sees the old file or the new one, never a part.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_file_atomic(&path, b"old").unwrap();
        write_file_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A folder that does not exist: an error, nothing written.
        assert!(write_file_atomic(&dir.path().join("no/f.txt"), b"x").is_err());
    }
}
