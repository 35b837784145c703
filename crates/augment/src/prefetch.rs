//! The prefetching pipeline both folder readers share ([`crate::DirectoryIterator`] and
//! [`crate::ImageDataset`]): a producer thread that prepares the batches to come in order,
//! their images on all cores, a bounded queue to the consumer, the consumer's hints of which
//! files need not be decoded ahead, and the batches as Burn tensors. Each reader supplies
//! what differs as a [`BatchRecipe`]: its epoch order, how one file becomes an image and
//! what happens to a whole batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::directory::{Batch, PartialBatch};
use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::partial::{SkipHints, kept_images};
use crate::scan::{BadImages, drop_undecodable};

/// What a folder reader does that the other does not.
pub(crate) trait BatchRecipe: Send + Sync + 'static {
    /// The order of the `files` files in epoch `epoch` (each index once).
    fn epoch_order(&self, files: usize, epoch: u64) -> Vec<usize>;

    /// The image of the file at `path`, served at `position` of epoch `epoch`'s order
    /// (what a per-image random transform is drawn from).
    fn image(&self, path: &Path, epoch: u64, position: usize) -> Result<Image>;

    /// Steps on a whole batch after its images are made (batch `batch` of epoch `epoch`).
    fn finish_batch(&self, _epoch: u64, _batch: usize, _images: &mut [Image]) -> Result<()> {
        Ok(())
    }

    /// Whether an image depends on the rest of its batch (then every image is made ahead,
    /// whatever the consumer's hints say).
    fn batch_dependent(&self) -> bool {
        false
    }
}

/// How a batch's targets are made from its class indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Targets {
    /// No targets.
    None,
    /// `[n, 1]`: the class indices as floats (also 0 / 1 for two classes).
    Indices,
    /// `[n, classes]` one-hot rows.
    OneHot(usize),
}

impl Targets {
    fn of(self, classes: &[usize], device: &Device) -> Option<Tensor<2>> {
        let n = classes.len();
        match self {
            Targets::None => None,
            Targets::Indices => {
                let values: Vec<f32> = classes.iter().map(|&c| c as f32).collect();
                Some(Tensor::from_data(TensorData::new(values, [n, 1]), device))
            }
            Targets::OneHot(k) => {
                let mut one_hot = vec![0.0f32; n * k];
                classes.iter().enumerate().for_each(|(i, &c)| one_hot[i * k + c] = 1.0);
                Some(Tensor::from_data(TensorData::new(one_hot, [n, k]), device))
            }
        }
    }
}

/// The shape of what a reader serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Images per batch (the last of an epoch may have fewer).
    pub batch_size: usize,
    /// `[rows, cols, channels]` of every image.
    pub image: [usize; 3],
    /// The targets.
    pub targets: Targets,
    /// Batches prepared ahead.
    pub prefetch: usize,
    /// Threads that make images: `Some(0)` one per core in a pool of the reader's own,
    /// `None` rayon's global pool.
    pub workers: Option<usize>,
    /// What a file that does not decode does to its batch.
    pub bad_images: BadImages,
}

/// A batch on the host, before it becomes tensors.
struct HostBatch {
    /// The images made ahead, in batch order.
    pixels: Vec<f32>,
    /// Whether each sample's image was made ahead (a file skipped by a hint was not).
    decoded: Vec<bool>,
    /// The epoch and each sample's position in its order.
    epoch: u64,
    positions: Vec<usize>,
    files: Vec<usize>,
}

/// What the consumer and the producer of a reader's batches share.
struct Source<R> {
    directory: PathBuf,
    files: Arc<Vec<(PathBuf, usize)>>,
    recipe: R,
    layout: Layout,
}

/// The batches of a folder's files, made ahead by a producer thread, epoch after epoch.
pub(crate) struct Prefetch<R> {
    source: Arc<Source<R>>,
    /// The batch indices within each epoch that are served: `take` / `skip` windows.
    window: (usize, usize),
    skip_hints: SkipHints,
    receiver: Option<Receiver<Result<HostBatch>>>,
    batches_served: usize,
}

