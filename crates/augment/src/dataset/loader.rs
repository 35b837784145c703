//! The dataset object `image_dataset_from_directory` returns: decoding, TF resizing and the
//! optional augmentation on all cores with a bounded prefetch, batch by batch, epoch after
//! epoch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;

use crate::dataset::tf_resize::{crop_to_aspect_ratio, tf_resize};
use crate::dataset::{ColorMode, ImageDatasetConfig, LabelMode};
use crate::decode::LargeDecode;
use crate::error::{AugmentError, Result};
use crate::folder_batches::folder_batches;
use crate::image::Image;
use crate::layers::{Augmentation, PreprocessingLayer};
use crate::prefetch::{BatchRecipe, Layout, Prefetch, Targets};
use crate::scan::keep_readable;
use crate::seeding::{epoch_rng, image_rng};

/// Decodes an image file into `color_mode`'s channels, as TF's `decode_image(channels=...)`:
/// RGBA to RGB drops alpha, gray to RGB repeats it, RGB to RGBA adds alpha 255, colour to
/// grey takes libpng's BT.601 weights (TF's JPEG decoder reads the luma plane instead).
pub fn decode_for_dataset(path: &Path, color_mode: ColorMode) -> Result<Image> {
    Ok(decode_samples(path, color_mode)?.0.to_f32())
}

/// [`decode_for_dataset`]'s 8-bit samples, with the permit of a large decode.
fn decode_samples(path: &Path, color_mode: ColorMode) -> Result<(Image<u8>, Option<LargeDecode>)> {
    let (decoded, permit) = crate::decode::open_image_bounded(path)?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let bytes = match color_mode {
        ColorMode::Rgb => decoded.into_rgb8().into_raw(),
        ColorMode::Rgba => decoded.into_rgba8().into_raw(),
        ColorMode::Grayscale if !decoded.color().has_color() => decoded.to_luma8().into_raw(),
        // TF asks libpng for grey with BT.601 weights (`png_set_rgb_to_gray(1, 0.299, 0.587)`):
        // 15-bit fixed-point coefficients, the sum truncated, as libpng computes it.
        ColorMode::Grayscale => decoded
            .to_rgb8()
            .pixels()
            .map(|p| ((9797 * p[0] as u32 + 19234 * p[1] as u32 + 3737 * p[2] as u32) >> 15) as u8)
            .collect(),
    };
    Ok((Image { height, width, channels: color_mode.channels(), data: bytes }, permit))
}

/// One image as the dataset loads it: decoded, cropped to the aspect ratio if asked, and
/// resized with `tf.image.resize` (values 0..255 as floats, not rounded; floats only at the
/// target size).
pub fn load_for_dataset(path: &Path, config: &ImageDatasetConfig) -> Result<Image> {
    let (image, _permit) = decode_samples(path, config.color_mode)?;
    let image = match config.crop_to_aspect_ratio {
        true => crop_to_aspect_ratio(&image, config.image_size),
        false => image,
    };
    Ok(tf_resize(&image, config.image_size, config.interpolation))
}

/// What `image_dataset_from_directory` returns: batches of `[batch, channels, rows, cols]`
/// images (values 0..255) with labels per `label_mode`, cycling over epochs. `take(n)` and
/// `skip(n)` keep the first `n` batches of each epoch or the others (the tutorial carves its
/// test set so); `len()` is the number of batches per epoch.
pub struct ImageDataset {
    class_names: Vec<String>,
    batches: Prefetch<DatasetRecipe>,
}

impl ImageDataset {
    pub(crate) fn new(
        directory: &Path,
        files: Vec<(PathBuf, usize)>,
        class_names: Vec<String>,
        config: ImageDatasetConfig,
        seed: u32,
    ) -> Result<Self> {
        let (files, _) = keep_readable(directory, files, config.bad_images)?;
        if files.is_empty() {
            return Err(AugmentError::EmptyDirectory {
                path: directory.to_path_buf(),
                reason: "no images in this subset".into(),
            });
        }
        let layout = Layout {
            batch_size: config.batch_size,
            image: [config.image_size[0], config.image_size[1], config.color_mode.channels()],
            targets: match config.label_mode {
                LabelMode::None => Targets::None,
                LabelMode::Int | LabelMode::Binary => Targets::Indices,
                LabelMode::Categorical => Targets::OneHot(class_names.len()),
            },
            prefetch: config.prefetch,
            workers: None,
            bad_images: config.bad_images,
        };
        let recipe = DatasetRecipe { config: Arc::new(config), seed, augmentation: None };
        Ok(Self { class_names, batches: Prefetch::new(directory, files, recipe, layout) })
    }

