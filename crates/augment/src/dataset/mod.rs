//! `tf.keras.utils.image_dataset_from_directory` with TF 2.15's semantics: labels from the
//! sorted class folders, Keras' file order and `validation_split` subsets (NumPy's shuffle
//! for the same seed), TF's decoding and `tf.image.resize` (not Pillow's), batches of
//! `batch_size` with `take` / `skip` / `len` as on a `tf.data` dataset, and an optional
//! augmentation (Keras preprocessing layers) for training batches. The per-epoch order is a
//! local shuffle in a buffer of `8 * batch_size` images, as TF does it, drawn from this
//! crate's random streams (TF's own `tf.data` generator is not reproduced).

pub(crate) mod index;
mod loader;
mod numpy_shuffle;
mod tf_resize;

pub use index::keras_image_files;
pub use loader::{ImageDataset, decode_for_dataset, load_for_dataset};
pub use numpy_shuffle::RandomState;
pub use tf_resize::{TfResize, crop_to_aspect_ratio, tf_resize};

use std::path::Path;

use crate::error::{AugmentError, Result};
use crate::scan::BadImages;
use crate::text_enum::text_enum;
use burn::config::Config;

/// How labels are given (Keras' `label_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelMode {
    /// The class index (`[batch, 1]` here; Keras' int32 scalars), for sparse categorical losses.
    #[default]
    Int,
    /// 0.0 / 1.0 (`[batch, 1]`), for two classes.
    Binary,
    /// One-hot (`[batch, classes]`).
    Categorical,
    /// No labels.
    None,
}

/// Channels of the decoded images (Keras' `color_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// 3 channels (the default).
    #[default]
    Rgb,
    /// 4 channels (alpha 255 where the file has none).
    Rgba,
    /// 1 channel.
    Grayscale,
}

impl ColorMode {
    /// Channels of an image in this mode.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Rgb => 3,
            ColorMode::Rgba => 4,
            ColorMode::Grayscale => 1,
        }
    }
}

/// Which subset of a `validation_split` to return (Keras' `subset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// The first `n - int(split * n)` files.
    Training,
    /// The last `int(split * n)` files.
    Validation,
}

text_enum!(LabelMode, "label_mode", "must be one of int, categorical, binary or none",
    "int" => LabelMode::Int, "binary" => LabelMode::Binary, "categorical" => LabelMode::Categorical, "none" => LabelMode::None);
text_enum!(ColorMode, "color_mode", "must be one of rgb, rgba or grayscale",
    "rgb" => ColorMode::Rgb, "rgba" => ColorMode::Rgba, "grayscale" => ColorMode::Grayscale);
text_enum!(Subset, "subset", "must be either training or validation (or use image_dataset_from_directory_both)",
    "training" => Subset::Training, "validation" => Subset::Validation);

/// Arguments of `image_dataset_from_directory` (Keras' names and defaults).
#[derive(Config, Debug, PartialEq)]
pub struct ImageDatasetConfig {
    /// Labels. Keras default: int.
    #[config(default = "LabelMode::Int")]
    pub label_mode: LabelMode,
    /// The class folders to use, in this order (default: every sub-folder, sorted).
    pub class_names: Option<Vec<String>>,
    /// Channels. Keras default: rgb.
    #[config(default = "ColorMode::Rgb")]
    pub color_mode: ColorMode,
    /// Images per batch. Keras default: 32.
    #[config(default = 32)]
    pub batch_size: usize,
    /// `[rows, cols]` every image is resized to. Keras default: 256x256.
    #[config(default = "[256, 256]")]
    pub image_size: [usize; 2],
    /// Shuffle the file list (with NumPy, from `seed`) and each epoch's order. Default: true.
    #[config(default = true)]
    pub shuffle: bool,
    /// Seed of the shuffles (Keras draws one when `None`; a split then needs one).
    pub seed: Option<u32>,
    /// Fraction of the files held out for validation (with `subset`).
    pub validation_split: Option<f64>,
    /// Which side of the split (needs `validation_split`).
    pub subset: Option<Subset>,
    /// The resize method. Keras default: bilinear.
    #[config(default = "TfResize::Bilinear")]
    pub interpolation: TfResize,
    /// Descend into linked folders (link cycles are skipped). Keras default: false.
    #[config(default = false)]
    pub follow_links: bool,
    /// Crop the largest centred window of the target's aspect ratio before resizing.
    #[config(default = false)]
    pub crop_to_aspect_ratio: bool,
    /// Batches prepared ahead on worker threads.
    #[config(default = 2)]
    pub prefetch: usize,
    /// What happens to image files that do not decode (every file's header is checked
    /// when the dataset is made, after Keras' split, so the other files keep Keras'
    /// assignment). Default: [`BadImages::Error`].
    #[config(default = "BadImages::Error")]
    pub bad_images: BadImages,
}

