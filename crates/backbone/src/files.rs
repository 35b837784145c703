//! The check every reader makes before opening a file.

use std::path::Path;

/// `Ok` for a regular file (or a link to one); a folder, FIFO, socket or device is an
/// error (reading a FIFO would block until something writes to it).
pub fn regular_file(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path)?.is_file() {
        true => Ok(()),
        false => {
            Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file (a folder, FIFO or device)"))
        }
    }
}