    /// Applies `augmentation` (Keras preprocessing layers) to every batch: for training
    /// data only, as Keras runs those layers in training only.
    pub fn with_augmentation(self, augmentation: Augmentation) -> Self {
        let recipe = self.batches.recipe();
        let recipe = DatasetRecipe {
            config: Arc::clone(&recipe.config),
            seed: recipe.seed,
            augmentation: (!augmentation.is_empty()).then(|| Arc::new(augmentation)),
        };
        Self { batches: self.batches.with_recipe(recipe), ..self }
    }

    /// Whether batches go through preprocessing layers ([`ImageDataset::with_augmentation`]).
    pub fn augments(&self) -> bool {
        self.batches.recipe().augmentation.is_some()
    }

    /// Class names in label order (`dataset.class_names`).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Every file and its class, in Keras' order (`dataset.file_paths`).
    pub fn files(&self) -> &[(PathBuf, usize)] {
        self.batches.files()
    }

    /// The seed the file order was shuffled with (drawn when none was given).
    pub fn seed(&self) -> u32 {
        self.batches.recipe().seed
    }

    /// The arguments.
    pub fn config(&self) -> &ImageDatasetConfig {
        &self.batches.recipe().config
    }

    /// Batches per epoch (`len(dataset)`, `tf.data.experimental.cardinality`).
    pub fn len(&self) -> usize {
        self.batches.batches_per_epoch()
    }

    /// Whether an epoch has no batches (after `skip` past the end).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `dataset.take(n)`: the first `n` batches of each epoch.
    pub fn take(&self, n: usize) -> ImageDataset {
        let (first, end) = self.batches.window();
        self.window_copy((first, (first + n).min(end)))
    }

    /// `dataset.skip(n)`: each epoch's batches after the first `n`.
    pub fn skip(&self, n: usize) -> ImageDataset {
        let (first, end) = self.batches.window();
        self.window_copy(((first + n).min(end), end))
    }

    fn window_copy(&self, window: (usize, usize)) -> ImageDataset {
        ImageDataset { class_names: self.class_names.clone(), batches: self.batches.with_window(window) }
    }
}

folder_batches!(ImageDataset, len, "label_mode int, binary or categorical");

/// `image_dataset_from_directory`'s images: TF's decoding and resize, TF's shuffle buffer
/// for each epoch's order, and the preprocessing layers on whole batches.
struct DatasetRecipe {
    config: Arc<ImageDatasetConfig>,
    seed: u32,
    augmentation: Option<Arc<Augmentation>>,
}

impl BatchRecipe for DatasetRecipe {
    /// An epoch's order: TF's shuffle buffer of `8 * batch_size` (fill, then repeatedly
    /// emit a random element and refill its slot), or the file order without shuffling.
    fn epoch_order(&self, n: usize, epoch: u64) -> Vec<usize> {
        if !self.config.shuffle {
            return (0..n).collect();
        }
        let mut rng = epoch_rng(self.seed as u64, epoch);
        let capacity = (self.config.batch_size * 8).max(1);
        let mut buffer: Vec<usize> = (0..n.min(capacity)).collect();
        let mut next = buffer.len();
        let mut order = Vec::with_capacity(n);
        while !buffer.is_empty() {
            let slot = rng.random_range(0..buffer.len());
            order.push(buffer[slot]);
            match next < n {
                true => {
                    buffer[slot] = next;
                    next += 1;
                }
                false => {
                    buffer.swap_remove(slot);
                }
            }
        }
        order
    }

    fn image(&self, path: &Path, _epoch: u64, _position: usize) -> Result<Image> {
        load_for_dataset(path, &self.config)
    }

    fn finish_batch(&self, epoch: u64, batch: usize, images: &mut [Image]) -> Result<()> {
        match &self.augmentation {
            Some(augmentation) => {
                let mut rng = image_rng(self.seed as u64 ^ 0x4155_4721, epoch, batch as u64);
                augmentation.apply(images, &mut rng)
            }
            None => Ok(()),
        }
    }

    /// The layers draw per batch: every image is made ahead.
    fn batch_dependent(&self) -> bool {
        self.augmentation.is_some()
    }
}
