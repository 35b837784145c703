//! `flow_from_directory`: class sub-folders, decoding, resizing and augmentation on all
//! cores with a bounded prefetch, batches as Burn tensors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::tensor::Tensor;
use rand::seq::SliceRandom;

use crate::dataset::index::image_files;
use crate::decode::{Interpolation, load_img};
use crate::error::{AugmentError, Result};
use crate::folder_batches::folder_batches;
use crate::generator::ImageDataGenerator;
use crate::image::Image;
use crate::prefetch::{BatchRecipe, Layout, Prefetch, Targets};
use crate::scan::{BadImages, keep_readable};
use crate::seeding::{epoch_rng, image_rng};
use crate::text_enum::text_enum;

/// What the targets of a batch are (Keras `class_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassMode {
    /// One-hot `[batch, classes]` (Keras' default).
    #[default]
    Categorical,
    /// `[batch, 1]` of 0.0 / 1.0 (two classes).
    Binary,
    /// `[batch, 1]` of class indices as floats.
    Sparse,
    /// No targets.
    None,
}

/// Arguments of `flow_from_directory` (Keras names and defaults).
#[derive(Config, Debug, PartialEq)]
pub struct FlowConfig {
    /// `[rows, cols]` every image is resized to. Keras default: 256x256.
    #[config(default = "[256, 256]")]
    pub target_size: [usize; 2],
    /// Images per batch. Keras default: 32.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Targets. Keras default: categorical.
    #[config(default = "ClassMode::Categorical")]
    pub class_mode: ClassMode,
    /// Reshuffle the order every epoch. Keras default: true.
    #[config(default = true)]
    pub shuffle: bool,
    /// Seed of the shuffles and augmentations.
    #[config(default = 0)]
    pub seed: u64,
    /// Resize filter. Keras default: nearest.
    #[config(default = "Interpolation::Nearest")]
    pub interpolation: Interpolation,
    /// Batches prepared ahead on worker threads.
    #[config(default = 2)]
    pub prefetch: usize,
    /// Decoding threads; 0 means one per core. Results do not depend on it.
    #[config(default = 0)]
    pub workers: usize,
    /// Whether linked folders inside the class folders are entered (Keras' `follow_links`,
    /// default false); a link back to a folder above is never followed.
    #[config(default = false)]
    pub follow_links: bool,
    /// What the scan does with image files that do not decode (every file's header is
    /// checked when the folder is scanned). Default: [`BadImages::Error`].
    #[config(default = "BadImages::Error")]
    pub bad_images: BadImages,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A batch: images NCHW on the device asked for, targets, and where they came from.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, 3, rows, cols]`, augmented and rescaled.
    pub images: Tensor<4>,
    /// Targets as the class mode says (`None` for [`ClassMode::None`]).
    pub targets: Option<Tensor<2>>,
    /// Class index of each image.
    pub classes: Vec<usize>,
    /// File of each image.
    pub paths: Vec<PathBuf>,
}

/// A batch whose images may leave some files out (see
/// [`DirectoryIterator::next_batch_without`] and `ImageDataset::next_batch_without`): every
/// sample's file and target, the pixels of those not left out.
#[derive(Debug, Clone)]
pub struct PartialBatch {
    /// `[kept, channels, rows, cols]`: the images of the files not left out, in batch
    /// order (`None` when every file was left out).
    pub images: Option<Tensor<4>>,
    /// Targets of every sample, as the class mode says (`None` for [`ClassMode::None`]).
    pub targets: Option<Tensor<2>>,
    /// Index of each sample's file in the source's `files()`: a key that stays the same
    /// across epochs.
    pub files: Vec<usize>,
    /// Whether each sample's image is in `images`.
    pub decoded: Vec<bool>,
    /// Class index of each sample.
    pub classes: Vec<usize>,
    /// File of each sample.
    pub paths: Vec<PathBuf>,
}

text_enum!(ClassMode, "class_mode", "must be one of categorical, binary, sparse or none",
    "categorical" => ClassMode::Categorical, "binary" => ClassMode::Binary, "sparse" => ClassMode::Sparse,
    "none" => ClassMode::None);

/// Extensions read as images (Keras' `white_list_formats` plus GIF), compared
/// case-insensitively.
const IMAGE_EXTENSIONS: [&str; 8] = [".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".gif"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AugmentError + '_ {
    move |source| AugmentError::Io { path: path.to_path_buf(), source }
}

/// Image folder iterator, like the object `flow_from_directory` returns. Batches go on
/// forever, epoch after epoch, like Keras'.
pub struct DirectoryIterator {
    directory: PathBuf,
    class_names: Vec<String>,
    skipped: Vec<PathBuf>,
    batches: Prefetch<FlowRecipe>,
}

impl DirectoryIterator {
    /// Scans `directory`: one class per sub-folder, in alphabetical order; every image file
    /// under each (recursively). Files that are not images are skipped with a warning on
    /// standard error (and listed in [`DirectoryIterator::skipped`]); no class folder, or no
    /// image at all, is an error.
    pub fn new(directory: &Path, generator: ImageDataGenerator, config: FlowConfig) -> Result<Self> {
        let mut class_dirs: Vec<PathBuf> = std::fs::read_dir(directory)
            .map_err(io(directory))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        class_dirs.sort();
        if class_dirs.is_empty() {
            return Err(AugmentError::EmptyDirectory {
                path: directory.to_path_buf(),
                reason: "no class sub-folders (expected e.g. cats/ and dogs/ inside)".into(),
            });
        }
        if config.batch_size == 0 || config.target_size.contains(&0) {
            return Err(AugmentError::InvalidParameter {
                parameter: "batch_size / target_size",
                value: format!("{} / {:?}", config.batch_size, config.target_size),
                reason: "must be positive",
            });
        }
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        for (class, dir) in class_dirs.iter().enumerate() {
            let (images, others) = image_files(dir, config.follow_links, &IMAGE_EXTENSIONS)?;
            files.extend(images.into_iter().map(|path| (path, class)));
            skipped.extend(others);
        }
        let (files, bad) = keep_readable(directory, files, config.bad_images)?;
        skipped.extend(bad.into_iter().map(|(path, _)| path));
        if files.is_empty() {
            return Err(AugmentError::EmptyDirectory {
                path: directory.to_path_buf(),
                reason: format!("{} class folders but no image files in them", class_dirs.len()),
            });
        }
        if let Some(first) = skipped.first() {
            log::warn!(
                "{}: skipped {} file(s) that are not images (e.g. {})",
                directory.display(),
                skipped.len(),
                first.display()
            );
        }
        let class_names: Vec<String> = class_dirs
            .iter()
            .map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        if config.class_mode == ClassMode::Binary && class_names.len() != 2 {
            return Err(AugmentError::EmptyDirectory {
                path: directory.to_path_buf(),
                reason: format!(
                    "class_mode binary needs exactly 2 class folders, found {}: {class_names:?}",
                    class_names.len()
                ),
            });
        }
        let layout = Layout {
            batch_size: config.batch_size,
            image: [config.target_size[0], config.target_size[1], 3],
            targets: match config.class_mode {
                ClassMode::None => Targets::None,
                ClassMode::Binary | ClassMode::Sparse => Targets::Indices,
                ClassMode::Categorical => Targets::OneHot(class_names.len()),
            },
            prefetch: config.prefetch,
            workers: Some(config.workers),
            bad_images: config.bad_images,
        };
        Ok(Self {
            directory: directory.to_path_buf(),
            class_names,
            skipped,
            batches: Prefetch::new(directory, files, FlowRecipe { generator, config }, layout),
        })
    }

    /// Keras' message: `Found 2000 images belonging to 2 classes.`
    pub fn found_message(&self) -> String {
        format!("Found {} images belonging to {} classes.", self.batches.files().len(), self.class_names.len())
    }

    /// The folder read.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Number of images.
    pub fn samples(&self) -> usize {
        self.files().len()
    }

    /// Class names in index order (Keras `class_indices`, inverted).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Keras `class_indices`: folder name -> class index.
    pub fn class_indices(&self) -> BTreeMap<String, usize> {
        self.class_names.iter().cloned().enumerate().map(|(i, n)| (n, i)).collect()
    }

    /// Every image file and its class, in Keras' order (`filenames`, `classes`).
    pub fn files(&self) -> &[(PathBuf, usize)] {
        self.batches.files()
    }

    /// Files that were not images and were left out.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.batches.recipe().config
    }

    /// The generator applied to every image.
    pub fn generator(&self) -> &ImageDataGenerator {
        &self.batches.recipe().generator
    }

    /// Whether the generator draws random transforms (then a file's pixels differ from
    /// one epoch to the next).
    pub fn augments(&self) -> bool {
        self.generator().augments()
    }

    /// Batches in one pass over the images (the last may be smaller).
    pub fn batches_per_epoch(&self) -> usize {
        self.batches.batches_per_epoch()
    }
}

folder_batches!(DirectoryIterator, batches_per_epoch, "class_mode binary, sparse or categorical");

/// `flow_from_directory`'s images: each file loaded with Pillow's resize, then the
/// generator's random transform of its position in its epoch; the order reshuffled every
/// epoch.
struct FlowRecipe {
    generator: ImageDataGenerator,
    config: FlowConfig,
}

impl BatchRecipe for FlowRecipe {
    fn epoch_order(&self, files: usize, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..files).collect();
        if self.config.shuffle {
            order.shuffle(&mut epoch_rng(self.config.seed, epoch));
        }
        order
    }

    fn image(&self, path: &Path, epoch: u64, position: usize) -> Result<Image> {
        let image = load_img(path, Some(self.config.target_size), self.config.interpolation)?;
        let mut rng = image_rng(self.config.seed, epoch, position as u64);
        Ok(self.generator.augment(&image, &mut rng))
    }
}