impl Default for ImageDatasetConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageDatasetConfig {
    /// Keras' argument checks (`check_validation_split_arg` and the rest).
    fn check(&self) -> Result<()> {
        let invalid =
            |parameter, value: String, reason| Err(AugmentError::InvalidParameter { parameter, value, reason });
        if self.batch_size == 0 || self.image_size.contains(&0) {
            return invalid(
                "batch_size / image_size",
                format!("{} / {:?}", self.batch_size, self.image_size),
                "must be positive",
            );
        }
        match (self.validation_split, self.subset) {
            (Some(split), _) if !(split > 0.0 && split < 1.0) => {
                invalid("validation_split", split.to_string(), "must be between 0 and 1")
            }
            (Some(_), None) | (None, Some(_)) => invalid(
                "subset",
                format!("{:?} with validation_split {:?}", self.subset, self.validation_split),
                "if `subset` is set, `validation_split` must be set, and inversely",
            ),
            (Some(_), Some(_)) if self.shuffle && self.seed.is_none() => invalid(
                "seed",
                "None".into(),
                "when using `validation_split` and shuffling the data, provide a `seed`, so that the training and validation subsets do not overlap",
            ),
            _ => Ok(()),
        }
    }
}

/// `image_dataset_from_directory(directory, ...)`: one dataset (the whole folder, or the
/// `subset` of a `validation_split`). Prints Keras' `Found N files belonging to K classes.`
pub fn image_dataset_from_directory(directory: &Path, config: ImageDatasetConfig) -> Result<ImageDataset> {
    let (index::Index { files, class_names }, seed) = indexed(directory, &config)?;
    let files = match (config.validation_split, config.subset) {
        (Some(split), Some(subset)) => {
            let (train, validation) = index::split(&files, split);
            let chosen = if subset == Subset::Training { train } else { validation };
            println!("Using {} files for {}.", chosen.len(), subset);
            chosen
        }
        _ => files,
    };
    ImageDataset::new(directory, files, class_names, config, seed)
}

/// `image_dataset_from_directory(..., validation_split, subset="both")`: the training and
/// the validation dataset, from one listing (the validation one is not reshuffled, as in
/// Keras).
pub fn image_dataset_from_directory_both(
    directory: &Path,
    validation_split: f64,
    config: ImageDatasetConfig,
) -> Result<(ImageDataset, ImageDataset)> {
    let config =
        ImageDatasetConfig { validation_split: Some(validation_split), subset: Some(Subset::Training), ..config };
    let (index::Index { files, class_names }, seed) = indexed(directory, &config)?;
    let (train, validation) = index::split(&files, validation_split);
    println!("Using {} files for training.", train.len());
    println!("Using {} files for validation.", validation.len());
    let validation_config = ImageDatasetConfig { shuffle: false, ..config.clone() };
    Ok((
        ImageDataset::new(directory, train, class_names.clone(), config, seed)?,
        ImageDataset::new(directory, validation, class_names, validation_config, seed)?,
    ))
}

/// The folder's files in Keras' order, its classes, and the seed used.
fn indexed(directory: &Path, config: &ImageDatasetConfig) -> Result<(index::Index, u32)> {
    config.check()?;
    let seed = config.seed.unwrap_or_else(|| rand::random_range(0..1_000_000));
    let index =
        index::index_directory(directory, config.class_names.as_deref(), config.shuffle, seed, config.follow_links)?;
    if config.label_mode == LabelMode::Binary && index.class_names.len() != 2 {
        return Err(AugmentError::EmptyDirectory {
            path: directory.to_path_buf(),
            reason: format!(
                "label_mode binary needs exactly 2 class folders, found {}: {:?}",
                index.class_names.len(),
                index.class_names
            ),
        });
    }
    println!("Found {} files belonging to {} classes.", index.files.len(), index.class_names.len());
    if index.files.is_empty() {
        return Err(AugmentError::EmptyDirectory {
            path: directory.to_path_buf(),
            reason: "no images found (allowed formats: .bmp, .gif, .jpeg, .jpg, .png)".into(),
        });
    }
    Ok((index, seed))
}
