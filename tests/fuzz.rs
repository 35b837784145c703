//! Deterministic mutation fuzzing of every file loader: byte flips, truncations, insertions
//! and header edits of small valid seeds (tests/fixtures/fuzz, made by make_fuzz_seeds.py),
//! each loader returning `Ok` or a typed error, never panicking (an allocation abort would
//! end the test binary, which fails too).
//!
//! `FUZZ_CASES` sets the cases per seed (default 400: seconds in all); `FUZZ_SEED` the
//! stream. A failing case prints its seed, case number and the mutated file it left behind.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use backbone::weights::read_state_dict;
use backbone::weights::{KerasWeightFile, detect_format, safetensors_metadata};
use inception_transfer::npy::read_npy;

/// SplitMix64: the mutations' random stream.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that make parsers take unusual paths: zero, all ones, the sign bits, ASCII
/// delimiters of the text headers, a UTF-8 lead byte.
const INTERESTING: [u8; 12] = [0x00, 0xFF, 0x7F, 0x80, b'(', b')', b',', b'\'', b'{', b'}', b'9', 0xC3];

/// One mutation of `seed` (the kind chosen by the stream).
fn mutate(seed: &[u8], stream: &mut Stream) -> (String, Vec<u8>) {
    let mut bytes = seed.to_vec();
    // Most fields that decide sizes live near the start (npy / safetensors / JPEG / PNG
    // headers, HDF5 superblocks): bias a third of the edits there.
    let near_start = |stream: &mut Stream, len: usize| match stream.below(3) {
        0 => stream.below(len.min(128)),
        _ => stream.below(len),
    };
    let kind = stream.below(6);
    let what = match kind {
        0 => {
            let flips = 1 + stream.below(8);
            for _ in 0..flips {
                let at = near_start(stream, bytes.len());
                bytes[at] ^= 1 << stream.below(8);
            }
            format!("{flips} bit flips")
        }
        1 => {
            let len = stream.below(bytes.len());
            bytes.truncate(len);
            format!("truncated to {len} bytes")
        }
        2 => {
            let at = near_start(stream, bytes.len());
            let value = INTERESTING[stream.below(INTERESTING.len())];
            let run = 1 + stream.below(8);
            for b in bytes.iter_mut().skip(at).take(run) {
                *b = value;
            }
            format!("{run} bytes at {at} set to {value:#04x}")
        }
        3 => {
            let at = near_start(stream, bytes.len());
            let run = 1 + stream.below(16);
            let insert: Vec<u8> = (0..run).map(|_| stream.next() as u8).collect();
            bytes.splice(at..at, insert);
            format!("{run} random bytes inserted at {at}")
        }
        4 => {
            // An 8-byte little-endian size field overwritten (safetensors' header length,
            // HDF5 offsets, npy lengths): huge, zero, or off by a little.
            let at = near_start(stream, bytes.len().saturating_sub(8));
            let value: u64 = match stream.below(3) {
                0 => u64::MAX - stream.below(1024) as u64,
                1 => 0,
                _ => stream.below(1 << 20) as u64,
            };
            let end = (at + 8).min(bytes.len());
            bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            format!("u64 {value} written at {at}")
        }
        _ => {
            let at = near_start(stream, bytes.len());
            let len = 1 + stream.below(64);
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
            format!("bytes {at}..{end} removed")
        }
    };
    (what, bytes)
}

type Loader = fn(&Path) -> Result<(), String>;

fn seed_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name)
}

/// Runs `loader` on `cases` mutations of the seed `name`, counting each outcome.
fn fuzz(name: &str, loaders: &[(&str, Loader)]) {
    let cases: usize = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let stream_seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let seed = std::fs::read(seed_path(name)).expect("seed file");
    for (label, loader) in loaders {
        loader(&seed_path(name)).unwrap_or_else(|e| panic!("{label}: the valid seed {name} fails: {e}"));
    }
    let extension = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let dir = std::env::temp_dir().join(format!("inception-transfer-fuzz-{}-{extension}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("case.{extension}"));
    let mut stream = Stream(stream_seed ^ name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..cases {
        let (what, bytes) = mutate(&seed, &mut stream);
        std::fs::write(&file, &bytes).unwrap();
        for (label, loader) in loaders {
            match catch_unwind(AssertUnwindSafe(|| loader(&file))) {
                Ok(Ok(())) => accepted += 1,
                Ok(Err(message)) => {
                    assert!(!message.is_empty(), "{label} on {name} case {case} ({what}): an empty error");
                    refused += 1;
                }
                Err(_) => {
                    let kept = dir.join(format!("panic-{case}.{extension}"));
                    std::fs::write(&kept, &bytes).unwrap();
                    panic!(
                        "{label} panicked on {name} case {case} ({what}; FUZZ_SEED={stream_seed}); file kept at {}",
                        kept.display()
                    );
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    println!("{name}: {cases} mutations x {} loaders: {accepted} loaded, {refused} typed errors", loaders.len());
}

fn npy(path: &Path) -> Result<(), String> {
    read_npy(path).map(drop).map_err(|e| e.to_string())
}

fn h5(path: &Path) -> Result<(), String> {
    KerasWeightFile::read(path).map(drop).map_err(|e| e.to_string())
}

fn format(path: &Path) -> Result<(), String> {
    detect_format(path).map(drop).map_err(|e| e.to_string())
}

fn state_dict(path: &Path) -> Result<(), String> {
    read_state_dict(path).map(drop).map_err(|e| e.to_string())
}

fn metadata(path: &Path) -> Result<(), String> {
    safetensors_metadata(path).map(drop).map_err(|e| e.to_string())
}

fn image(path: &Path) -> Result<(), String> {
    augment::decode_image(path).map(drop).map_err(|e| e.to_string())
}

#[test]
fn npy_headers_and_data() {
    fuzz("tiny.npy", &[("read_npy", npy)]);
}

#[test]
fn keras_h5_files() {
    fuzz("tiny.h5", &[("detect_format", format), ("KerasWeightFile::read", h5)]);
}

#[test]
fn safetensors_files() {
    fuzz("tiny.safetensors", &[("safetensors_metadata", metadata), ("read_state_dict", state_dict)]);
}

#[test]
fn pytorch_checkpoints() {
    fuzz("tiny.pth", &[("detect_format", format), ("read_state_dict", state_dict)]);
}

#[test]
fn jpeg_images() {
    fuzz("tiny.jpg", &[("decode_image", image)]);
}

#[test]
fn png_images() {
    fuzz("tiny.png", &[("decode_image", image)]);
}
