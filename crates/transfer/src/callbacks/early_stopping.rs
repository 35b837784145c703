//! Keras' `EarlyStopping`: stop when the monitored figure has stopped improving.

use crate::callbacks::monitor::warn_missing;
use crate::callbacks::{Callback, Logs, Mode};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::trainer::{Trainer, Weights};

/// Keras 2.15's `EarlyStopping(monitor="val_loss", min_delta=0, patience=0, verbose=0,
/// mode="auto", baseline=None, restore_best_weights=False, start_from_epoch=0)`, with the
/// same rules: an epoch improves when `current - min_delta` beats the best so far (signs
/// by mode; `auto` is `max` for names ending in `acc`, `accuracy` or `auc`); training stops
/// at the end of the epoch where `patience` epochs in a row did not improve (never after the
/// first epoch); with `restore_best_weights`, the weights of the best epoch (or of the first
/// monitored one, if none improved) are restored when it stops.
///
/// ```
/// let early = transfer::EarlyStopping::new("val_loss").patience(3).restore_best_weights(true);
/// ```
pub struct EarlyStopping {
    monitor: String,
    min_delta: f64,
    patience: usize,
    verbose: u8,
    mode: Mode,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    state: State,
}

/// What a run has seen so far (reset at the start of each `fit`).
struct State {
    wait: usize,
    stopped_epoch: usize,
    best: f64,
    best_epoch: usize,
    best_weights: Option<Weights>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new("val_loss")
    }
}

impl EarlyStopping {
    /// Monitors `monitor` (Keras' default: `val_loss`) with Keras' other defaults.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self {
            monitor: monitor.into(),
            min_delta: 0.0,
            patience: 0,
            verbose: 0,
            mode: Mode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            state: State { wait: 0, stopped_epoch: 0, best: f64::INFINITY, best_epoch: 0, best_weights: None },
        }
    }

    /// Smallest change that counts as an improvement (its sign is ignored, as Keras does).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement after which training stops.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// 1 prints when it stops and restores weights.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Which way the figure improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the figure must beat before the patience count restarts.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to restore the weights of the best epoch when training stops.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Epochs to wait before monitoring starts (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch training stopped at (0 when it did not stop early), as Keras' `stopped_epoch`.
    pub fn stopped_epoch(&self) -> usize {
        self.state.stopped_epoch
    }

    /// The best epoch seen (Keras' `best_epoch`).
    pub fn best_epoch(&self) -> usize {
        self.state.best_epoch
    }

    /// The best value seen (Keras' `best`).
    pub fn best(&self) -> f64 {
        self.state.best
    }

    fn higher_is_better(&self) -> bool {
        self.mode.higher_is_better(&self.monitor, |name| {
            name.ends_with("acc") || name.ends_with("accuracy") || name.ends_with("auc")
        })
    }

    /// Keras' `_is_improvement`: `monitor_op(current - min_delta, reference)`, the delta
    /// signed against the direction of improvement.
    fn is_improvement(&self, current: f64, reference: f64) -> bool {
        match self.higher_is_better() {
            true => current - self.min_delta > reference,
            false => current + self.min_delta < reference,
        }
    }
}

impl<H: ClassifierHead> Callback<H> for EarlyStopping {
    fn monitored(&self) -> Option<&str> {
        Some(&self.monitor)
    }

    fn on_train_begin(&mut self, _trainer: &mut Trainer<H>) -> Result<()> {
        let best = if self.higher_is_better() { f64::NEG_INFINITY } else { f64::INFINITY };
        self.state = State { wait: 0, stopped_epoch: 0, best, best_epoch: 0, best_weights: None };
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        let Some(current) = logs.get(&self.monitor) else {
            warn_missing("Early stopping", &self.monitor, logs);
            return Ok(());
        };
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.state.best_weights.is_none() {
            self.state.best_weights = Some(trainer.get_weights()?);
        }
        self.state.wait += 1;
        if self.is_improvement(current, self.state.best) {
            self.state.best = current;
            self.state.best_epoch = epoch;
            if self.restore_best_weights {
                self.state.best_weights = Some(trainer.get_weights()?);
            }
            if self.baseline.is_none_or(|baseline| self.is_improvement(current, baseline)) {
                self.state.wait = 0;
            }
            return Ok(());
        }
        if self.state.wait >= self.patience && epoch > 0 {
            self.state.stopped_epoch = epoch;
            trainer.request_stop();
            if let (true, Some(weights)) = (self.restore_best_weights, &self.state.best_weights) {
                if self.verbose > 0 {
                    println!("Restoring model weights from the end of the best epoch: {}.", self.state.best_epoch + 1);
                }
                trainer.set_weights(weights)?;
            }
        }
        Ok(())
    }

    fn on_train_end(&mut self, _logs: &Logs, _trainer: &mut Trainer<H>) -> Result<()> {
        if self.state.stopped_epoch > 0 && self.verbose > 0 {
            println!("Epoch {}: early stopping", self.state.stopped_epoch + 1);
        }
        Ok(())
    }
}
