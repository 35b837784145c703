//! What happens to an image file before the model sees it, recorded in checkpoints so that
//! a loaded model predicts on exactly the training pipeline's pixels.

use std::path::Path;

use augment::dataset::load_for_dataset;
use augment::{ColorMode, DirectoryIterator, ImageDataset, ImageDatasetConfig, Interpolation, TfResize, load_img};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How a file becomes pixels: decoded as RGB, resized to `image_size` as the training data
/// loader resized it, multiplied by `rescale` (the generator's `rescale`, applied outside the
/// model; a backbone's `preprocess_input` inside the model is part of the model). Random
/// augmentation is not part of it (it applies to training only).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputPipeline {
    /// `[rows, cols]` of the resized image.
    pub image_size: [usize; 2],
    /// How the image is resized.
    pub resize: Resize,
    /// The factor the pixels (0..255) are multiplied by before the model (Keras'
    /// `ImageDataGenerator(rescale=...)`; 1 for `image_dataset_from_directory`).
    pub rescale: f64,
}

/// The two resizes of Keras' loaders, which give different pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Resize {
    /// Keras' `load_img` (Pillow's `Image.resize` on 8-bit pixels), as `flow_from_directory`.
    Pillow {
        /// Pillow's filter.
        interpolation: Interpolation,
    },
    /// `tf.image.resize` on float pixels, as `image_dataset_from_directory`.
    Tf {
        /// TF's method.
        interpolation: TfResize,
        /// Whether the largest centred window of the target's aspect ratio is cropped first.
        crop_to_aspect_ratio: bool,
    },
}

impl InputPipeline {
    /// The pipeline of `flow_from_directory(target_size, interpolation)` under a generator
    /// with `rescale` (Keras' default `None` is 1).
    pub fn pillow(image_size: [usize; 2], interpolation: Interpolation, rescale: Option<f64>) -> Self {
        Self { image_size, resize: Resize::Pillow { interpolation }, rescale: rescale.unwrap_or(1.0) }
    }

    /// The pipeline of `image_dataset_from_directory(image_size, interpolation,
    /// crop_to_aspect_ratio)`.
    pub fn tf(image_size: [usize; 2], interpolation: TfResize, crop_to_aspect_ratio: bool) -> Self {
        Self { image_size, resize: Resize::Tf { interpolation, crop_to_aspect_ratio }, rescale: 1.0 }
    }

    /// One file's pixels as the pipeline gives them: `[rows, cols, 3]` (HWC) values.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>> {
        let image = match self.resize {
            Resize::Pillow { interpolation } => load_img(path, Some(self.image_size), interpolation)?,
            Resize::Tf { interpolation, crop_to_aspect_ratio } => {
                let config = ImageDatasetConfig::new()
                    .with_image_size(self.image_size)
                    .with_color_mode(ColorMode::Rgb)
                    .with_interpolation(interpolation)
                    .with_crop_to_aspect_ratio(crop_to_aspect_ratio);
                load_for_dataset(path, &config)?
            }
        };
        let rescale = self.rescale as f32;
        Ok(match rescale == 1.0 {
            true => image.data,
            false => image.data.into_iter().map(|v| v * rescale).collect(),
        })
    }
}

impl From<&DirectoryIterator> for InputPipeline {
    /// The iterator's Pillow resize and its generator's `rescale`.
    fn from(folder: &DirectoryIterator) -> Self {
        let config = folder.config();
        Self::pillow(config.target_size, config.interpolation, folder.generator().rescale_factor())
    }
}

impl From<&ImageDataset> for InputPipeline {
    /// The dataset's TF resize.
    fn from(dataset: &ImageDataset) -> Self {
        let config = dataset.config();
        Self::tf(config.image_size, config.interpolation, config.crop_to_aspect_ratio)
    }
}

impl std::fmt::Display for InputPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [rows, cols] = self.image_size;
        match self.resize {
            Resize::Pillow { interpolation } => write!(f, "Pillow {interpolation} resize to {rows}x{cols}")?,
            Resize::Tf { interpolation, crop_to_aspect_ratio } => {
                write!(f, "tf.image.resize {interpolation:?} to {rows}x{cols}")?;
                if crop_to_aspect_ratio {
                    write!(f, " (cropped to its aspect ratio)")?;
                }
            }
        }
        write!(f, ", x {}", self.rescale)
    }
}