impl<R: BatchRecipe> Prefetch<R> {
    /// Every batch of `files` (paths and classes) of `directory`; nothing starts before
    /// the first batch is asked for.
    pub(crate) fn new(directory: &Path, files: Vec<(PathBuf, usize)>, recipe: R, layout: Layout) -> Self {
        let batches = files.len().div_ceil(layout.batch_size.max(1));
        let source = Source { directory: directory.to_path_buf(), files: Arc::new(files), recipe, layout };
        Self::serving(Arc::new(source), (0, batches))
    }

    /// `source`'s batches `window` of each epoch, from the first one, with no hints.
    fn serving(source: Arc<Source<R>>, window: (usize, usize)) -> Self {
        let skip_hints = SkipHints::new(source.files.len());
        Self { source, window, skip_hints, receiver: None, batches_served: 0 }
    }

    /// The same files and layout with another recipe, from the first batch, with no hints.
    pub(crate) fn with_recipe(&self, recipe: R) -> Self {
        let Source { directory, files, layout, .. } = &*self.source;
        let source = Source { directory: directory.clone(), files: Arc::clone(files), recipe, layout: *layout };
        Self::serving(Arc::new(source), self.window)
    }

    /// The same files, recipe and layout serving the batches `window` of each epoch, from
    /// the first one, with no hints.
    pub(crate) fn with_window(&self, window: (usize, usize)) -> Self {
        Self::serving(Arc::clone(&self.source), window)
    }

    /// Every file and its class.
    pub(crate) fn files(&self) -> &[(PathBuf, usize)] {
        &self.source.files
    }

    /// The recipe.
    pub(crate) fn recipe(&self) -> &R {
        &self.source.recipe
    }

    /// The window of batch indices served in each epoch.
    pub(crate) fn window(&self) -> (usize, usize) {
        self.window
    }

    /// Batches served per epoch.
    pub(crate) fn batches_per_epoch(&self) -> usize {
        self.window.1 - self.window.0
    }

    fn start(&mut self) -> &Receiver<Result<HostBatch>> {
        let (sender, receiver) = sync_channel(self.source.layout.prefetch.max(1));
        let producer = Producer {
            source: Arc::clone(&self.source),
            window: self.window,
            skip_hints: self.skip_hints.clone(),
            first_batch: self.batches_served,
        };
        std::thread::spawn(move || producer.run(sender));
        self.receiver.insert(receiver)
    }

    /// The next batch on `device`; a file that does not decode is an error naming it
    /// (under [`BadImages::Error`]).
    pub(crate) fn next_batch(&mut self, device: &Device) -> Result<Batch> {
        let batch = self.next_batch_without(device, &|_| false)?;
        let images = batch.images.unwrap_or_else(|| {
            let [h, w, c] = self.source.layout.image;
            Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, c, h, w]), device)
        });
        Ok(Batch { images, targets: batch.targets, classes: batch.classes, paths: batch.paths })
    }

    /// The next batch without the images of the files `leave_out` names: the same samples,
    /// order and targets as [`Prefetch::next_batch`], each image that is there the same
    /// pixels (a file the workers skipped on a hint is made on the spot).
    pub(crate) fn next_batch_without(
        &mut self,
        device: &Device,
        leave_out: &dyn Fn(usize) -> bool,
    ) -> Result<PartialBatch> {
        if self.batches_per_epoch() == 0 {
            return Err(AugmentError::EmptyDirectory {
                path: self.source.directory.clone(),
                reason: "the dataset has no batches (skip past its end?)".into(),
            });
        }
        let receiver = match &self.receiver {
            Some(r) => r,
            None => self.start(),
        };
        let host = receiver.recv().map_err(|_| AugmentError::LoaderStopped { path: self.source.directory.clone() })?;
        self.batches_served += 1;
        // After a failed batch, the next call restarts the producer at the batch after it.
        let host = host.inspect_err(|_| self.receiver = None)?;
        let Source { files, recipe, layout, .. } = &*self.source;
        let [h, w, c] = layout.image;
        let (pixels, decoded) =
            kept_images(&host.files, &host.decoded, host.pixels, h * w * c, leave_out, |sample, file| {
                Ok(recipe.image(&files[file].0, host.epoch, host.positions[sample])?.data)
            })?;
        let n = decoded.iter().filter(|&&kept| kept).count();
        let images = (n > 0)
            .then(|| Tensor::<4>::from_data(TensorData::new(pixels, [n, h, w, c]), device).permute([0, 3, 1, 2]));
        let (paths, classes): (Vec<PathBuf>, Vec<usize>) = host.files.iter().map(|&file| files[file].clone()).unzip();
        let targets = layout.targets.of(&classes, device);
        Ok(PartialBatch { images, targets, files: host.files, decoded, classes, paths })
    }

    /// A hint that the images of `files` will be left out of the batches to come: the
    /// workers stop making them ahead (unless the recipe's images depend on their batch).
    /// An index past the files is an error.
    pub(crate) fn skip_decoding(&self, files: &[usize]) -> Result<()> {
        self.skip_hints.skip(files)
    }

    /// Takes back every hint.
    pub(crate) fn decode_all(&self) {
        self.skip_hints.clear();
    }
}

