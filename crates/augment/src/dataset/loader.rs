//! The dataset object `image_dataset_from_directory` returns: decoding, TF resizing and the
//! optional augmentation on all cores with a bounded prefetch, batch by batch, epoch after
//! epoch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rayon::prelude::*;

use crate::dataset::tf_resize::{crop_to_aspect_ratio, tf_resize};
use crate::dataset::{ColorMode, ImageDatasetConfig, LabelMode};
use crate::decode::LargeDecode;
use crate::directory::{Batch, PartialBatch, class_targets};
use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::layers::{Augmentation, PreprocessingLayer};
use crate::partial::{SkipHints, kept_images};
use crate::scan::{drop_undecodable, keep_readable};
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

/// A batch on the host, before it becomes tensors.
struct HostBatch {
    /// The decoded images, in batch order.
    pixels: Vec<f32>,
    /// Whether each sample was decoded ahead (a file skipped by a hint was not).
    decoded: Vec<bool>,
    files: Vec<usize>,
    classes: Vec<usize>,
    paths: Vec<PathBuf>,
}

/// What `image_dataset_from_directory` returns: batches of `[batch, channels, rows, cols]`
/// images (values 0..255) with labels per `label_mode`, cycling over epochs. `take(n)` and
/// `skip(n)` keep the first `n` batches of each epoch or the others (the tutorial carves its
/// test set so); `len()` is the number of batches per epoch.
pub struct ImageDataset {
    directory: PathBuf,
    files: Arc<Vec<(PathBuf, usize)>>,
    class_names: Vec<String>,
    config: Arc<ImageDatasetConfig>,
    seed: u32,
    augmentation: Option<Arc<Augmentation>>,
    /// The window of batch indices within each epoch this dataset serves.
    window: (usize, usize),
    /// Per file: whether the workers may skip decoding it (a hint from the consumer).
    skip_hints: SkipHints,
    receiver: Option<Receiver<Result<HostBatch>>>,
    batches_served: usize,
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
        let batches = files.len().div_ceil(config.batch_size);
        let skip_hints = SkipHints::new(files.len());
        Ok(Self {
            directory: directory.to_path_buf(),
            files: Arc::new(files),
            class_names,
            config: Arc::new(config),
            seed,
            augmentation: None,
            window: (0, batches),
            skip_hints,
            receiver: None,
            batches_served: 0,
        })
    }

    /// Applies `augmentation` (Keras preprocessing layers) to every batch: for training
    /// data only, as Keras runs those layers in training only.
    pub fn with_augmentation(mut self, augmentation: Augmentation) -> Self {
        self.augmentation = (!augmentation.is_empty()).then(|| Arc::new(augmentation));
        self.receiver = None;
        self
    }

    /// Whether batches go through preprocessing layers ([`ImageDataset::with_augmentation`]).
    pub fn augments(&self) -> bool {
        self.augmentation.is_some()
    }

    /// Class names in label order (`dataset.class_names`).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Every file and its class, in Keras' order (`dataset.file_paths`).
    pub fn files(&self) -> &[(PathBuf, usize)] {
        &self.files
    }

    /// The seed the file order was shuffled with (drawn when none was given).
    pub fn seed(&self) -> u32 {
        self.seed
    }

    /// The arguments.
    pub fn config(&self) -> &ImageDatasetConfig {
        &self.config
    }

    /// Batches per epoch (`len(dataset)`, `tf.data.experimental.cardinality`).
    pub fn len(&self) -> usize {
        self.window.1 - self.window.0
    }

    /// Whether an epoch has no batches (after `skip` past the end).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `dataset.take(n)`: the first `n` batches of each epoch.
    pub fn take(&self, n: usize) -> ImageDataset {
        self.window_copy((self.window.0, (self.window.0 + n).min(self.window.1)))
    }

    /// `dataset.skip(n)`: each epoch's batches after the first `n`.
    pub fn skip(&self, n: usize) -> ImageDataset {
        self.window_copy(((self.window.0 + n).min(self.window.1), self.window.1))
    }

    fn window_copy(&self, window: (usize, usize)) -> ImageDataset {
        ImageDataset {
            directory: self.directory.clone(),
            files: Arc::clone(&self.files),
            class_names: self.class_names.clone(),
            config: Arc::clone(&self.config),
            seed: self.seed,
            augmentation: self.augmentation.clone(),
            window,
            skip_hints: SkipHints::new(self.files.len()),
            receiver: None,
            batches_served: 0,
        }
    }

    fn start(&mut self) -> &Receiver<Result<HostBatch>> {
        let (sender, receiver) = sync_channel(self.config.prefetch.max(1));
        let producer = Producer {
            directory: self.directory.clone(),
            files: Arc::clone(&self.files),
            config: Arc::clone(&self.config),
            seed: self.seed,
            augmentation: self.augmentation.clone(),
            window: self.window,
            skip_hints: self.skip_hints.clone(),
            first_batch: self.batches_served,
        };
        std::thread::spawn(move || producer.produce(sender));
        self.receiver.insert(receiver)
    }

    /// The next batch on `device`; a file that cannot be decoded is an error naming it.
    pub fn next_batch(&mut self, device: &Device) -> Result<Batch> {
        let batch = self.next_batch_without(device, &|_| false)?;
        let images = batch.images.unwrap_or_else(|| {
            let ([h, w], channels) = (self.config.image_size, self.config.color_mode.channels());
            Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, channels, h, w]), device)
        });
        Ok(Batch { images, targets: batch.targets, classes: batch.classes, paths: batch.paths })
    }

    /// The next batch without the images of the files `leave_out` names (by their index in
    /// [`ImageDataset::files`]; e.g. those whose features a consumer already holds): the
    /// same samples, order and labels as [`ImageDataset::next_batch`], each image that is
    /// there the same pixels. Without augmentation, files hinted with
    /// [`ImageDataset::skip_decoding`] are not decoded ahead; one of them that `leave_out`
    /// does not name is decoded on the spot.
    pub fn next_batch_without(&mut self, device: &Device, leave_out: &dyn Fn(usize) -> bool) -> Result<PartialBatch> {
        if self.is_empty() {
            return Err(AugmentError::EmptyDirectory {
                path: self.directory.clone(),
                reason: "the dataset has no batches (skip past its end?)".into(),
            });
        }
        let receiver = match &self.receiver {
            Some(r) => r,
            None => self.start(),
        };
        let host = receiver.recv().map_err(|_| AugmentError::LoaderStopped { path: self.directory.clone() })?;
        self.batches_served += 1;
        let host = host.inspect_err(|_| self.receiver = None)?;
        let ([h, w], channels) = (self.config.image_size, self.config.color_mode.channels());
        let (pixels, decoded) =
            kept_images(&host.files, &host.decoded, host.pixels, h * w * channels, leave_out, |_, file| {
                Ok(load_for_dataset(&self.files[file].0, &self.config)?.data)
            })?;
        let n = decoded.iter().filter(|&&kept| kept).count();
        let images = (n > 0).then(|| {
            Tensor::<4>::from_data(TensorData::new(pixels, [n, h, w, channels]), device).permute([0, 3, 1, 2])
        });
        let targets = match self.config.label_mode {
            LabelMode::None => None,
            LabelMode::Int | LabelMode::Binary => Some(class_targets(&host.classes, None, device)),
            LabelMode::Categorical => Some(class_targets(&host.classes, Some(self.class_names.len()), device)),
        };
        Ok(PartialBatch { images, targets, files: host.files, decoded, classes: host.classes, paths: host.paths })
    }

    /// A hint that the images of `files` (indices in [`ImageDataset::files`]) will be left
    /// out of the batches to come: without augmentation, the workers stop decoding them
    /// ahead (with it, every image is decoded: the layers draw per batch). Batches stay the
    /// same. [`ImageDataset::decode_all`] takes the hints back. An index past the files is
    /// an error.
    pub fn skip_decoding(&self, files: &[usize]) -> Result<()> {
        self.skip_hints.skip(files)
    }

    /// Takes back every [`ImageDataset::skip_decoding`] hint.
    pub fn decode_all(&self) {
        self.skip_hints.clear();
    }
}

