//! One writer per output folder: a lock file in the folder, held (an advisory file lock the
//! system releases when the process ends, even when it is killed) while a run writes there.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Result, TransferError};

/// The lock file's name in the folder it guards.
pub const LOCK_FILE: &str = ".inception-transfer.lock";

/// The folders this process holds locks on (canonical paths): where a checkpoint save may
/// remove every optimizer state its checkpoint does not name (no other writer can be
/// making one there).
static HELD: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A held lock on an output folder ([`OutputLock::acquire`]); released when dropped (or when
/// the process ends).
#[derive(Debug)]
pub struct OutputLock {
    folder: PathBuf,
    _file: File,
}

impl OutputLock {
    /// Makes `folder` if missing, checks that files can be written there, and takes its lock:
    /// a second run (or a second lock in this process) on the same folder is
    /// [`TransferError::OutputLocked`], naming the folder and the holder (its process id,
    /// host and start time, as it wrote them in the lock file). Two runs writing one folder
    /// would remove each other's optimizer states and pair one run's weights with the
    /// other's history.
    pub fn acquire(folder: &Path) -> Result<OutputLock> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TransferError::Io { path, source }
        };
        std::fs::create_dir_all(folder).map_err(io(folder))?;
        let canonical = folder.canonicalize().map_err(io(folder))?;
        let path = canonical.join(LOCK_FILE);
        // A link planted under the lock's name would make the write below truncate its target.
        if let Ok(meta) = std::fs::symlink_metadata(&path)
            && !meta.is_file()
        {
            return Err(TransferError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the lock file is not a regular file (a link, FIFO or folder): remove it",
                ),
            });
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io(&path))?;
        let holder = |file: &mut File| {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            match text.trim() {
                "" => "another process".to_string(),
                text => text.to_string(),
            }
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(TransferError::OutputLocked { folder: folder.to_path_buf(), holder: holder(&mut file) });
            }
            Err(TryLockError::Error(source)) => return Err(TransferError::Io { path, source }),
        }
        let mut held = HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !held.insert(canonical.clone()) {
            return Err(TransferError::OutputLocked {
                folder: folder.to_path_buf(),
                holder: format!("this process (pid {})", std::process::id()),
            });
        }
        drop(held);
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        let since =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let record = format!("pid {} on host {host:?}, since unix time {since}\n", std::process::id());
        let written = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(record.as_bytes()));
        let lock = OutputLock { folder: canonical, _file: file };
        written.map_err(io(&path))?;
        Ok(lock)
    }

    /// The folder (canonical path).
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.folder);
    }
}

/// Whether this process holds the lock of `folder` (by its canonical path).
pub(crate) fn held(folder: &Path) -> bool {
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    folder
        .canonicalize()
        .is_ok_and(|canonical| HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_has_one_lock_at_a_time() {
        let dir = std::env::temp_dir().join(format!("output-lock-{}", std::process::id()));
        let lock = OutputLock::acquire(&dir).unwrap();
        assert!(held(&dir));
        let err = OutputLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()) && err.contains("pid"), "{err}");
        drop(lock);
        assert!(!held(&dir));
        drop(OutputLock::acquire(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
