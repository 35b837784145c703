//! Keras' `ImageDataGenerator`, exactly, and a fast image-folder pipeline, for Burn.
//!
//! - [`ImageDataGeneratorConfig`] takes Keras' arguments by name and validates them;
//!   [`ImageDataGenerator::random_transform`] draws a [`TransformParams`] as Keras does;
//!   [`apply_transform`] reproduces Keras' `apply_transform` pixel for pixel (quirks
//!   included; [`Geometry::Corrected`] fixes them on request).
//! - [`DirectoryIterator`] is `flow_from_directory`: class folders, decoding, resizing,
//!   augmentation on all cores, batches as Burn tensors.
//! - [`image_dataset_from_directory`] is TF's `tf.data` folder loader (Keras' file order and
//!   splits, TF's resize), and [`layers`] are Keras' preprocessing layers (`RandomFlip`,
//!   `RandomRotation`, ...) with TF's projective transform, for the TF transfer tutorial.
#![warn(missing_docs)]

mod affine;
mod color;
pub mod dataset;
mod decode;
mod directory;
mod error;
mod folder_batches;
mod generator;
mod image;
mod integrity;
pub mod layers;
mod params;
mod partial;
mod prefetch;
mod scan;
mod seeding;
mod standin;
mod text_enum;

pub use affine::{FillMode, Geometry, flip_horizontal, flip_vertical, sampling_map, transform_matrix, warp, warp_into};
pub use color::{brightness, channel_shift};
pub use dataset::{
    ColorMode, ImageDataset, ImageDatasetConfig, LabelMode, Subset, TfResize, image_dataset_from_directory,
    image_dataset_from_directory_both,
};
pub use decode::{
    Interpolation, check_image, decode_image, load_img, max_image_pixels, resize, set_load_truncated_images,
    set_max_image_pixels,
};
pub use directory::{Batch, ClassMode, DirectoryIterator, FlowConfig, PartialBatch};
pub use error::{AugmentError, Result};
pub use folder_batches::FolderBatches;
pub use generator::{ImageDataGenerator, ImageDataGeneratorConfig, ShiftRange, apply_transform};
pub use image::Image;
pub use params::TransformParams;
pub use scan::BadImages;
pub use seeding::{epoch_rng, image_rng};
pub use standin::{STANDIN_CLASSES, write_standin_dataset};
