//! The callbacks of one `fit` call, in Keras' order: the user's, then the history, then
//! the progress logger.

use crate::callbacks::{Callback, FitParams, Logs, ProgbarLogger};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::history::History;
use crate::trainer::Trainer;

/// Every callback of a `fit` call, called hook by hook in order.
pub(crate) struct CallbackList<'a, 'b, H: ClassifierHead> {
    user: &'a mut [&'b mut dyn Callback<H>],
    history: History,
    progbar: Option<ProgbarLogger>,
}

impl<'a, 'b, H: ClassifierHead> CallbackList<'a, 'b, H> {
    /// The user's callbacks, a fresh history and (unless `None`) a progress logger.
    pub(crate) fn new(user: &'a mut [&'b mut dyn Callback<H>], progbar: Option<ProgbarLogger>) -> Self {
        Self { user, history: History::default(), progbar }
    }

    /// The history of the epochs run.
    pub(crate) fn into_history(self) -> History {
        self.history
    }

    /// Refuses a callback that monitors a figure no one logs: `fit` logs `loss` and
    /// `accuracy` (with `validating`, also `val_loss` and `val_accuracy`), a callback what it
    /// declares ([`Callback::logged`]). The error lists the figures there are.
    pub(crate) fn check_monitors(&self, validating: bool) -> Result<()> {
        let mut logged: Vec<String> = vec!["loss".into(), "accuracy".into()];
        if validating {
            logged.extend(["val_loss".into(), "val_accuracy".into()]);
        }
        self.user.iter().for_each(|c| logged.extend(c.logged()));
        for (index, callback) in self.user.iter().enumerate() {
            if let Some(monitor) = callback.monitored().filter(|m| !logged.iter().any(|l| l == m)) {
                let hint = match monitor.strip_prefix("val_").is_some() && !validating {
                    true => " (no validation data was given)",
                    false => "",
                };
                return Err(TransferError::Config(format!(
                    "callback {} monitors {monitor:?}, which fit does not log{hint}: the figures are {} (a callback \
                     that adds its own declares it with Callback::logged)",
                    index + 1,
                    logged.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Runs `hook` on every callback in order, stopping at the first error.
    fn each(&mut self, mut hook: impl FnMut(&mut dyn Callback<H>) -> Result<()>) -> Result<()> {
        for callback in self.user.iter_mut() {
            hook(&mut **callback)?;
        }
        hook(&mut self.history)?;
        match &mut self.progbar {
            Some(progbar) => hook(progbar),
            None => Ok(()),
        }
    }

    pub(crate) fn set_params(&mut self, params: FitParams) {
        let _ = self.each(|c| {
            c.set_params(params);
            Ok(())
        });
    }

    pub(crate) fn on_train_begin(&mut self, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_train_begin(trainer))
    }

    pub(crate) fn on_train_end(&mut self, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_train_end(logs, trainer))
    }

    pub(crate) fn on_epoch_begin(&mut self, epoch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_epoch_begin(epoch, trainer))
    }

    pub(crate) fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_epoch_end(epoch, logs, trainer))
    }

    pub(crate) fn on_train_batch_begin(&mut self, batch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_train_batch_begin(batch, trainer))
    }

    pub(crate) fn on_train_batch_end(&mut self, batch: usize, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_train_batch_end(batch, logs, trainer))
    }

    pub(crate) fn on_test_begin(&mut self, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_test_begin(trainer))
    }

    pub(crate) fn on_test_end(&mut self, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        self.each(|c| c.on_test_end(logs, trainer))
    }
}
