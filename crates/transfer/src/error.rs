//! Errors of the transfer crate.

use std::path::PathBuf;

/// Everything that can go wrong building, training, saving or loading a transfer model.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// From the base network (weights, layer names, input sizes).
    #[error(transparent)]
    Network(#[from] backbone::NetworkError),
    /// From the data pipeline (folders, images, augmentation parameters).
    #[error(transparent)]
    Augment(#[from] augment::AugmentError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// An output folder another run (or another lock of this process) is writing
    /// ([`OutputLock`](crate::OutputLock)).
    #[error("{folder}: the output folder is in use by {holder}; wait for that run to end or choose another --output")]
    OutputLocked {
        /// The folder.
        folder: PathBuf,
        /// Who holds it, as its lock file says.
        holder: String,
    },
    /// A checkpoint that cannot be read or does not fit.
    #[error("{path}: {reason}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image (a plot) that cannot be encoded.
    #[error("{path}: {reason}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A CSV file (a training history) that cannot be read.
    #[error("{path}: line {line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Training diverged: a batch's loss was NaN or infinite.
    #[error(
        "the loss of batch {batch} of epoch {epoch} is {loss}: training diverged (try a lower learning rate); \
         the weights are no longer usable, earlier checkpoints are untouched"
    )]
    NonFiniteLoss {
        /// Epoch (from 0).
        epoch: usize,
        /// Batch within the epoch (from 0).
        batch: usize,
        /// The loss.
        loss: f64,
    },
    /// Training diverged, seen at validation: an epoch's validation loss was NaN or infinite
    /// (ended before any callback, so no checkpoint is written from those weights).
    #[error(
        "the validation loss of epoch {epoch} is {loss}: the model diverged (try a lower learning rate); \
         earlier checkpoints are untouched"
    )]
    NonFiniteValidationLoss {
        /// Epoch (from 0).
        epoch: usize,
        /// The validation loss.
        loss: f64,
    },
    /// A batch that does not fit the model or the loss (image size, channels, target shape
    /// or values), found before it reaches the model.
    #[error("a batch that does not fit the model: {0}")]
    Batch(String),
    /// A configuration that cannot work (e.g. a loss that does not fit the head).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Result with [`TransferError`].
pub type Result<T, E = TransferError> = std::result::Result<T, E>;
