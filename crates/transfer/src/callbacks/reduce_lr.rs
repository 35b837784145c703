//! Keras' `ReduceLROnPlateau`: lower the learning rate when the monitored figure stalls.

use crate::callbacks::monitor::warn_missing;
use crate::callbacks::{Callback, Logs, Mode};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::trainer::Trainer;

/// Keras 2.15's `ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, verbose=0,
/// mode="auto", min_delta=1e-4, cooldown=0, min_lr=0)`, with the same rules: `auto` is
/// `max` when the name contains `acc`; after `patience` epochs without an improvement of
/// more than `min_delta` the rate becomes `max(lr * factor, min_lr)` (if it is above
/// `min_lr`), then `cooldown` epochs pass before counting again. It logs `lr` every epoch.
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f64,
    patience: usize,
    verbose: u8,
    mode: Mode,
    min_delta: f64,
    cooldown: usize,
    min_lr: f64,
    cooldown_counter: usize,
    wait: usize,
    best: f64,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        Self::new("val_loss")
    }
}

impl ReduceLROnPlateau {
    /// Monitors `monitor` (Keras' default: `val_loss`) with Keras' other defaults.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self {
            monitor: monitor.into(),
            factor: 0.1,
            patience: 10,
            verbose: 0,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            cooldown_counter: 0,
            wait: 0,
            best: f64::INFINITY,
        }
    }

    /// Factor the rate is multiplied by (below 1; checked when training begins).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before the rate is lowered.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// 1 prints each reduction.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Which way the figure improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Epochs after a reduction before counting resumes.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest rate.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    fn higher_is_better(&self) -> bool {
        self.mode.higher_is_better(&self.monitor, |name| name.contains("acc"))
    }

    fn improves(&self, current: f64) -> bool {
        match self.higher_is_better() {
            true => current > self.best + self.min_delta,
            false => current < self.best - self.min_delta,
        }
    }

    fn in_cooldown(&self) -> bool {
        self.cooldown_counter > 0
    }
}

impl<H: ClassifierHead> Callback<H> for ReduceLROnPlateau {
    fn monitored(&self) -> Option<&str> {
        Some(&self.monitor)
    }

    fn logged(&self) -> Vec<String> {
        vec!["lr".into()]
    }

    fn on_train_begin(&mut self, _trainer: &mut Trainer<H>) -> Result<()> {
        if self.factor >= 1.0 || self.factor.is_nan() {
            return Err(TransferError::Config(format!(
                "ReduceLROnPlateau does not support a factor >= 1.0. Got {}",
                self.factor
            )));
        }
        if self.min_lr < 0.0 || self.min_lr.is_nan() || !self.min_delta.is_finite() {
            return Err(TransferError::Config(format!(
                "ReduceLROnPlateau needs min_lr >= 0 and a finite min_delta (got {} and {})",
                self.min_lr, self.min_delta
            )));
        }
        self.best = if self.higher_is_better() { f64::NEG_INFINITY } else { f64::INFINITY };
        (self.cooldown_counter, self.wait) = (0, 0);
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        logs.set("lr", trainer.learning_rate());
        let Some(current) = logs.get(&self.monitor) else {
            warn_missing("Learning rate reduction", &self.monitor, logs);
            return Ok(());
        };
        if self.in_cooldown() {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.improves(current) {
            self.best = current;
            self.wait = 0;
        } else if !self.in_cooldown() {
            self.wait += 1;
            if self.wait >= self.patience {
                let old = trainer.learning_rate();
                // Keras compares and multiplies the float32 variable's value.
                if old > self.min_lr as f32 as f64 {
                    let new = (old * self.factor).max(self.min_lr);
                    trainer.set_learning_rate(new)?;
                    if self.verbose > 0 {
                        println!("\nEpoch {}: ReduceLROnPlateau reducing learning rate to {new}.", epoch + 1);
                    }
                    self.cooldown_counter = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(())
    }
}
