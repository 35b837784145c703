//! Writing a file so that a crash leaves the old file or the new one, never a torn one: the
//! one helper behind weights, checkpoints, histories and plots.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Gives `tmp` the permissions of the file it is about to replace at `path`, if any: a
/// file rewritten in place keeps its mode (a rename would give the new file the default).
pub fn keep_permissions(tmp: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(old) => std::fs::set_permissions(tmp, old.permissions()),
        Err(_) => Ok(()),
    }
}

/// The temporary file [`write_atomically`] writes before renaming it to `path`: in the same
/// folder (a rename does not cross file systems), `path` with `.tmp` appended.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Moves a fully written `tmp` over `path`: `tmp` flushed to disk, given the replaced file's
/// permissions, renamed, and the folder flushed, so a crash at any point leaves either the
/// previous file at `path` or the new one. For writers that must write a file themselves
/// (e.g. a tensor store); [`write_atomically`] for bytes in memory.
pub fn persist(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = (|| {
        std::fs::File::open(tmp)?.sync_all()?;
        keep_permissions(tmp, path)?;
        std::fs::rename(tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Flushing a folder is not possible everywhere; the rename already happened.
        if let Ok(folder) = std::fs::File::open(folder) {
            let _ = folder.sync_all();
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder ([`persist`]), so a
/// crash at any point leaves either the previous file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_path(path);
    if let Err(e) = std::fs::File::create(&tmp).and_then(|mut file| file.write_all(bytes)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    persist(&tmp, path)
}
