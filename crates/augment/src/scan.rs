//! Checking every image of a folder when it is scanned, so that a bad file is found before
//! training starts instead of stopping it in the middle of an epoch.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::decode::check_image;
use crate::error::{AugmentError, Result, list_bad_files};

/// What a folder scan does with image files that do not decode (empty, corrupt,
/// truncated, over the pixel limit, not an image despite the extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BadImages {
    /// Refuse the folder, listing the bad files (the default: nothing is dropped silently).
    #[default]
    Error,
    /// Leave them out, with a warning listing them.
    Skip,
}

/// Files with what is wrong with each.
pub(crate) type BadFiles = Vec<(PathBuf, String)>;

/// Checks every file's header ([`check_image`]; in parallel) and keeps the good ones, in
/// order; bad ones are an error or left out with a warning, as `policy` says. Also returns
/// the bad files with what is wrong with each.
pub(crate) fn keep_readable<T: Send>(
    directory: &Path,
    files: Vec<(PathBuf, T)>,
    policy: BadImages,
) -> Result<(Vec<(PathBuf, T)>, BadFiles)> {
    let checked: Vec<_> = files
        .into_par_iter()
        .map(|(path, label)| {
            let verdict = check_image(&path).err().map(|e| match e {
                AugmentError::CorruptImage { reason, .. } => reason,
                other => other.to_string(),
            });
            (path, label, verdict)
        })
        .collect();
    let mut good = Vec::with_capacity(checked.len());
    let mut bad = Vec::new();
    for (path, label, verdict) in checked {
        match verdict {
            None => good.push((path, label)),
            Some(reason) => bad.push((path, reason)),
        }
    }
    match (policy, bad.is_empty()) {
        (_, true) => {}
        (BadImages::Error, false) => return Err(AugmentError::BadImages { path: directory.to_path_buf(), files: bad }),
        (BadImages::Skip, false) => log::warn!(
            "{}: skipped {} unreadable image file(s): {}",
            directory.display(),
            bad.len(),
            list_bad_files(&bad)
        ),
    }
    Ok((good, bad))
}
