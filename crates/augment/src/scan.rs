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

/// A batch's samples after its workers decoded them: `results[i]` is sample `i`'s image
/// (`None`: not decoded ahead, kept). A file that fails to decode now (changed since the
/// scan, or damaged in a way the scan cannot see) is the batch's error under
/// [`BadImages::Error`]; under [`BadImages::Skip`] that sample leaves the batch, with a
/// warning naming the file. Returns the kept samples' indices and the decoded images among
/// them, in order; a batch left with no sample is an error.
pub(crate) fn drop_undecodable<T>(
    directory: &Path,
    results: Vec<Option<Result<T>>>,
    policy: BadImages,
) -> Result<(Vec<usize>, Vec<T>)> {
    let (mut kept, mut images) = (Vec::with_capacity(results.len()), Vec::with_capacity(results.len()));
    for (sample, result) in results.into_iter().enumerate() {
        match (result, policy) {
            (None, _) => kept.push(sample),
            (Some(Ok(image)), _) => {
                kept.push(sample);
                images.push(image);
            }
            (Some(Err(e)), BadImages::Error) => return Err(e),
            (Some(Err(e)), BadImages::Skip) => {
                log::warn!("{}: skipped an image that does not decode: {e}", directory.display())
            }
        }
    }
    if kept.is_empty() {
        return Err(AugmentError::EmptyDirectory {
            path: directory.to_path_buf(),
            reason: "no image of a batch could be decoded (files changed or damaged since the scan?)".into(),
        });
    }
    Ok((kept, images))
}
