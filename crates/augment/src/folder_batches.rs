//! [`FolderBatches`]: what both folder readers serve, as one trait, so that a consumer (a
//! trainer's batch source) is written once for both.

use std::path::PathBuf;

use burn::tensor::Device;

use crate::directory::{Batch, PartialBatch};
use crate::error::Result;
#[cfg(doc)]
use crate::{DirectoryIterator, ImageDataset};

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

/// A reader's batch methods, the same for both readers (each a call of its shared
/// [`crate::prefetch::Prefetch`], the field `batches`), and [`FolderBatches`] for it:
/// invoked in the reader's own module. `$per_epoch` names its method that counts an
/// epoch's batches; `$targets_argument` is [`FolderBatches::targets_argument`].
macro_rules! folder_batches {
    ($reader:ty, $per_epoch:ident, $targets_argument:literal) => {
        impl $reader {
            /// The next batch on `device`; a file that does not decode is an error naming it
            /// (or, under `BadImages::Skip`, left out of its batch with a warning).
            pub fn next_batch(&mut self, device: &burn::tensor::Device) -> $crate::Result<$crate::Batch> {
                self.batches.next_batch(device)
            }

            /// The next batch without the images of the files `leave_out` names (by their
            /// index in `files()`; e.g. those whose features a consumer already holds): the
            /// same samples, order and targets as `next_batch`, each image that is there
            /// the same pixels. A file hinted with `skip_decoding` that `leave_out` does not
            /// name is decoded on the spot (with its own random transform).
            pub fn next_batch_without(
                &mut self,
                device: &burn::tensor::Device,
                leave_out: &dyn Fn(usize) -> bool,
            ) -> $crate::Result<$crate::PartialBatch> {
                self.batches.next_batch_without(device, leave_out)
            }

            /// A hint that the images of `files` (indices in `files()`) will be left out of
            /// the batches to come: the workers stop decoding them ahead (unless the
            /// reader's augmentation draws per batch: then every image is decoded). Batches
            /// stay the same; `decode_all` takes the hints back. An index past the files is
            /// an error.
            pub fn skip_decoding(&self, files: &[usize]) -> $crate::Result<()> {
                self.batches.skip_decoding(files)
            }

            /// Takes back every `skip_decoding` hint: the workers decode every file ahead
            /// again.
            pub fn decode_all(&self) {
                self.batches.decode_all();
            }
        }

        impl $crate::FolderBatches for $reader {
            fn next_batch(&mut self, device: &burn::tensor::Device) -> $crate::Result<$crate::Batch> {
                <$reader>::next_batch(self, device)
            }

            fn next_batch_without(
                &mut self,
                device: &burn::tensor::Device,
                leave_out: &dyn Fn(usize) -> bool,
            ) -> $crate::Result<$crate::PartialBatch> {
                <$reader>::next_batch_without(self, device, leave_out)
            }

            fn batches_per_epoch(&self) -> usize {
                <$reader>::$per_epoch(self)
            }

            fn class_names(&self) -> &[String] {
                <$reader>::class_names(self)
            }

            fn files(&self) -> &[(std::path::PathBuf, usize)] {
                <$reader>::files(self)
            }

            fn augments(&self) -> bool {
                <$reader>::augments(self)
            }

            fn skip_decoding(&self, files: &[usize]) -> $crate::Result<()> {
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

pub(crate) use folder_batches;
