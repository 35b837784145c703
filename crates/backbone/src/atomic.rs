//! Writing a file so that a crash leaves the old file or the new one, never a torn one: the
//! one helper behind weights, checkpoints, histories and plots.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Gives `tmp` the permissions of the file it is about to replace at `path`, if any: a
/// file rewritten in place keeps its mode (a rename would give the new file the default).
/// A new file gets the mode the process gives new files (on Unix `0o666` less the umask),
/// whatever mode the writer of `tmp` chose (some create private `0o600` files).
pub fn keep_permissions(tmp: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(old) => std::fs::set_permissions(tmp, old.permissions()),
        Err(_) => default_permissions(tmp),
    }
}

/// Sets `file`'s mode to the one new files get (`0o666` less the process's umask, read from
/// `/proc/self/status`; `0o022` where it cannot be read).
#[cfg(unix)]
fn default_permissions(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|octal| u32::from_str_radix(&octal, 8).ok())
        .unwrap_or(0o022);
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o666 & !umask))
}

/// Elsewhere new files keep the permissions their writer gave them.
#[cfg(not(unix))]
fn default_permissions(_file: &Path) -> std::io::Result<()> {
    Ok(())
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_new_file_gets_the_mode_of_new_files_and_a_replaced_one_keeps_its_own() {
        let dir = std::env::temp_dir().join(format!("atomic-modes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.join("plain");
        std::fs::File::create(&plain).unwrap();
        // A private temporary (as some writers make it) renamed to a new name.
        let (tmp, target) = (dir.join("t.tmp"), dir.join("t"));
        std::fs::write(&tmp, b"new").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        persist(&tmp, &target).unwrap();
        assert_eq!(mode(&target), mode(&plain), "as File::create makes it");
        // Replacing a file keeps that file's mode.
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&target, b"newer").unwrap();
        assert_eq!(mode(&target), 0o640);
        assert_eq!(std::fs::read(&target).unwrap(), b"newer");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
