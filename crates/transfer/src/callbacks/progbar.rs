//! Keras' progress output (`ProgbarLogger`, `fit(verbose=...)`):
//! `37/100 [=========>....................] - ETA: 12s - loss: 0.4523 - accuracy: 0.8000`,
//! with the epoch's line ending in the validation figures (and what other callbacks logged,
//! such as `lr`) and the images per second. The bar is `indicatif`'s (redrawn at most ten
//! times a second, fitted to the terminal's width, drawn only on a terminal) in Keras'
//! layout; the epoch lines are Keras' own.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::callbacks::{Callback, FitParams, Logs, python_format};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::trainer::Trainer;

/// How much `fit` prints (Keras' `verbose` 0, 1, 2 and `"auto"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Verbosity {
    /// Nothing (Keras' 0).
    Silent,
    /// A progress bar redrawn during each epoch (Keras' 1).
    ProgressBar,
    /// One line per epoch (Keras' 2): what a log file wants.
    OneLinePerEpoch,
    /// The progress bar on a terminal, one line per epoch when standard error is
    /// redirected (Keras' `"auto"` always draws the bar).
    #[default]
    Auto,
}

impl Verbosity {
    /// Keras' integer: 0 silent, 1 progress bar, 2 one line per epoch (anything else: auto).
    pub fn from_keras(verbose: u8) -> Self {
        match verbose {
            0 => Verbosity::Silent,
            1 => Verbosity::ProgressBar,
            2 => Verbosity::OneLinePerEpoch,
            _ => Verbosity::Auto,
        }
    }

    /// `Auto` decided for this process's standard error.
    pub fn resolved(self) -> Self {
        match self {
            Verbosity::Auto if std::io::stderr().is_terminal() => Verbosity::ProgressBar,
            Verbosity::Auto => Verbosity::OneLinePerEpoch,
            other => other,
        }
    }
}

const BAR_WIDTH: usize = 30;
const REDRAWS_PER_SECOND: u8 = 10;

/// Keras' `ProgbarLogger`, printing on standard error. `fit` adds one (last, after the
/// history) unless its verbosity is silent.
pub struct ProgbarLogger {
    verbosity: Verbosity,
    params: FitParams,
    started: Instant,
    bar: Option<ProgressBar>,
    images_at_start: usize,
}

impl ProgbarLogger {
    /// A progress logger with `verbosity` (`Auto` is decided here).
    pub fn new(verbosity: Verbosity) -> Self {
        Self {
            verbosity: verbosity.resolved(),
            params: FitParams { epochs: 0, steps: 0 },
            started: Instant::now(),
            bar: None,
            images_at_start: 0,
        }
    }

    fn bar(&self, step: usize) -> String {
        let done = (BAR_WIDTH * step) / self.params.steps.max(1);
        match done >= BAR_WIDTH {
            true => "=".repeat(BAR_WIDTH),
            false => format!("{}>{}", "=".repeat(done), ".".repeat(BAR_WIDTH - done - 1)),
        }
    }

    fn images_per_second<H: ClassifierHead>(&self, trainer: &Trainer<H>) -> f64 {
        let images = trainer.images_trained() - self.images_at_start;
        images as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    fn count(&self, step: usize) -> String {
        format!("{step:>w$}/{}", self.params.steps, w = self.params.steps.to_string().len())
    }

    /// The epoch's bar, in Keras' layout: `  7/100 [==>.....] - ETA: 12s - loss: ...`.
    fn new_bar(&self) -> ProgressBar {
        let steps = self.params.steps;
        let template =
            format!("{{pos:>{}}}/{{len}} [{{bar:{BAR_WIDTH}}}] - ETA: {{eta}}{{msg}}", steps.to_string().len());
        let bar =
            ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND));
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=>."));
        }
        bar
    }
}

/// A figure as Keras' progress bar prints it: 4 decimals, or 4 significant digits in
/// scientific notation for small ones.
fn figure(x: f64) -> String {
    match (x.is_finite(), x.abs() > 1e-3) {
        (false, _) => python_format::non_finite(x),
        (true, true) => format!("{x:.4}"),
        (true, false) => python_format::exponential(x, 4),
    }
}

fn figures(logs: &Logs) -> String {
    logs.iter().map(|(name, value)| format!(" - {name}: {}", figure(value))).collect()
}

impl<H: ClassifierHead> Callback<H> for ProgbarLogger {
    fn set_params(&mut self, params: FitParams) {
        self.params = params;
    }

    fn on_epoch_begin(&mut self, epoch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        (self.started, self.images_at_start) = (Instant::now(), trainer.images_trained());
        if self.verbosity != Verbosity::Silent {
            eprintln!("Epoch {}/{}", epoch + 1, self.params.epochs);
        }
        self.bar = (self.verbosity == Verbosity::ProgressBar).then(|| self.new_bar());
        Ok(())
    }

    fn on_train_batch_end(&mut self, batch: usize, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} - {:.1} img/s", figures(logs), self.images_per_second(trainer)));
            bar.set_position(batch as u64 + 1);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_step = elapsed / self.params.steps.max(1) as f64 * 1000.0;
        let speed = self.images_per_second(trainer);
        let steps = self.params.steps;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        match self.verbosity {
            Verbosity::ProgressBar => eprintln!(
                "{} [{}] - {elapsed:.0}s {per_step:.0}ms/step{} - {speed:.1} img/s",
                self.count(steps),
                self.bar(steps),
                figures(logs)
            ),
            Verbosity::OneLinePerEpoch => eprintln!(
                "{} - {elapsed:.0}s - {per_step:.0}ms/step{} - {speed:.1} img/s",
                self.count(steps),
                figures(logs)
            ),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_as_keras_progress_bar() {
        let logs = Logs::from_pairs([("loss", 0.45231), ("accuracy", 0.8), ("lr", 1e-4), ("val_loss", f64::NAN)]);
        assert_eq!(figures(&logs), " - loss: 0.4523 - accuracy: 0.8000 - lr: 1.0000e-04 - val_loss: nan");
        assert_eq!(Verbosity::from_keras(2), Verbosity::OneLinePerEpoch);
        assert_eq!(Verbosity::ProgressBar.resolved(), Verbosity::ProgressBar);
    }
}
