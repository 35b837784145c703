//! Training history: per-epoch loss and accuracy, as Keras' `History` and `CSVLogger`.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Result, TransferError};

/// One epoch's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// Epoch number, from 0 (as Keras' `CSVLogger` writes it).
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub loss: f64,
    /// Training accuracy over the epoch's samples.
    pub accuracy: f64,
    /// Validation loss, when validated.
    pub val_loss: Option<f64>,
    /// Validation accuracy, when validated.
    pub val_accuracy: Option<f64>,
}

/// What `fit` returns: one record per epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Records in epoch order.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The CSV Keras' `CSVLogger` writes: `epoch,loss,accuracy,val_loss,val_accuracy`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch,loss,accuracy,val_loss,val_accuracy\n");
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.epochs {
            let _ = writeln!(out, "{},{},{},{},{}", e.epoch, e.loss, e.accuracy, opt(e.val_loss), opt(e.val_accuracy));
        }
        out
    }

    /// Writes [`History::to_csv`] to `path` (atomically: a temporary file renamed).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomically(path, self.to_csv().as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| TransferError::Io { path: path.to_path_buf(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
