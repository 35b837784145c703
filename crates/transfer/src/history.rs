//! Training history: per-epoch loss and accuracy, as Keras' `History` and `CSVLogger`.

use std::fmt::Write as _;
use std::path::Path;

use crate::callbacks::Logs;
use crate::error::{Result, TransferError};

const COLUMNS: &str = "epoch,loss,accuracy,val_loss,val_accuracy";

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
    /// The learning rate at the end of the epoch, when a callback logged it (Keras' `lr`,
    /// added by `ReduceLROnPlateau` and `LearningRateScheduler`).
    pub lr: Option<f64>,
}

impl EpochRecord {
    /// The record of epoch `epoch` from its logs (a figure not logged reads as NaN).
    pub fn from_logs(epoch: usize, logs: &Logs) -> Self {
        Self {
            epoch,
            loss: logs.get("loss").unwrap_or(f64::NAN),
            accuracy: logs.get("accuracy").unwrap_or(f64::NAN),
            val_loss: logs.get("val_loss"),
            val_accuracy: logs.get("val_accuracy"),
            lr: logs.get("lr"),
        }
    }
}

/// What `fit` returns: one record per epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Records in epoch order.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The history as CSV: `epoch,loss,accuracy,val_loss,val_accuracy`, and `lr` when a
    /// callback logged the learning rate (empty fields for figures not logged).
    pub fn to_csv(&self) -> String {
        let with_lr = self.epochs.iter().any(|e| e.lr.is_some());
        let mut out = String::from(COLUMNS);
        out.push_str(if with_lr { ",lr\n" } else { "\n" });
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.epochs {
            let _ = write!(out, "{},{},{},{},{}", e.epoch, e.loss, e.accuracy, opt(e.val_loss), opt(e.val_accuracy));
            out.push_str(&if with_lr { format!(",{}\n", opt(e.lr)) } else { "\n".into() });
        }
        out
    }

    /// Writes [`History::to_csv`] to `path` (atomically: a temporary file renamed).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomically(path, self.to_csv().as_bytes())
    }

    /// Reads a history written by [`History::write_csv`] (or Keras' `CSVLogger` with these
    /// columns), to append a resumed run to it.
    pub fn read_csv(path: &Path) -> Result<History> {
        let text =
            std::fs::read_to_string(path).map_err(|source| TransferError::Io { path: path.to_path_buf(), source })?;
        let bad = |line: usize, why: &str| TransferError::Csv { path: path.to_path_buf(), line, reason: why.into() };
        let mut lines = text.lines().enumerate();
        let columns = match lines.next() {
            Some((_, header)) if header == COLUMNS => 5,
            Some((_, header)) if header.strip_suffix(",lr") == Some(COLUMNS) => 6,
            _ => return Err(bad(1, &format!("expected the header {COLUMNS} (or with ,lr)"))),
        };
        let mut history = History::default();
        for (index, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != columns {
                return Err(bad(index + 1, &format!("expected {columns} fields")));
            }
            let number = |i: usize| fields[i].trim().parse::<f64>().map_err(|_| bad(index + 1, "not a number"));
            let optional = |i: usize| match fields[i].trim() {
                "" => Ok(None),
                _ => number(i).map(Some),
            };
            history.epochs.push(EpochRecord {
                epoch: fields[0].trim().parse().map_err(|_| bad(index + 1, "bad epoch number"))?,
                loss: number(1)?,
                accuracy: number(2)?,
                val_loss: optional(3)?,
                val_accuracy: optional(4)?,
                lr: if columns == 6 { optional(5)? } else { None },
            });
        }
        Ok(history)
    }

    /// The records of the epochs before `epoch` (what a run resumed at `epoch` keeps).
    pub fn up_to(mut self, epoch: usize) -> History {
        self.epochs.retain(|e| e.epoch < epoch);
        self
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never a torn one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    backbone::atomic::write_atomically(path, bytes)
        .map_err(|source| TransferError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_reads_back_what_was_written() {
        let history = History {
            epochs: vec![
                EpochRecord {
                    epoch: 0,
                    loss: 0.5,
                    accuracy: 0.75,
                    val_loss: Some(0.25),
                    val_accuracy: Some(1.0),
                    lr: None,
                },
                EpochRecord { epoch: 1, loss: 1.0 / 3.0, accuracy: 0.8, val_loss: None, val_accuracy: None, lr: None },
            ],
        };
        let path = std::env::temp_dir().join(format!("history-{}.csv", std::process::id()));
        history.write_csv(&path).unwrap();
        assert_eq!(History::read_csv(&path).unwrap(), history);
        assert_eq!(History::read_csv(&path).unwrap().up_to(1).epochs, history.epochs[..1]);
        let mut with_lr = history.clone();
        with_lr.epochs[1].lr = Some(1e-5);
        with_lr.write_csv(&path).unwrap();
        assert_eq!(History::read_csv(&path).unwrap(), with_lr);
        std::fs::write(&path, "epoch,loss\n0,1\n").unwrap();
        let err = History::read_csv(&path).unwrap_err();
        assert!(matches!(&err, TransferError::Csv { line: 1, .. }), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
