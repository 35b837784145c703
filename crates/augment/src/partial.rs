//! Batches that leave some files' images out: the consumer's hints of which files the
//! workers need not decode ahead, and the assembly of a batch's images from what the
//! workers decoded and what is decoded on the spot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{AugmentError, Result};

/// Per file of a source: whether its workers may skip decoding it (shared with them).
#[derive(Debug, Clone)]
pub(crate) struct SkipHints(Arc<Vec<AtomicBool>>);

impl SkipHints {
    /// No hint for any of `files` files.
    pub(crate) fn new(files: usize) -> Self {
        Self(Arc::new((0..files).map(|_| AtomicBool::new(false)).collect()))
    }

    /// Whether the workers may skip `file`.
    pub(crate) fn skipped(&self, file: usize) -> bool {
        self.0[file].load(Ordering::Relaxed)
    }

    /// Hints `files` (indices of the source's files); an index past them is an error.
    pub(crate) fn skip(&self, files: &[usize]) -> Result<()> {
        if let Some(&bad) = files.iter().find(|&&file| file >= self.0.len()) {
            return Err(AugmentError::InvalidParameter {
                parameter: "skip_decoding",
                value: bad.to_string(),
                reason: "is not the index of a file of the folder",
            });
        }
        files.iter().for_each(|&file| self.0[file].store(true, Ordering::Relaxed));
        Ok(())
    }

    /// Takes every hint back.
    pub(crate) fn clear(&self) {
        self.0.iter().for_each(|hint| hint.store(false, Ordering::Relaxed));
    }
}

/// The images a batch keeps: of its `files`, those `leave_out` does not name, in order;
/// each from the workers' `decoded_ahead` pixels (`per_image` values each, for the files
/// `decoded` says they decoded) or from `decode_now(sample, file)`. Returns the pixels and
/// which samples they are. When the workers decoded every file and all are kept (every
/// batch of a plain `next_batch`), their pixels are returned as they are, not copied.
pub(crate) fn kept_images(
    files: &[usize],
    decoded: &[bool],
    decoded_ahead: Vec<f32>,
    per_image: usize,
    leave_out: &dyn Fn(usize) -> bool,
    decode_now: impl Fn(usize, usize) -> Result<Vec<f32>>,
) -> Result<(Vec<f32>, Vec<bool>)> {
    let kept: Vec<bool> = files.iter().map(|&file| !leave_out(file)).collect();
    if kept.iter().zip(decoded).all(|(&kept, &decoded)| kept && decoded) {
        return Ok((decoded_ahead, kept));
    }
    let mut ahead = decoded_ahead.chunks_exact(per_image.max(1));
    let mut pixels = Vec::with_capacity(kept.iter().filter(|&&k| k).count() * per_image);
    for (sample, &file) in files.iter().enumerate() {
        let image = decoded[sample].then(|| ahead.next()).flatten();
        match (kept[sample], image) {
            (true, Some(image)) => pixels.extend_from_slice(image),
            (true, None) => pixels.extend(decode_now(sample, file)?),
            (false, _) => {}
        }
    }
    Ok((pixels, kept))
}
