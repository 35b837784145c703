//! `flow_from_directory`: class sub-folders, decoding, resizing and augmentation on all
//! cores with a bounded prefetch, batches as Burn tensors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use burn::config::Config;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::dataset::index::image_files;
use crate::decode::{Interpolation, load_img};
use crate::error::{AugmentError, Result};
use crate::generator::ImageDataGenerator;
use crate::partial::{SkipHints, kept_images};
use crate::scan::{BadImages, drop_undecodable, keep_readable};
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

/// A batch on the host, before it becomes tensors.
struct HostBatch {
    /// The decoded images, in batch order.
    pixels: Vec<f32>,
    /// Whether each sample was decoded ahead (a file skipped by a hint was not).
    decoded: Vec<bool>,
    /// The epoch and position in it of each sample (what its random transform is drawn from).
    epoch: u64,
    positions: Vec<usize>,
    files: Vec<usize>,
    classes: Vec<usize>,
    paths: Vec<PathBuf>,
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
    files: Arc<Vec<(PathBuf, usize)>>,
    skipped: Vec<PathBuf>,
    config: FlowConfig,
    generator: Arc<ImageDataGenerator>,
    /// Per file: whether the workers may skip decoding it (a hint from the consumer).
    skip_hints: SkipHints,
    receiver: Option<Receiver<Result<HostBatch>>>,
    batches_served: usize,
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
        Ok(Self {
            directory: directory.to_path_buf(),
            class_names,
            skip_hints: SkipHints::new(files.len()),
            files: Arc::new(files),
            skipped,
            config,
            generator: Arc::new(generator),
            receiver: None,
            batches_served: 0,
        })
    }

    /// Keras' message: `Found 2000 images belonging to 2 classes.`
    pub fn found_message(&self) -> String {
        format!("Found {} images belonging to {} classes.", self.files.len(), self.class_names.len())
    }

    /// The folder read.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Number of images.
    pub fn samples(&self) -> usize {
        self.files.len()
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
        &self.files
    }

    /// Files that were not images and were left out.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// The generator applied to every image.
    pub fn generator(&self) -> &ImageDataGenerator {
        &self.generator
    }

    /// Batches in one pass over the images (the last may be smaller).
    pub fn batches_per_epoch(&self) -> usize {
        self.files.len().div_ceil(self.config.batch_size)
    }

    fn start(&mut self) -> &Receiver<Result<HostBatch>> {
        let (sender, receiver) = sync_channel(self.config.prefetch.max(1));
        let producer = Producer {
            directory: self.directory.clone(),
            files: Arc::clone(&self.files),
            generator: Arc::clone(&self.generator),
            config: self.config.clone(),
            skip_hints: self.skip_hints.clone(),
            first_batch: self.batches_served,
        };
        std::thread::spawn(move || producer.run(sender));
        self.receiver.insert(receiver)
    }

    /// The next batch, on `device`. Decoding errors name the file.
    pub fn next_batch(&mut self, device: &Device) -> Result<Batch> {
        let batch = self.next_batch_without(device, &|_| false)?;
        let images = batch.images.unwrap_or_else(|| {
            let [h, w] = self.config.target_size;
            Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, 3, h, w]), device)
        });
        Ok(Batch { images, targets: batch.targets, classes: batch.classes, paths: batch.paths })
    }

    /// The next batch without the images of the files `leave_out` names (by their index in
    /// [`DirectoryIterator::files`]; e.g. those whose features a consumer already holds):
    /// the same samples, order and targets as [`DirectoryIterator::next_batch`], each
    /// image that is there the same pixels. Files hinted with
    /// [`DirectoryIterator::skip_decoding`] are not decoded ahead; one of them that
    /// `leave_out` does not name is decoded on the spot (with its own random transform).
    pub fn next_batch_without(&mut self, device: &Device, leave_out: &dyn Fn(usize) -> bool) -> Result<PartialBatch> {
        let receiver = match &self.receiver {
            Some(r) => r,
            None => self.start(),
        };
        let host = receiver.recv().map_err(|_| AugmentError::LoaderStopped { path: self.directory.clone() })?;
        self.batches_served += 1;
        let host = match host {
            Ok(host) => host,
            Err(e) => {
                self.receiver = None; // restart after the failed batch on the next call
                return Err(e);
            }
        };
        let [h, w] = self.config.target_size;
        let per_image = h * w * 3;
        let (pixels, decoded) =
            kept_images(&host.files, &host.decoded, host.pixels, per_image, leave_out, |sample, file| {
                prepare_image(&self.files, &self.generator, &self.config, host.epoch, host.positions[sample], file)
            })?;
        let n = pixels.len() / per_image.max(1);
        let images = (n > 0)
            .then(|| Tensor::<4>::from_data(TensorData::new(pixels, [n, h, w, 3]), device).permute([0, 3, 1, 2]));
        let targets = match self.config.class_mode {
            ClassMode::None => None,
            ClassMode::Binary | ClassMode::Sparse => Some(class_targets(&host.classes, None, device)),
            ClassMode::Categorical => Some(class_targets(&host.classes, Some(self.class_names.len()), device)),
        };
        Ok(PartialBatch { images, targets, files: host.files, decoded, classes: host.classes, paths: host.paths })
    }

    /// A hint that the images of `files` (indices in [`DirectoryIterator::files`]) will be
    /// left out of the batches to come: the workers stop decoding them ahead. Batches stay
    /// the same (a file still asked for is decoded when its batch is taken).
    /// [`DirectoryIterator::decode_all`] takes the hints back. An index past the files is
    /// an error.
    pub fn skip_decoding(&self, files: &[usize]) -> Result<()> {
        self.skip_hints.skip(files)
    }

    /// Takes back every [`DirectoryIterator::skip_decoding`] hint: the workers decode every
    /// file ahead again.
    pub fn decode_all(&self) {
        self.skip_hints.clear();
    }
}

