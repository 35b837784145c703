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

/// Where a write to `path` lands: `path` itself, or, when it is a symbolic link, the file
/// it points to (links followed, relative ones from their own folder), so that the link
/// stays a link and its target gets the new content. A destination that exists and is not
/// a regular file (a folder, FIFO, socket or device) is an error naming it: such files are
/// never replaced by a regular one (as root, `/dev/null` would be).
pub fn destination(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(folder) if target.is_relative() => folder.join(target),
                    _ => target,
                };
            }
            Ok(meta) if !meta.is_file() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{} is not a regular file (a folder, FIFO, socket or device): refusing to replace it",
                        current.display()
                    ),
                ));
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{}: too many levels of symbolic links", path.display()),
    ))
}

/// The temporary file a write to `destination` goes through before its rename: in the same
/// folder (a rename does not cross file systems), hidden, named after the file and this
/// process (`.<name>.<pid>.tmp`), so that two processes never share one and a later write
/// to the same file can remove what a killed one left ([`persist`] does).
pub fn temporary_path(destination: &Path) -> PathBuf {
    let name = destination.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    destination.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Removes the temporaries ([`temporary_path`]) of writes to `destination`, and to the
/// files named after it (`<name>.<anything>`: a checkpoint's optimizer states), by
/// processes that no longer run (killed during a write). Best effort: what cannot be told
/// or removed stays.
fn remove_stale_temporaries(destination: &Path) {
    let (Some(name), Some(folder)) = (destination.file_name(), destination.parent()) else { return };
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let rest = entry_name.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".tmp"));
        // `.<name>.<pid>.tmp`, ours, or `...<pid>-<n>.tmp`, a tensor store's scratch file.
        let last = rest.map(|rest| rest.rsplit('.').next().unwrap_or(rest));
        let pid = last.map(|last| last.split('-').next().unwrap_or(last));
        if let Some(pid) = pid.and_then(|pid| pid.parse::<u32>().ok())
            && pid != std::process::id()
            && process_ended(pid)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether no process `pid` runs (Linux: no `/proc/<pid>`); elsewhere unknown, so `false`.
fn process_ended(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Moves a fully written `tmp` over `path` ([`destination`]: a link's target): `tmp`
/// flushed to disk, given the replaced file's permissions, renamed, and the folder flushed,
/// so a crash at any point leaves either the previous file or the new one. Temporaries of
/// earlier writes to the same file by processes that were killed are removed. For writers
/// that must write a file themselves (e.g. a tensor store, into
/// `temporary_path(&destination(path)?)`); [`write_atomically`] for bytes in memory.
pub fn persist(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = (|| {
        let path = destination(path)?;
        std::fs::File::open(tmp)?.sync_all()?;
        keep_permissions(tmp, &path)?;
        std::fs::rename(tmp, &path)?;
        Ok(path)
    })();
    let path = match result {
        Ok(path) => path,
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Flushing a folder is not possible everywhere; the rename already happened.
        if let Ok(folder) = std::fs::File::open(folder) {
            let _ = folder.sync_all();
        }
    }
    remove_stale_temporaries(&path);
    Ok(())
}

/// Writes `bytes` to `path` ([`destination`]: a link's target) through a temporary file in
/// the same folder ([`persist`]), so a crash at any point leaves either the previous file
/// or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_path(&destination(path)?);
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

    #[test]
    fn links_are_written_through_special_files_refused_and_killed_writers_cleaned_up() {
        let dir = std::env::temp_dir().join(format!("atomic-special-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A link keeps being a link; its target gets the content.
        let target = dir.join("target.csv");
        std::fs::write(&target, b"old").unwrap();
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink("target.csv", &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A FIFO is never replaced.
        let fifo = dir.join("fifo");
        if std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
            let err = write_atomically(&fifo, b"x").unwrap_err().to_string();
            assert!(err.contains("not a regular file") && err.contains("fifo"), "{err}");
            assert!(!std::fs::metadata(&fifo).unwrap().is_file());
        }
        assert!(write_atomically(Path::new("/dev/null"), b"x").is_err());
        // A temporary of a process that ended is removed by the next write; ours is not.
        let stale = dir.join(".target.csv.4194999.tmp");
        let stale_sibling = dir.join(".target.csv.optim-0123.4194999.tmp");
        let live = dir.join(format!(".target.csv.optim-0123.{}.tmp", std::process::id()));
        for file in [&stale, &stale_sibling, &live] {
            std::fs::write(file, b"torn").unwrap();
        }
        write_atomically(&target, b"newer").unwrap();
        assert_eq!(stale.exists(), !Path::new("/proc/self").exists());
        assert_eq!(stale_sibling.exists(), !Path::new("/proc/self").exists());
        assert!(live.exists(), "a temporary of a running process stays");
        assert_eq!(temporary_path(&target), dir.join(format!(".target.csv.{}.tmp", std::process::id())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
