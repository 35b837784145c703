//! Keras callbacks: code that `fit` calls at the start and end of training, of each epoch
//! and of each batch, with the figures logged so far. A callback can stop training
//! ([`Trainer::request_stop`], Keras' `model.stop_training = True`), read and set the
//! learning rate, and take or restore the model's weights.
//!
//! The built-ins follow Keras 2.15, argument names included: [`EarlyStopping`],
//! [`ModelCheckpoint`], [`ReduceLROnPlateau`], [`LearningRateScheduler`],
//! [`TerminateOnNaN`], [`CsvLogger`], [`ProgbarLogger`], and `History` (what `fit` returns).
//! As in Keras, `fit` calls the user's callbacks in the order given, then the history, then
//! the progress bar (which so shows what the others added to the logs, such as `lr`).
//!
//! A closure `|epoch, logs, trainer|` is an `on_epoch_end` callback, as the course's
//! exercise writes its stop-at-accuracy callback:
//!
//! ```
//! use transfer::{Logs, Result, Trainer, callbacks::on_epoch_end};
//! let mut stop_at_97 = on_epoch_end(|_epoch, logs: &Logs, trainer: &mut Trainer| -> Result<()> {
//!     if logs.get("accuracy").is_some_and(|accuracy| accuracy > 0.97) {
//!         println!("Reached 97% accuracy so cancelling training!");
//!         trainer.request_stop();
//!     }
//!     Ok(())
//! });
//! // trainer.fit(&mut train, config, Some(&mut validation), &mut [&mut stop_at_97])?;
//! # let _ = &mut stop_at_97;
//! ```

mod csv_logger;
mod early_stopping;
mod list;
mod logs;
mod model_checkpoint;
mod monitor;
mod progbar;
mod python_format;
mod reduce_lr;
mod scheduler;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub(crate) use list::CallbackList;
pub use logs::Logs;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use progbar::{ProgbarLogger, Verbosity};
pub use python_format::{fill_template, python_repr};
pub use reduce_lr::ReduceLROnPlateau;
pub use scheduler::LearningRateScheduler;
pub use terminate_on_nan::TerminateOnNaN;

use crate::error::Result;
use crate::head::{ClassifierHead, Head};
use crate::trainer::Trainer;

/// What `fit` tells its callbacks before training (Keras' `callback.params`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitParams {
    /// The epoch `fit` ends at (Keras' `epochs`).
    pub epochs: usize,
    /// Training steps per epoch.
    pub steps: usize,
}

/// Keras' `Callback`: every hook does nothing unless a callback overrides it. Batches are
/// numbered from 0 within their epoch, epochs from `initial_epoch`. An error from a hook
/// ends `fit` with that error.
#[allow(unused_variables)]
pub trait Callback<H: ClassifierHead = Head> {
    /// Called once before training with what `fit` will run.
    fn set_params(&mut self, params: FitParams) {}

    /// The figure this callback reads from the epoch logs (`EarlyStopping`'s `monitor`):
    /// `fit` refuses to start when neither it nor a callback logs that figure (a misspelt
    /// `"val_acc"` would otherwise never stop anything).
    fn monitored(&self) -> Option<&str> {
        None
    }

    /// The figures this callback adds to the epoch logs (`ReduceLROnPlateau`'s `lr`), which
    /// callbacks after it may monitor. A callback that adds its own figure declares it here.
    fn logged(&self) -> Vec<String> {
        Vec::new()
    }

    /// Start of `fit`.
    fn on_train_begin(&mut self, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// End of `fit`, with the last epoch's logs.
    fn on_train_end(&mut self, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// Start of an epoch.
    fn on_epoch_begin(&mut self, epoch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// End of an epoch, with its training figures (`loss`, `accuracy`) and validation ones
    /// (`val_loss`, `val_accuracy`); a callback may add figures (Keras adds `lr`).
    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// Before a training batch.
    fn on_train_batch_begin(&mut self, batch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// After a training batch, with the epoch's running `loss` and `accuracy`.
    fn on_train_batch_end(&mut self, batch: usize, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// Before the validation of an epoch.
    fn on_test_begin(&mut self, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
    /// After the validation of an epoch, with its `loss` and `accuracy` (unprefixed).
    fn on_test_end(&mut self, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        Ok(())
    }
}

/// A closure called at the end of every epoch, as a [`Callback`].
pub struct EpochEndFn<F>(F);

/// Makes `f(epoch, logs, trainer)` an `on_epoch_end` callback (the types of the closure's
/// arguments are inferred from here).
pub fn on_epoch_end<H: ClassifierHead, F>(f: F) -> EpochEndFn<F>
where
    F: FnMut(usize, &Logs, &mut Trainer<H>) -> Result<()>,
{
    EpochEndFn(f)
}

impl<H: ClassifierHead, F> Callback<H> for EpochEndFn<F>
where
    F: FnMut(usize, &Logs, &mut Trainer<H>) -> Result<()>,
{
    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        (self.0)(epoch, logs, trainer)
    }
}

/// `fit`'s record of the epochs run is a callback too (Keras' `History`).
impl<H: ClassifierHead> Callback<H> for crate::history::History {
    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _trainer: &mut Trainer<H>) -> Result<()> {
        self.epochs.push(crate::history::EpochRecord::from_logs(epoch, logs));
        Ok(())
    }
}
