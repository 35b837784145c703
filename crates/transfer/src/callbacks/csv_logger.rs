//! Keras' `CSVLogger`: one CSV row of logs per epoch.

use std::path::PathBuf;

use crate::callbacks::{Callback, Logs, python_repr};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::history::write_atomically;
use crate::trainer::Trainer;

/// Keras' `CSVLogger(filename, separator=",", append=False)`: a header `epoch` + the
/// epoch's log names sorted (with `val_` copies when the first epoch had no validation),
/// then one row per epoch, figures as Python prints them, `NA` for one not logged. With
/// `append`, rows go after an existing file's (a header only if it was empty). The file is
/// rewritten atomically after every epoch, so a crash leaves the rows of the epochs done.
pub struct CsvLogger {
    filename: PathBuf,
    separator: String,
    append: bool,
    keys: Option<Vec<String>>,
    text: String,
}

impl CsvLogger {
    /// Writes to `filename`, comma-separated, replacing an existing file.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        Self { filename: filename.into(), separator: ",".into(), append: false, keys: None, text: String::new() }
    }

    /// The field separator.
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// Whether to add to an existing file (a resumed run) instead of replacing it.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }
}

impl<H: ClassifierHead> Callback<H> for CsvLogger {
    fn on_train_begin(&mut self, _trainer: &mut Trainer<H>) -> Result<()> {
        self.keys = None;
        self.text = match self.append && self.filename.exists() {
            true => std::fs::read_to_string(&self.filename)
                .map_err(|source| TransferError::Io { path: self.filename.clone(), source })?,
            false => String::new(),
        };
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _trainer: &mut Trainer<H>) -> Result<()> {
        let keys = self.keys.get_or_insert_with(|| {
            let mut keys: Vec<String> = logs.keys().map(str::to_string).collect();
            keys.sort();
            if !keys.iter().any(|key| key.starts_with("val_")) {
                let validation: Vec<String> = keys.iter().map(|key| format!("val_{key}")).collect();
                keys.extend(validation);
            }
            if self.text.is_empty() {
                self.text = format!("epoch{}{}\r\n", self.separator, keys.join(&self.separator));
            }
            keys
        });
        let mut row = epoch.to_string();
        for key in keys.iter() {
            row.push_str(&self.separator);
            row.push_str(&logs.get(key).map(python_repr).unwrap_or_else(|| "NA".into()));
        }
        self.text.push_str(&row);
        self.text.push_str("\r\n");
        write_atomically(&self.filename, self.text.as_bytes())
    }
}