/// The worker side: computes the window's batches in order, epoch after epoch.
struct Producer {
    directory: PathBuf,
    files: Arc<Vec<(PathBuf, usize)>>,
    config: Arc<ImageDatasetConfig>,
    seed: u32,
    augmentation: Option<Arc<Augmentation>>,
    window: (usize, usize),
    skip_hints: SkipHints,
    first_batch: usize,
}

impl Producer {
    /// An epoch's order: TF's shuffle buffer of `8 * batch_size` (fill, then repeatedly
    /// emit a random element and refill its slot), or the file order without shuffling.
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let n = self.files.len();
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

    fn produce(self, sender: SyncSender<Result<HostBatch>>) {
        let per_epoch = self.window.1 - self.window.0;
        let mut served = self.first_batch;
        let mut cached: Option<(u64, Vec<usize>)> = None;
        loop {
            let epoch = (served / per_epoch) as u64;
            let within = self.window.0 + served % per_epoch;
            if cached.as_ref().is_none_or(|(e, _)| *e != epoch) {
                cached = Some((epoch, self.epoch_order(epoch)));
            }
            let order = &cached.as_ref().expect("the order was just computed").1;
            let start = within * self.config.batch_size;
            let positions = &order[start..(start + self.config.batch_size).min(order.len())];
            let batch = self.make_batch(epoch, within, positions);
            if sender.send(batch).is_err() {
                return;
            }
            served += 1;
        }
    }

    fn make_batch(&self, epoch: u64, batch_index: usize, files: &[usize]) -> Result<HostBatch> {
        // Hints are followed only without augmentation (its layers draw per batch).
        let decoded: Vec<bool> =
            files.iter().map(|&file| self.augmentation.is_some() || !self.skip_hints.skipped(file)).collect();
        let results = files
            .par_iter()
            .zip(&decoded)
            .map(|(&file, &decoded)| decoded.then(|| load_for_dataset(&self.files[file].0, &self.config)))
            .collect();
        let (kept, mut images) = drop_undecodable(&self.directory, results, self.config.bad_images)?;
        let files: Vec<usize> = kept.iter().map(|&sample| files[sample]).collect();
        let decoded: Vec<bool> = kept.iter().map(|&sample| decoded[sample]).collect();
        if let Some(augmentation) = &self.augmentation {
            let mut rng = image_rng(self.seed as u64 ^ 0x4155_4721, epoch, batch_index as u64);
            augmentation.apply(&mut images, &mut rng)?;
        }
        let mut pixels = Vec::with_capacity(images.iter().map(|image| image.data.len()).sum());
        images.iter().for_each(|image| pixels.extend_from_slice(&image.data));
        Ok(HostBatch {
            pixels,
            decoded,
            classes: files.iter().map(|&i| self.files[i].1).collect(),
            paths: files.iter().map(|&i| self.files[i].0.clone()).collect(),
            files,
        })
    }
}
