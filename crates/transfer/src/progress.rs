//! Keras-style progress bar: `37/100 [=======>......] - ETA: 12s - loss: 0.4523 - accuracy: 0.8000 - 45.2 img/s`.

use std::io::Write;
use std::time::Instant;

/// A progress bar for one epoch, printed on standard error.
pub struct ProgressBar {
    steps: usize,
    started: Instant,
    images: usize,
    enabled: bool,
}

impl ProgressBar {
    /// Starts an epoch of `steps` steps; prints `Epoch i/n` first when enabled.
    pub fn start(epoch: usize, epochs: usize, steps: usize, enabled: bool) -> Self {
        if enabled {
            eprintln!("Epoch {}/{}", epoch + 1, epochs);
        }
        Self { steps, started: Instant::now(), images: 0, enabled }
    }

    fn bar(&self, step: usize) -> String {
        let width = 30;
        let done = (width * step) / self.steps.max(1);
        match done >= width {
            true => "=".repeat(width),
            false => format!("{}>{}", "=".repeat(done), ".".repeat(width - done - 1)),
        }
    }

    /// Images per second so far.
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// Updates after `step` steps (1-based) with the running loss and accuracy.
    pub fn update(&mut self, step: usize, batch_images: usize, loss: f64, accuracy: f64) {
        self.images += batch_images;
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = elapsed / step as f64 * (self.steps - step) as f64;
        eprint!(
            "\r{step:>w$}/{} [{}] - ETA: {:.0}s - loss: {loss:.4} - accuracy: {accuracy:.4} - {:.1} img/s ",
            self.steps,
            self.bar(step),
            eta,
            self.images_per_second(),
            w = self.steps.to_string().len()
        );
        let _ = std::io::stderr().flush();
    }

    /// Ends the epoch line with its figures (and the validation ones).
    pub fn finish(&self, loss: f64, accuracy: f64, validation: Option<(f64, f64)>) {
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_step = elapsed / self.steps.max(1) as f64 * 1000.0;
        let mut line = format!(
            "\r{0}/{0} [{1}] - {2:.0}s {3:.0}ms/step - loss: {loss:.4} - accuracy: {accuracy:.4}",
            self.steps,
            self.bar(self.steps),
            elapsed,
            per_step
        );
        if let Some((val_loss, val_accuracy)) = validation {
            line.push_str(&format!(" - val_loss: {val_loss:.4} - val_accuracy: {val_accuracy:.4}"));
        }
        eprintln!("{line} - {:.1} img/s", self.images_per_second());
    }
}
