//! Keras' `ModelCheckpoint`: save the model at the end of epochs, or only the best one.

use std::path::PathBuf;

use crate::callbacks::monitor::warn_missing;
use crate::callbacks::{Callback, Logs, Mode, fill_template};
use crate::checkpoint::save_checkpoint;
use crate::error::{Result, TransferError};
use crate::trainer::Trainer;

/// Keras 2.15's `ModelCheckpoint(filepath, monitor="val_loss", verbose=0,
/// save_best_only=False, save_weights_only=False, mode="auto",
/// initial_value_threshold=None)`, saving at the end of every epoch. `filepath` is a Python
/// format template filled with the 1-based epoch and the logs
/// (`weights.{epoch:02d}-{val_loss:.2f}.safetensors`); with `save_best_only` a file is
/// written only when the monitored figure beats the best so far (`auto` is `max` when the
/// name contains `acc` or starts with `fmeasure`). A full save is this crate's checkpoint
/// with the optimizer state (what `load_checkpoint` resumes from); `save_weights_only`
/// leaves the optimizer state out. Writes are atomic.
pub struct ModelCheckpoint {
    filepath: String,
    monitor: String,
    verbose: u8,
    save_best_only: bool,
    save_weights_only: bool,
    mode: Mode,
    initial_value_threshold: Option<f64>,
    class_names: Vec<String>,
    best: f64,
    saved: Vec<PathBuf>,
}

impl ModelCheckpoint {
    /// Saves to `filepath` (a template) after every epoch, monitoring `val_loss`.
    pub fn new(filepath: impl Into<String>) -> Self {
        Self {
            filepath: filepath.into(),
            monitor: "val_loss".into(),
            verbose: 0,
            save_best_only: false,
            save_weights_only: false,
            mode: Mode::Auto,
            initial_value_threshold: None,
            class_names: Vec::new(),
            best: f64::INFINITY,
            saved: Vec::new(),
        }
    }

    /// The figure `save_best_only` compares.
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// 1 prints each save (and each epoch that did not improve).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Save only when the monitored figure improves.
    pub fn save_best_only(mut self, yes: bool) -> Self {
        self.save_best_only = yes;
        self
    }

    /// Save the weights without the optimizer state.
    pub fn save_weights_only(mut self, yes: bool) -> Self {
        self.save_weights_only = yes;
        self
    }

    /// Which way the figure improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The value the first save must beat (with `save_best_only`).
    pub fn initial_value_threshold(mut self, threshold: f64) -> Self {
        self.initial_value_threshold = Some(threshold);
        self
    }

    /// Class names recorded in the checkpoint (as `load_checkpoint` returns them); by
    /// default the training data's, as `fit` found them.
    pub fn class_names(mut self, names: Vec<String>) -> Self {
        self.class_names = names;
        self
    }

    /// The files written so far, in order.
    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }

    /// The best monitored value saved so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    fn higher_is_better(&self) -> bool {
        self.mode.higher_is_better(&self.monitor, |name| name.contains("acc") || name.starts_with("fmeasure"))
    }

    fn save(&mut self, path: PathBuf, epoch: usize, trainer: &Trainer) -> Result<()> {
        if path.is_dir() {
            return Err(TransferError::Config(format!(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing directory: {}",
                path.display()
            )));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| TransferError::Io { path: parent.to_path_buf(), source })?;
        }
        let metadata = trainer.checkpoint_metadata(&self.class_names, epoch + 1);
        let optimizer = (!self.save_weights_only).then(|| trainer.optimizer());
        save_checkpoint(&path, trainer.model(), &metadata, optimizer)?;
        self.saved.push(path);
        Ok(())
    }
}

impl Callback for ModelCheckpoint {
    fn monitored(&self) -> Option<&str> {
        self.save_best_only.then_some(self.monitor.as_str())
    }

    fn on_train_begin(&mut self, _trainer: &mut Trainer) -> Result<()> {
        let worst = if self.higher_is_better() { f64::NEG_INFINITY } else { f64::INFINITY };
        self.best = self.initial_value_threshold.unwrap_or(worst);
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer) -> Result<()> {
        let path = PathBuf::from(fill_template(&self.filepath, epoch + 1, logs)?);
        if !self.save_best_only {
            if self.verbose > 0 {
                println!("\nEpoch {}: saving model to {}", epoch + 1, path.display());
            }
            return self.save(path, epoch, trainer);
        }
        let Some(current) = logs.get(&self.monitor) else {
            warn_missing("ModelCheckpoint (save_best_only)", &self.monitor, logs);
            return Ok(());
        };
        let improved = match self.higher_is_better() {
            true => current > self.best,
            false => current < self.best,
        };
        if !improved {
            if self.verbose > 0 {
                println!("\nEpoch {}: {} did not improve from {:.5}", epoch + 1, self.monitor, self.best);
            }
            return Ok(());
        }
        if self.verbose > 0 {
            println!(
                "\nEpoch {}: {} improved from {:.5} to {current:.5}, saving model to {}",
                epoch + 1,
                self.monitor,
                self.best,
                path.display()
            );
        }
        self.best = current;
        self.save(path, epoch, trainer)
    }
}
