//! Where training batches come from: an image folder (augment's `DirectoryIterator`),
//! arrays in memory (Keras `fit(x, y, batch_size=...)`), or base features cached once.

#[cfg(doc)]
use augment::{DirectoryIterator, ImageDataset};
use augment::{FolderBatches, epoch_rng};
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;

use crate::error::{Result, TransferError};
use crate::pipeline::InputPipeline;

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

    /// How the source turns files into the pixels it serves, where it reads files: what
    /// checkpoints record so that a loaded model predicts files the same way.
    fn input_pipeline(&self) -> Option<InputPipeline> {
        None
    }

    /// Samples per class index over one pass, where the source knows them (what
    /// [`ClassWeight::Balanced`](crate::ClassWeight::Balanced) weighs by).
    fn class_counts(&self) -> Option<Vec<usize>> {
        None
    }

    /// The next batch with Keras' `sample_weight` of each sample, when the source has them
    /// (`InMemoryBatches::with_sample_weights`); `fit` trains on them.
    fn next_weighted_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>, Option<Vec<f32>>)> {
        let (inputs, targets) = self.next_batch(device)?;
        Ok((inputs, targets, None))
    }

    /// The source as a [`RepeatableSource`], when it is one: every sample served the same
    /// inputs each time it comes (no random augmentation). `fit` then keeps the frozen
    /// base's features of its validation samples instead of computing them every epoch.
    fn as_repeatable(&mut self) -> Option<&mut dyn RepeatableSource> {
        None
    }
}

/// A batch whose samples carry keys that name them across epochs (an image file's index),
/// with the inputs of only those samples the consumer asked for.
#[derive(Debug, Clone)]
pub struct KeyedBatch {
    /// Each sample's key, in batch order.
    pub keys: Vec<usize>,
    /// The inputs of the samples asked for, in batch order (`None` when none was).
    pub inputs: Option<Inputs>,
    /// Targets of every sample, `[batch, outputs]`.
    pub targets: Tensor<2>,
}

/// A source that serves each sample the same inputs every time it comes, named by a key:
/// what lets a consumer reuse what it computed from a sample (the base's features of
/// validation images, as `fit` does with a frozen base).
pub trait RepeatableSource {
    /// The next batch (the same samples, order and targets as
    /// [`BatchSource::next_batch`]), with inputs only for the samples whose key `known`
    /// does not hold.
    fn next_keyed_batch(&mut self, device: &Device, known: &dyn Fn(usize) -> bool) -> Result<KeyedBatch>;

    /// A hint that the inputs of `keys` will not be asked for again (a folder's workers then
    /// stop decoding those images ahead). Batches stay the same.
    fn skip_inputs(&mut self, keys: &[usize]) -> Result<()>;

    /// Takes back every [`RepeatableSource::skip_inputs`] hint.
    fn need_all_inputs(&mut self);

    /// The file a sample's key names, where samples are files.
    fn sample_path(&self, _key: usize) -> Option<std::path::PathBuf> {
        None
    }
}

/// Either folder reader of `augment` ([`DirectoryIterator`], [`ImageDataset`]): a checkpoint
/// records how it reads a file ([`InputPipeline`]).
impl<F> BatchSource for F
where
    F: FolderBatches,
    for<'a> InputPipeline: From<&'a F>,
{
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)> {
        let batch = FolderBatches::next_batch(self, device)?;
        let targets = batch.targets.ok_or_else(|| missing_targets(self))?;
        Ok((Inputs::Images(batch.images), targets))
    }

    fn batches_per_epoch(&self) -> usize {
        FolderBatches::batches_per_epoch(self)
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(FolderBatches::class_names(self))
    }

    fn class_counts(&self) -> Option<Vec<usize>> {
        Some(count_classes(self.files(), FolderBatches::class_names(self).len()))
    }

    fn input_pipeline(&self) -> Option<InputPipeline> {
        Some(InputPipeline::from(self))
    }

    fn as_repeatable(&mut self) -> Option<&mut dyn RepeatableSource> {
        match self.augments() {
            true => None,
            false => Some(self),
        }
    }
}

/// A folder reader that does not augment: each file, named by its index in the reader's
/// `files()`, gives the same pixels every epoch.
impl<F: FolderBatches> RepeatableSource for F {
    fn next_keyed_batch(&mut self, device: &Device, known: &dyn Fn(usize) -> bool) -> Result<KeyedBatch> {
        let batch = self.next_batch_without(device, known)?;
        let targets = batch.targets.ok_or_else(|| missing_targets(self))?;
        Ok(KeyedBatch { keys: batch.files, inputs: batch.images.map(Inputs::Images), targets })
    }

    fn skip_inputs(&mut self, keys: &[usize]) -> Result<()> {
        Ok(self.skip_decoding(keys)?)
    }

    fn need_all_inputs(&mut self) {
        self.decode_all();
    }

    fn sample_path(&self, key: usize) -> Option<std::path::PathBuf> {
        self.files().get(key).map(|(path, _)| path.clone())
    }
}

/// The error of a folder reader whose batches have no targets.
fn missing_targets(folder: &dyn FolderBatches) -> TransferError {
    TransferError::Config(format!("training needs targets: use {}", folder.targets_argument()))
}

