//! Where training batches come from: an image folder (augment's `DirectoryIterator`),
//! arrays in memory (Keras `fit(x, y, batch_size=...)`), or base features cached once.

use augment::{DirectoryIterator, ImageDataset, epoch_rng};
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;

use crate::error::{Result, TransferError};

/// What a batch holds: images for the base, or features the base already computed.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// `[batch, 3, rows, cols]` images.
    Images(Tensor<4>),
    /// `[batch, channels, rows, cols]` base features (NCHW), fed straight to the head.
    Features(Tensor<4>),
}

impl Inputs {
    /// Samples in the batch.
    pub fn len(&self) -> usize {
        match self {
            Inputs::Images(t) | Inputs::Features(t) => t.dims()[0],
        }
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A source of `(inputs, targets)` batches, cycling over epochs like Keras' iterators.
pub trait BatchSource {
    /// The next batch on `device`; targets are `[batch, outputs]`.
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)>;
    /// Batches in one pass over the data (Keras' default `steps_per_epoch`).
    fn batches_per_epoch(&self) -> usize;
    /// The class of each target index (folder names), where the source knows them:
    /// [`Trainer::fit`](crate::Trainer::fit) refuses a validation source whose classes
    /// differ from the training source's.
    fn class_names(&self) -> Option<&[String]> {
        None
    }
}

impl BatchSource for DirectoryIterator {
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)> {
        let batch = DirectoryIterator::next_batch(self, device)?;
        let targets = batch.targets.ok_or_else(|| {
            TransferError::Config("training needs targets: use class_mode binary or categorical".into())
        })?;
        Ok((Inputs::Images(batch.images), targets))
    }

    fn batches_per_epoch(&self) -> usize {
        DirectoryIterator::batches_per_epoch(self)
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(DirectoryIterator::class_names(self))
    }
}

impl BatchSource for ImageDataset {
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)> {
        let batch = ImageDataset::next_batch(self, device)?;
        let targets = batch.targets.ok_or_else(|| {
            TransferError::Config("training needs labels: use label_mode int, binary or categorical".into())
        })?;
        Ok((Inputs::Images(batch.images), targets))
    }

    fn batches_per_epoch(&self) -> usize {
        ImageDataset::len(self)
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(ImageDataset::class_names(self))
    }
}

/// Samples in memory, served in batches (the last one smaller), in order or reshuffled
/// every epoch, like Keras' `fit(x, y, batch_size, shuffle=...)`.
pub struct InMemoryBatches {
    samples: Vec<f32>,
    targets: Vec<f32>,
    sample_shape: [usize; 3],
    outputs: usize,
    batch_size: usize,
    features: bool,
    shuffle: Option<u64>,
    order: Vec<usize>,
    epoch: u64,
    next: usize,
}

impl InMemoryBatches {
    /// Images NCHW (`[n, 3, rows, cols]` flattened) with targets (`[n, outputs]` flattened).
    /// Lengths that do not describe the same `n` samples, or a zero `outputs`, `batch_size`
    /// or image dimension, are an error.
    pub fn images(
        images: Vec<f32>,
        image_shape: [usize; 3],
        targets: Vec<f32>,
        outputs: usize,
        batch_size: usize,
    ) -> Result<Self> {
        Self::new(images, image_shape, targets, outputs, batch_size, false)
    }

    /// Base features NCHW (`[n, channels, rows, cols]` flattened) with targets, checked as
    /// [`InMemoryBatches::images`] checks images.
    pub fn features(
        features: Vec<f32>,
        shape: [usize; 3],
        targets: Vec<f32>,
        outputs: usize,
        batch_size: usize,
    ) -> Result<Self> {
        Self::new(features, shape, targets, outputs, batch_size, true)
    }

    fn new(
        samples: Vec<f32>,
        sample_shape: [usize; 3],
        targets: Vec<f32>,
        outputs: usize,
        batch_size: usize,
        features: bool,
    ) -> Result<Self> {
        let invalid = |what: String| Err(TransferError::Config(format!("in-memory batches: {what}")));
        let per_sample: usize = sample_shape.iter().product();
        if per_sample == 0 || outputs == 0 || batch_size == 0 {
            return invalid(format!(
                "sample shape {sample_shape:?}, {outputs} outputs and batch size {batch_size} must all be positive"
            ));
        }
        if !targets.len().is_multiple_of(outputs) {
            return invalid(format!("{} target values are not rows of {outputs} outputs", targets.len()));
        }
        let n = targets.len() / outputs;
        if samples.len() != n * per_sample {
            return invalid(format!(
                "{} sample values for {n} targets of {outputs} outputs: expected {n} x {sample_shape:?} = {} values",
                samples.len(),
                n * per_sample
            ));
        }
        Ok(Self {
            samples,
            targets,
            sample_shape,
            outputs,
            batch_size,
            features,
            shuffle: None,
            order: (0..n).collect(),
            epoch: 0,
            next: 0,
        })
    }

    /// Reshuffles the order at the start of every epoch, from `seed`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self.reshuffle();
        self
    }

    fn reshuffle(&mut self) {
        if let Some(seed) = self.shuffle {
            self.order = (0..self.len()).collect();
            self.order.shuffle(&mut epoch_rng(seed, self.epoch));
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Every sample, flattened in the order given (not the shuffled serving order): `[n,
    /// channels, rows, cols]`, NCHW, as [`InMemoryBatches::sample_shape`] says (transpose to
    /// `[n, rows, cols, channels]` for Keras' layout). With [`InMemoryBatches::targets`],
    /// what `Trainer::cache_features` extracted, to save (e.g. with
    /// `inception_transfer::npy::write_npy`) or to train another model on.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// `[channels, rows, cols]` of one sample.
    pub fn sample_shape(&self) -> [usize; 3] {
        self.sample_shape
    }

    /// Every target, `[n, outputs]` flattened, in the order of [`InMemoryBatches::samples`].
    pub fn targets(&self) -> &[f32] {
        &self.targets
    }

    /// Target values per sample (1 for binary labels, one per class for categorical).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl BatchSource for InMemoryBatches {
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)> {
        let n = self.len();
        if n == 0 {
            return Err(TransferError::Config("no samples to serve".into()));
        }
        let start = self.next;
        let end = (start + self.batch_size).min(n);
        let per_sample: usize = self.sample_shape.iter().product();
        let mut samples = Vec::with_capacity((end - start) * per_sample);
        let mut targets = Vec::with_capacity((end - start) * self.outputs);
        for &i in &self.order[start..end] {
            samples.extend_from_slice(&self.samples[i * per_sample..(i + 1) * per_sample]);
            targets.extend_from_slice(&self.targets[i * self.outputs..(i + 1) * self.outputs]);
        }
        if end == n {
            self.next = 0;
            self.epoch += 1;
            self.reshuffle();
        } else {
            self.next = end;
        }
        let [c, h, w] = self.sample_shape;
        let samples = Tensor::<4>::from_data(TensorData::new(samples, [end - start, c, h, w]), device);
        let targets = Tensor::<2>::from_data(TensorData::new(targets, [end - start, self.outputs]), device);
        let inputs = match self.features {
            true => Inputs::Features(samples),
            false => Inputs::Images(samples),
        };
        Ok((inputs, targets))
    }

    fn batches_per_epoch(&self) -> usize {
        self.len().div_ceil(self.batch_size)
    }
}
