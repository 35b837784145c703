//! The optimizer state of a checkpoint, in a file of its own that the checkpoint names.
//!
//! A checkpoint and its optimizer state are one unit: the state is written first, to a file
//! named after its content (`model.safetensors.optim-<digest>`), and the weights file, renamed
//! into place last, records that name and digest. A crash before the weights' rename leaves
//! the previous checkpoint with the previous state it names (older states are removed only
//! after the rename); a crash after it, the new pair. So new weights are never paired with
//! old velocities, nor old weights with new ones.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TransferError};

/// What a checkpoint's header records of its optimizer state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct OptimizerStateFile {
    /// The file's name, in the checkpoint's folder.
    pub file: String,
    /// [`digest`] of its bytes.
    pub digest: String,
    /// Its length in bytes.
    pub bytes: u64,
}

/// A 64-bit digest of `bytes` (not cryptographic: it tells a state from another and a torn
/// or foreign file from the one the checkpoint was saved with), as 16 hex digits.
fn digest(bytes: &[u8]) -> String {
    let mut digest = Digest::new(bytes.len() as u64);
    let whole = bytes.len() / 8 * 8;
    digest.words(&bytes[..whole]);
    digest.finish(&bytes[whole..])
}

/// [`digest`] of a file's bytes, read a megabyte at a time (a state is never held whole in
/// memory), and its length.
fn file_digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let mut digest = Digest::new(length);
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        // Fill the chunk (a read may return less): only the last one may end mid-word.
        let mut filled = 0;
        while filled < chunk.len() {
            match file.read(&mut chunk[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled < chunk.len() {
            let whole = filled / 8 * 8;
            digest.words(&chunk[..whole]);
            return Ok((digest.finish(&chunk[whole..filled]), length));
        }
        digest.words(&chunk);
    }
}

/// The running state of [`digest`]: FNV-1a over 64-bit little-endian words with a shift
/// mix, seeded with the length, then the bytes past the last whole word.
struct Digest(u64);

impl Digest {
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new(length: u64) -> Self {
        Self(0xcbf2_9ce4_8422_2325u64 ^ length)
    }

    /// Whole words (`bytes.len()` a multiple of 8).
    fn words(&mut self, bytes: &[u8]) {
        for word in bytes.chunks_exact(8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            self.0 = (self.0 ^ word).wrapping_mul(Self::PRIME);
            self.0 ^= self.0 >> 29;
        }
    }

    /// The last bytes (fewer than 8), and the digest.
    fn finish(mut self, tail: &[u8]) -> String {
        for &byte in tail {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
        format!("{:016x}", self.0)
    }
}

fn file_name(checkpoint: &Path) -> String {
    checkpoint.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn sibling(checkpoint: &Path, name: &str) -> PathBuf {
    checkpoint.with_file_name(name)
}

/// The file an optimizer state was kept in before checkpoints named theirs (`<path>.optim`).
pub(super) fn legacy_path(checkpoint: &Path) -> PathBuf {
    let mut p = checkpoint.as_os_str().to_owned();
    p.push(".optim");
    PathBuf::from(p)
}

/// Writes `optimizer`'s state beside `checkpoint` (atomically, under a name of its content)
/// and returns what the checkpoint is to record of it. The state streams to a temporary
/// file, whose digest then names it: the serialised state is never held whole in memory
/// (the course head's RMSprop velocity alone is 154 MB).
pub(super) fn write(checkpoint: &Path, optimizer: &ModuleOptimizer) -> Result<OptimizerStateFile> {
    let prefix = format!("{}.optim", file_name(checkpoint));
    let tmp = backbone::atomic::temporary_path(&sibling(checkpoint, &prefix));
    let _ = std::fs::remove_file(&tmp); // a leftover of this process id is never a live write
    let written = optimizer
        .save(&tmp)
        .map_err(|e| TransferError::Checkpoint {
            path: checkpoint.to_path_buf(),
            reason: format!("serialising the optimizer state: {e:?}"),
        })
        .and_then(|()| file_digest(&tmp).map_err(|source| TransferError::Io { path: tmp.clone(), source }));
    let (digest, bytes) = written.inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    let file = format!("{prefix}-{digest}");
    let path = sibling(checkpoint, &file);
    backbone::atomic::persist(&tmp, &path).map_err(|source| TransferError::Io { path, source })?;
    Ok(OptimizerStateFile { file, digest, bytes })
}

/// Removes a state [`write`] just made for a save that then failed, unless the checkpoint
/// already at `checkpoint` names that same file (the same state saved again).
pub(super) fn remove_unsaved(checkpoint: &Path, written: &OptimizerStateFile, named_before: Option<&str>) {
    if named_before != Some(written.file.as_str()) {
        let _ = std::fs::remove_file(sibling(checkpoint, &written.file));
    }
}

/// Removes, once the checkpoint naming `keep` is in place, the state the checkpoint it
/// replaced named (`named_before`) and the legacy `<path>.optim`. Where this process holds
/// the folder's output lock, every other state of `checkpoint` goes too (leftovers of saves
/// killed between their two renames): no other writer can be making one there. Without the
/// lock, states this save did not replace are left alone, as they may be another run's.
pub(super) fn remove_replaced(
    checkpoint: &Path,
    keep: Option<&OptimizerStateFile>,
    named_before: Option<&str>,
) -> Result<()> {
    let prefix = format!("{}.optim", file_name(checkpoint));
    let folder = match checkpoint.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => folder.to_path_buf(),
        None => PathBuf::from("."),
    };
    let sole_writer = crate::output_lock::held(&folder);
    let entries = std::fs::read_dir(&folder).map_err(|source| TransferError::Io { path: folder.clone(), source })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let replaced = name == prefix || Some(name.as_str()) == named_before;
        let ours = sole_writer && name.starts_with(&format!("{prefix}-"));
        if (replaced || ours) && keep.is_none_or(|keep| keep.file != name) && entry.path().is_file() {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|source| TransferError::Io { path, source })?;
        }
    }
    Ok(())
}