/// Files per class index.
fn count_classes(files: &[(std::path::PathBuf, usize)], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for (_, class) in files {
        if let Some(count) = counts.get_mut(*class) {
            *count += 1;
        }
    }
    counts
}

/// Samples in memory, served in batches (the last one smaller), in order or reshuffled
/// every epoch, like Keras' `fit(x, y, batch_size, shuffle=...)`.
pub struct InMemoryBatches {
    samples: Vec<f32>,
    targets: Vec<f32>,
    sample_weights: Option<Vec<f32>>,
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
            sample_weights: None,
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

    /// Keras' `fit(x, y, sample_weight=w)`: one weight per sample (finite, not negative),
    /// served with its sample.
    pub fn with_sample_weights(mut self, weights: Vec<f32>) -> Result<Self> {
        if weights.len() != self.len() {
            return Err(TransferError::Config(format!(
                "in-memory batches: {} sample weights for {} samples",
                weights.len(),
                self.len()
            )));
        }
        if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(TransferError::Config(format!(
                "in-memory batches: sample weight {w}: expected a finite weight >= 0"
            )));
        }
        self.sample_weights = Some(weights);
        Ok(self)
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

impl InMemoryBatches {
    /// The samples of the next batch, in serving order; moves on to the next one.
    fn next_samples(&mut self) -> Result<Vec<usize>> {
        let n = self.len();
        if n == 0 {
            return Err(TransferError::Config("no samples to serve".into()));
        }
        let start = self.next;
        let end = (start + self.batch_size).min(n);
        let samples = self.order[start..end].to_vec();
        if end == n {
            self.next = 0;
            self.epoch += 1;
            self.reshuffle();
        } else {
            self.next = end;
        }
        Ok(samples)
    }

    /// `(inputs of the samples of `inputs_of`, targets of every sample of `samples`)`.
    fn assemble(&self, samples: &[usize], inputs_of: &[usize], device: &Device) -> (Option<Inputs>, Tensor<2>) {
        let per_sample: usize = self.sample_shape.iter().product();
        let mut values = Vec::with_capacity(inputs_of.len() * per_sample);
        inputs_of.iter().for_each(|&i| values.extend_from_slice(&self.samples[i * per_sample..(i + 1) * per_sample]));
        let mut targets = Vec::with_capacity(samples.len() * self.outputs);
        samples
            .iter()
            .for_each(|&i| targets.extend_from_slice(&self.targets[i * self.outputs..(i + 1) * self.outputs]));
        let [c, h, w] = self.sample_shape;
        let inputs = (!inputs_of.is_empty()).then(|| {
            let values = Tensor::<4>::from_data(TensorData::new(values, [inputs_of.len(), c, h, w]), device);
            match self.features {
                true => Inputs::Features(values),
                false => Inputs::Images(values),
            }
        });
        let targets = Tensor::<2>::from_data(TensorData::new(targets, [samples.len(), self.outputs]), device);
        (inputs, targets)
    }
}

impl BatchSource for InMemoryBatches {
    fn next_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>)> {
        let samples = self.next_samples()?;
        let (inputs, targets) = self.assemble(&samples, &samples, device);
        Ok((inputs.expect("a batch has at least one sample"), targets))
    }

    fn batches_per_epoch(&self) -> usize {
        self.len().div_ceil(self.batch_size)
    }

    /// Counted from the targets, each read as `class_weight` reads it.
    fn class_counts(&self) -> Option<Vec<usize>> {
        let classes = crate::loss::target_classes(&self.targets, self.outputs);
        let mut counts = vec![0; classes.iter().max().map_or(0, |&m| m + 1).max(self.outputs.max(2))];
        classes.into_iter().for_each(|class| counts[class] += 1);
        Some(counts)
    }

    fn next_weighted_batch(&mut self, device: &Device) -> Result<(Inputs, Tensor<2>, Option<Vec<f32>>)> {
        let samples = self.next_samples()?;
        let (inputs, targets) = self.assemble(&samples, &samples, device);
        let weights = self.sample_weights.as_ref().map(|w| samples.iter().map(|&i| w[i]).collect());
        Ok((inputs.expect("a batch has at least one sample"), targets, weights))
    }

    fn as_repeatable(&mut self) -> Option<&mut dyn RepeatableSource> {
        // Features go to the head as they are: nothing to keep.
        match self.features {
            true => None,
            false => Some(self),
        }
    }
}

/// Samples in memory, named by their index in [`InMemoryBatches::samples`].
impl RepeatableSource for InMemoryBatches {
    fn next_keyed_batch(&mut self, device: &Device, known: &dyn Fn(usize) -> bool) -> Result<KeyedBatch> {
        let samples = self.next_samples()?;
        let asked: Vec<usize> = samples.iter().copied().filter(|&i| !known(i)).collect();
        let (inputs, targets) = self.assemble(&samples, &asked, device);
        Ok(KeyedBatch { keys: samples, inputs, targets })
    }

    fn skip_inputs(&mut self, _keys: &[usize]) -> Result<()> {
        Ok(())
    }

    fn need_all_inputs(&mut self) {}
}