/// The worker side: makes the window's batches in order, epoch after epoch, and sends them
/// until the consumer is dropped.
struct Producer<R> {
    source: Arc<Source<R>>,
    window: (usize, usize),
    skip_hints: SkipHints,
    first_batch: usize,
}

impl<R: BatchRecipe> Producer<R> {
    fn run(self, sender: SyncSender<Result<HostBatch>>) {
        let pool =
            self.source.layout.workers.map(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build());
        match pool {
            Some(Ok(pool)) => pool.install(|| self.produce(sender)),
            _ => self.produce(sender),
        }
    }

    fn produce(&self, sender: SyncSender<Result<HostBatch>>) {
        let per_epoch = self.window.1 - self.window.0;
        let mut served = self.first_batch;
        let mut order: Option<(u64, Vec<usize>)> = None;
        loop {
            let epoch = (served / per_epoch) as u64;
            let within = self.window.0 + served % per_epoch;
            if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                order = Some((epoch, self.source.recipe.epoch_order(self.source.files.len(), epoch)));
            }
            let order = &order.as_ref().expect("the order was just computed").1;
            let batch_size = self.source.layout.batch_size;
            let positions: Vec<usize> = (within * batch_size..((within + 1) * batch_size).min(order.len())).collect();
            if sender.send(self.make_batch(epoch, within, positions, order)).is_err() {
                return;
            }
            served += 1;
        }
    }

    fn make_batch(&self, epoch: u64, batch: usize, positions: Vec<usize>, order: &[usize]) -> Result<HostBatch> {
        let Source { directory, files: paths, recipe, layout } = &*self.source;
        let files: Vec<usize> = positions.iter().map(|&p| order[p]).collect();
        let every = recipe.batch_dependent();
        let decoded: Vec<bool> = files.iter().map(|&file| every || !self.skip_hints.skipped(file)).collect();
        let results = positions
            .par_iter()
            .zip(&files)
            .zip(&decoded)
            .map(|((&position, &file), &decoded)| decoded.then(|| recipe.image(&paths[file].0, epoch, position)))
            .collect();
        let (kept, mut images) = drop_undecodable(directory, results, layout.bad_images)?;
        recipe.finish_batch(epoch, batch, &mut images)?;
        let mut pixels = Vec::with_capacity(images.iter().map(|image| image.data.len()).sum());
        images.into_iter().for_each(|image| pixels.extend(image.data));
        Ok(HostBatch {
            pixels,
            decoded: kept.iter().map(|&sample| decoded[sample]).collect(),
            epoch,
            positions: kept.iter().map(|&sample| positions[sample]).collect(),
            files: kept.iter().map(|&sample| files[sample]).collect(),
        })
    }
}