/// Reads the optimizer state `recorded` names into `optimizer`, checking it is the one the
/// checkpoint was saved with.
pub(super) fn read(
    checkpoint: &Path,
    recorded: &OptimizerStateFile,
    optimizer: ModuleOptimizer,
) -> Result<ModuleOptimizer> {
    let failed = |reason: String| TransferError::Checkpoint { path: checkpoint.to_path_buf(), reason };
    // A bare name of a file beside the checkpoint (`<checkpoint name>.optim-<digest>`, under the
    // name it was saved with), never a path elsewhere.
    let bare = Path::new(&recorded.file).components().count() == 1
        && matches!(Path::new(&recorded.file).components().next(), Some(std::path::Component::Normal(_)));
    if !bare || !recorded.file.contains(".optim-") {
        return Err(failed(format!(
            "it names {:?} as its optimizer state: expected the bare name of a file beside it, <name>.optim-<digest>",
            recorded.file
        )));
    }
    let path = sibling(checkpoint, &recorded.file);
    // A FIFO or a device would block or stream forever: only a regular file is read.
    match std::fs::metadata(&path) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(failed(format!("its optimizer state {} is not a regular file", path.display())));
        }
        _ => {}
    }
    let bytes = std::fs::read(&path).map_err(|e| {
        failed(format!("the optimizer state it was saved with, {}, cannot be read: {e}", path.display()))
    })?;
    let found = digest(&bytes);
    if bytes.len() as u64 != recorded.bytes || found != recorded.digest {
        return Err(failed(format!(
            "{} is not the optimizer state it was saved with ({} bytes, digest {found}; expected {} bytes, digest {})",
            path.display(),
            bytes.len(),
            recorded.bytes,
            recorded.digest
        )));
    }
    optimizer
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| failed(format!("reading the optimizer state {}: {e:?}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::{digest, file_digest};

    #[test]
    fn the_digest_tells_one_byte_apart() {
        let a = vec![7u8; 1001];
        let mut b = a.clone();
        b[500] ^= 1;
        assert_ne!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&a[..1000]), "the length counts");
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_eq!(digest(&a).len(), 16);
    }

    #[test]
    fn a_files_digest_read_by_chunks_is_the_digest_of_its_bytes() {
        let dir = std::env::temp_dir().join(format!("file-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for length in [0, 7, 8, 1 << 20, (1 << 20) + 3, (5 << 19) + 9] {
            let bytes: Vec<u8> = (0..length).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.join(format!("{length}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(file_digest(&path).unwrap(), (digest(&bytes), length as u64), "{length} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod recorded_names {
    use super::{OptimizerStateFile, read};
    use crate::optim::KerasOptimizer;

    #[test]
    fn a_recorded_state_is_a_bare_name_of_a_regular_file() {
        let dir = std::env::temp_dir().join(format!("optimizer-state-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let checkpoint = dir.join("model.safetensors");
        let recorded = |file: &str| OptimizerStateFile { file: file.into(), digest: "0".repeat(16), bytes: 0 };
        let error = |file: &str| match read(&checkpoint, &recorded(file), KerasOptimizer::default().init()) {
            Ok(_) => panic!("{file}: read"),
            Err(e) => e.to_string(),
        };
        for name in ["../model.safetensors.optim-0", "/etc/passwd", "sub/model.safetensors.optim-1", "passwd", ".."] {
            let err = error(name);
            assert!(err.contains("bare name"), "{name}: {err}");
        }
        // A FIFO would block the read forever: refused as not a regular file.
        let fifo = dir.join("model.safetensors.optim-fifo");
        if std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
            let err = error("model.safetensors.optim-fifo");
            assert!(err.contains("not a regular file"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
