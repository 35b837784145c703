//! [`FolderBatches`]: what both folder readers serve, as one trait, so that a consumer (a
//! trainer's batch source) is written once for both.

use std::path::PathBuf;

use burn::tensor::Device;

use crate::dataset::ImageDataset;
use crate::directory::{Batch, DirectoryIterator, PartialBatch};
use crate::error::Result;

/// A folder of class folders served in batches, epoch after epoch:
/// [`DirectoryIterator`] (`flow_from_directory`) and [`ImageDataset`]
/// (`image_dataset_from_directory`). Each method is the reader's own method of that name.
pub trait FolderBatches {
    /// The next batch on `device`.
    fn next_batch(&mut self, device: &Device) -> Result<Batch>;

    /// The next batch without the images of the files `leave_out` names (by their index in
    /// [`FolderBatches::files`]).
    fn next_batch_without(&mut self, device: &Device, leave_out: &dyn Fn(usize) -> bool) -> Result<PartialBatch>;

    /// Batches per epoch.
    fn batches_per_epoch(&self) -> usize;

    /// Class names in index order.
    fn class_names(&self) -> &[String];

    /// Every image file and its class.
    fn files(&self) -> &[(PathBuf, usize)];

    /// Whether a file's pixels are drawn anew each epoch (random augmentation).
    fn augments(&self) -> bool;

    /// A hint that the images of `files` will be left out of the batches to come.
    fn skip_decoding(&self, files: &[usize]) -> Result<()>;

    /// Takes back every [`FolderBatches::skip_decoding`] hint.
    fn decode_all(&self);

    /// The reader's arguments that give batches targets, for a message to a user whose
    /// batches have none (e.g. "class_mode binary or categorical").
    fn targets_argument(&self) -> &'static str;
}

/// Implements [`FolderBatches`] for a reader by calling its methods of the same names
/// (`$per_epoch` counts the batches of an epoch).
macro_rules! folder_batches {
    ($reader:ty, $per_epoch:ident, $targets_argument:literal) => {
        impl FolderBatches for $reader {
            fn next_batch(&mut self, device: &Device) -> Result<Batch> {
                <$reader>::next_batch(self, device)
            }

            fn next_batch_without(
                &mut self,
                device: &Device,
                leave_out: &dyn Fn(usize) -> bool,
            ) -> Result<PartialBatch> {
                <$reader>::next_batch_without(self, device, leave_out)
            }

            fn batches_per_epoch(&self) -> usize {
                <$reader>::$per_epoch(self)
            }

            fn class_names(&self) -> &[String] {
                <$reader>::class_names(self)
            }

            fn files(&self) -> &[(PathBuf, usize)] {
                <$reader>::files(self)
            }

            fn augments(&self) -> bool {
                <$reader>::augments(self)
            }

            fn skip_decoding(&self, files: &[usize]) -> Result<()> {
                <$reader>::skip_decoding(self, files)
            }

            fn decode_all(&self) {
                <$reader>::decode_all(self)
            }

            fn targets_argument(&self) -> &'static str {
                $targets_argument
            }
        }
    };
}

folder_batches!(DirectoryIterator, batches_per_epoch, "class_mode binary, sparse or categorical");
folder_batches!(ImageDataset, len, "label_mode int, binary or categorical");
