//! The command line the course examples share, and the parsers of its values.

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::tensor::Device;
use inception_transfer::backend::Backend;
use transfer::ClassWeight;

/// The flags both jobs take.
#[derive(clap::Args)]
pub struct CourseArgs {
    /// Folder with train/<class>/ and validation/<class>/ (default: the dataset's usual folder).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The backbone: inception_v3 (the course), mobilenet_v2, resnet50, vgg16 or xception, cut
    /// at its Keras default for transfer learning (mixed7; out_relu, conv5_block3_out,
    /// block5_pool, block14_sepconv2_act).
    #[arg(long, default_value = "inception_v3")]
    pub model: String,
    /// Base weights: Keras notop .h5, torchvision .pth/.safetensors, this crate's safetensors,
    /// or a checkpoint of this example to resume (default: the backbone's official Keras
    /// notop file in weights/, e.g. weights/inception_v3_..._notop.h5).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long)]
    pub backend: Option<String>,
    /// Epochs to run (a resumed run adds them to the epochs already trained).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training steps per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Validation steps per epoch.
    #[arg(long)]
    pub validation_steps: Option<usize>,
    /// Images per batch (the course: 20).
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    /// Seed of shuffling, augmentation, dropout and the head's initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Learning rate of RMSprop (the course: 1e-4).
    #[arg(long, default_value_t = 1e-4, value_parser = positive_finite)]
    pub learning_rate: f64,
    /// Stop when val_loss has not improved for PATIENCE epochs, restoring the best weights
    /// (Keras' EarlyStopping(patience=PATIENCE, restore_best_weights=True)).
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Divide the learning rate by 10 when val_loss stalls for 2 epochs
    /// (Keras' ReduceLROnPlateau(factor=0.1, patience=2)).
    #[arg(long)]
    pub reduce_lr_on_plateau: bool,
    /// Print the model summary and exit.
    #[arg(long)]
    pub summary: bool,
    /// Resuming a checkpoint without its optimizer state is an error (by default a warning:
    /// the optimizer's velocities restart from zero).
    #[arg(long)]
    pub exact_resume: bool,
    /// Print where each epoch's time went (waiting for data, base forward, head step,
    /// validation).
    #[arg(long)]
    pub timing: bool,
    /// Keras' class_weight: `balanced` (scikit-learn's compute_class_weight) or
    /// `NAME=W,NAME=W,...` with a weight for every class folder.
    #[arg(long, value_parser = class_weight)]
    pub class_weight: Option<ClassWeight>,
}

/// The error for a `--weights` path that is not a file: a folder is named as one (the file
/// inside is wanted), anything else as missing.
pub fn not_a_weight_file(path: &Path) -> anyhow::Error {
    match path.is_dir() {
        true => anyhow::anyhow!("{}: a folder, not a weight file (--weights takes the file itself)", path.display()),
        false => anyhow::anyhow!("{}: no such weight file", path.display()),
    }
}

/// A `--class-weight` flag: `balanced` or `NAME=W,...`.
pub fn class_weight(text: &str) -> Result<ClassWeight, String> {
    text.parse().map_err(|e: transfer::TransferError| e.to_string())
}

/// A `--learning-rate`-style flag: a finite number above zero.
pub fn positive_finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        Ok(value) => Err(format!("{value} is not a finite number above zero")),
        Err(e) => Err(e.to_string()),
    }
}

/// The device of `--backend`, seeded (dropout masks).
pub fn device(args: &CourseArgs) -> Result<Device> {
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    device.seed(args.seed);
    println!("Backend: {backend}");
    Ok(device)
}
