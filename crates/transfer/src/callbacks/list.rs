//! The callbacks of one `fit` call, in Keras' order: the user's, then the history, then
//! the progress logger.

use crate::callbacks::{Callback, FitParams, Logs, ProgbarLogger};
use crate::error::Result;
use crate::fit::Trainer;
use crate::head::ClassifierHead;
use crate::history::History;

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
