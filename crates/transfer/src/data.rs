//! Where training batches come from: an image folder (augment's `DirectoryIterator`) or
//! arrays in memory (Keras `fit(x, y, batch_size=...)`).

use augment::DirectoryIterator;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::Result;

/// A source of `(images, targets)` batches, cycling over epochs like Keras' iterators.
pub trait BatchSource {
    /// The next batch on `device`: images `[batch, 3, rows, cols]`, targets `[batch, outputs]`.
    fn next_batch(&mut self, device: &Device) -> Result<(Tensor<4>, Tensor<2>)>;
    /// Batches in one pass over the data (Keras' default `steps_per_epoch`).
    fn batches_per_epoch(&self) -> usize;
}

impl BatchSource for DirectoryIterator {
    fn next_batch(&mut self, device: &Device) -> Result<(Tensor<4>, Tensor<2>)> {
        let batch = DirectoryIterator::next_batch(self, device)?;
        let targets = batch.targets.ok_or_else(|| {
            crate::error::TransferError::Config("training needs targets: use class_mode binary or categorical".into())
        })?;
        Ok((batch.images, targets))
    }

    fn batches_per_epoch(&self) -> usize {
        DirectoryIterator::batches_per_epoch(self)
    }
}

/// Arrays in memory, served in order in batches (the last one smaller), like Keras'
/// `fit(x, y, batch_size, shuffle=False)`.
pub struct InMemoryBatches {
    images: Vec<f32>,
    targets: Vec<f32>,
    image_shape: [usize; 3],
    outputs: usize,
    batch_size: usize,
    next: usize,
}

impl InMemoryBatches {
    /// `images` NCHW `[n, 3, rows, cols]` flattened, `targets` `[n, outputs]` flattened.
    pub fn new(images: Vec<f32>, image_shape: [usize; 3], targets: Vec<f32>, outputs: usize, batch_size: usize) -> Self {
        Self { images, targets, image_shape, outputs, batch_size: batch_size.max(1), next: 0 }
    }

    fn len(&self) -> usize {
        self.targets.len() / self.outputs
    }
}

impl BatchSource for InMemoryBatches {
    fn next_batch(&mut self, device: &Device) -> Result<(Tensor<4>, Tensor<2>)> {
        let n = self.len();
        let start = self.next;
        let end = (start + self.batch_size).min(n);
        self.next = if end == n { 0 } else { end };
        let per_image: usize = self.image_shape.iter().product();
        let [c, h, w] = self.image_shape;
        let images = TensorData::new(self.images[start * per_image..end * per_image].to_vec(), [end - start, c, h, w]);
        let targets = TensorData::new(self.targets[start * self.outputs..end * self.outputs].to_vec(), [end - start, self.outputs]);
        Ok((Tensor::from_data(images, device), Tensor::from_data(targets, device)))
    }

    fn batches_per_epoch(&self) -> usize {
        self.len().div_ceil(self.batch_size)
    }
}
