//! What the course's two jobs share (`cats_vs_dogs`, the notebook, and `horses_or_humans`,
//! Exercise 7; the TF tutorial's `mobilenet_v2_transfer` takes a few): the command line, the
//! data folders (or a generated stand-in), the model (a pretrained base of `--model`, InceptionV3
//! by default, cut at `mixed7`; a resumed checkpoint; or a random base with calibrated batch
//! norms), the Keras callbacks, and the outputs of a run.

#![allow(dead_code)] // each example uses its own part (also of the re-exports below)

mod args;
mod data;
mod model;
mod output;
mod training;

#[allow(unused_imports)] // each example uses its own part
pub use args::{CourseArgs, class_weight, device, not_a_weight_file, positive_finite};
#[allow(unused_imports)] // each example uses its own part
pub use data::{CATS_AND_DOGS, Dataset, class_folders, course_flows, data_folder, flow, same_classes, two_classes};
#[allow(unused_imports)] // each example uses its own part
pub use model::{Start, backbone, course_model, course_trainer, pixel_rescale, print_counts};
#[allow(unused_imports)] // each example uses its own part
pub use output::{evaluate, evaluate_folder, output_dir, print_final, writable_folder, write_outputs};
#[allow(unused_imports)] // each example uses its own part
pub use training::{as_callbacks, fit_phase, flag_callbacks};

/// Prints the library's warnings (the `log` crate's, warning level and above) on stderr, as
/// Keras prints its own: the library only emits them, a program chooses where they go.
pub fn show_warnings() {
    /// A logger writing `WARNING: message` lines to stderr.
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, metadata: &log::Metadata) -> bool {
            metadata.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record) {
            if self.enabled(record.metadata()) {
                let level = match record.level() {
                    log::Level::Warn => "WARNING",
                    level => level.as_str(),
                };
                eprintln!("{level}: {}", record.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}