/// One image as a batch serves it: loaded, resized, augmented with the random transform of
/// its position in its epoch, rescaled; `[rows, cols, 3]` values.
fn prepare_image(
    files: &[(PathBuf, usize)],
    generator: &ImageDataGenerator,
    config: &FlowConfig,
    epoch: u64,
    position: usize,
    file: usize,
) -> Result<Vec<f32>> {
    let image = load_img(&files[file].0, Some(config.target_size), config.interpolation)?;
    let mut rng = image_rng(config.seed, epoch, position as u64);
    Ok(generator.augment(&image, &mut rng).data)
}

/// A batch's targets from its class indices: `[n, 1]` indices as floats, or one-hot
/// `[n, classes]` when `one_hot_classes` is given.
pub(crate) fn class_targets(classes: &[usize], one_hot_classes: Option<usize>, device: &Device) -> Tensor<2> {
    let n = classes.len();
    match one_hot_classes {
        None => {
            let values: Vec<f32> = classes.iter().map(|&c| c as f32).collect();
            Tensor::from_data(TensorData::new(values, [n, 1]), device)
        }
        Some(k) => {
            let mut one_hot = vec![0.0f32; n * k];
            classes.iter().enumerate().for_each(|(i, &c)| one_hot[i * k + c] = 1.0);
            Tensor::from_data(TensorData::new(one_hot, [n, k]), device)
        }
    }
}

/// The worker side: computes batches in order and sends them until the iterator is dropped.
struct Producer {
    directory: PathBuf,
    files: Arc<Vec<(PathBuf, usize)>>,
    generator: Arc<ImageDataGenerator>,
    config: FlowConfig,
    skip_hints: SkipHints,
    first_batch: usize,
}

impl Producer {
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut epoch_rng(self.config.seed, epoch));
        }
        order
    }

    fn run(self, sender: SyncSender<Result<HostBatch>>) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(self.config.workers).build();
        match pool {
            Ok(pool) => pool.install(|| self.produce(sender)),
            Err(_) => self.produce(sender),
        }
    }

    fn produce(&self, sender: SyncSender<Result<HostBatch>>) {
        let per_epoch = self.files.len().div_ceil(self.config.batch_size);
        let mut batch_index = self.first_batch;
        let mut order_epoch = (batch_index / per_epoch) as u64;
        let mut order = self.epoch_order(order_epoch);
        loop {
            let epoch = (batch_index / per_epoch) as u64;
            let within = batch_index % per_epoch;
            if epoch != order_epoch {
                (order_epoch, order) = (epoch, self.epoch_order(epoch));
            }
            let start = within * self.config.batch_size;
            let positions: Vec<usize> = (start..(start + self.config.batch_size).min(order.len())).collect();
            let batch = self.make_batch(epoch, &positions, &order);
            if sender.send(batch).is_err() {
                return;
            }
            batch_index += 1;
        }
    }

    fn make_batch(&self, epoch: u64, positions: &[usize], order: &[usize]) -> Result<HostBatch> {
        let [h, w] = self.config.target_size;
        let files: Vec<usize> = positions.iter().map(|&p| order[p]).collect();
        let decoded: Vec<bool> = files.iter().map(|&file| !self.skip_hints.skipped(file)).collect();
        let results = positions
            .par_iter()
            .zip(&files)
            .zip(&decoded)
            .map(|((&position, &file), &decoded)| {
                decoded.then(|| prepare_image(&self.files, &self.generator, &self.config, epoch, position, file))
            })
            .collect();
        let (kept, images) = drop_undecodable(&self.directory, results, self.config.bad_images)?;
        let positions: Vec<usize> = kept.iter().map(|&sample| positions[sample]).collect();
        let files: Vec<usize> = kept.iter().map(|&sample| files[sample]).collect();
        let decoded: Vec<bool> = kept.iter().map(|&sample| decoded[sample]).collect();
        let mut pixels = Vec::with_capacity(images.len() * h * w * 3);
        images.into_iter().for_each(|image| pixels.extend(image));
        let (paths, classes) = files.iter().map(|&f| (self.files[f].0.clone(), self.files[f].1)).unzip();
        Ok(HostBatch { pixels, decoded, epoch, positions, files, classes, paths })
    }
}
