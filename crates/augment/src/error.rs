//! Errors of the augmentation crate; each names the parameter, file or shape at fault.

use std::path::PathBuf;

/// Everything that can go wrong configuring augmentation or reading an image folder.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// A generator parameter is out of range (negative, NaN, reversed pair...).
    #[error("invalid {parameter} = {value}: {reason}")]
    InvalidParameter {
        /// Keras name of the parameter.
        parameter: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An image buffer whose size does not match its shape.
    #[error("image of {height}x{width}x{channels} needs {} values, got {len}", height * width * channels)]
    ImageShape {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
        /// Channels.
        channels: usize,
        /// Values given.
        len: usize,
    },
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// An image file could not be decoded.
    #[error("{path}: corrupt or unsupported image: {reason}")]
    CorruptImage {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// Image files of a folder that do not decode, found when the folder was scanned.
    #[error(
        "{path}: {} unreadable image file(s), found when scanning the folder (pass BadImages::Skip to \
         train without them): {}",
        files.len(),
        list_bad_files(files)
    )]
    BadImages {
        /// The folder scanned.
        path: PathBuf,
        /// Each bad file and what is wrong with it.
        files: Vec<(PathBuf, String)>,
    },
    /// A folder with no class sub-folders or no images.
    #[error("{path}: {reason}")]
    EmptyDirectory {
        /// The folder.
        path: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// The thread loading a folder's batches stopped (it panicked) before sending the next
    /// batch.
    #[error("{path}: the thread loading its batches stopped before sending the next one")]
    LoaderStopped {
        /// The folder being loaded.
        path: PathBuf,
    },
}

/// The first few bad files of a list, with what is wrong with each.
pub(crate) fn list_bad_files(files: &[(PathBuf, String)]) -> String {
    const SHOWN: usize = 5;
    let mut text: Vec<String> = files.iter().take(SHOWN).map(|(p, why)| format!("{} ({why})", p.display())).collect();
    if files.len() > SHOWN {
        text.push(format!("and {} more", files.len() - SHOWN));
    }
    text.join("; ")
}

/// Result with [`AugmentError`].
pub type Result<T, E = AugmentError> = std::result::Result<T, E>;
