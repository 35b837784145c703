//! Hostile files and races (issue 32's families): weight files declaring huge datasets or
//! storing float16, outputs that are links or FIFOs, two runs on one output folder,
//! checkpoints with absurd configurations or cut during their load, corrupt pixel data
//! behind valid headers. Each ends in a typed error naming the culprit, or does the right
//! thing; never an abort, a hang or a lost file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use augment::{BadImages, ImageDatasetConfig, image_dataset_from_directory};
use backbone::weights::KerasWeightFile;
use burn::tensor::Device;
use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
use mobilenet::MobileNetV2Config;
use transfer::{HeadConfig, OutputLock, TransferError, TransferModel, TransferModelConfig, load_model, save_model};

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mixed0() -> InceptionV3Config {
    InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0)
}

/// A dataset declared as 400 TB and never written (the file is 1.8 MB): its declared shape
/// is compared with the network's before any value is read, and a plain read refuses it
/// for claiming more than the file holds. (An allocation of the declared size would abort
/// this test binary.)
#[test]
fn a_huge_declared_h5_dataset_is_refused_before_it_is_read() {
    let path = hostile("mixed0_huge_declared.h5");
    let err = InceptionV3::pretrained(&mixed0(), &path, &Device::flex()).unwrap_err().to_string();
    assert!(err.contains("conv2d_1") && err.contains("1099511627776") && err.contains("32"), "{err}");
    let err = KerasWeightFile::read(&path).unwrap_err().to_string();
    assert!(err.contains("conv2d_1") && err.contains("more bytes than the whole file"), "{err}");
    let declared = KerasWeightFile::read_declared(&path).unwrap();
    let first = declared.layers.iter().find(|l| l.name == "conv2d_1").unwrap();
    assert_eq!(first.weights[0].shape, [3, 3, 3, 1 << 40]);
    assert!(first.weights[0].values.is_empty());
}

/// Keras loads float16 weights into a float32 model by casting: every value is the float32
/// weight rounded to float16, and the model builds from the file.
#[test]
fn float16_h5_weights_load_as_keras_casts_them() {
    let official = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/inception/tests/fixtures/inception/mixed0_official_names.h5");
    let full = KerasWeightFile::read(&official).unwrap();
    let half = KerasWeightFile::read(&hostile("mixed0_float16.h5")).unwrap();
    assert_eq!(full.layers.len(), half.layers.len());
    let mut compared = 0;
    for (a, b) in full.layers.iter().zip(&half.layers) {
        assert_eq!(a.name, b.name);
        for (wa, wb) in a.weights.iter().zip(&b.weights) {
            assert_eq!(wa.shape, wb.shape, "{}", a.name);
            for (&x, &y) in wa.values.iter().zip(&wb.values) {
                assert_eq!(half::f16::from_f32(x).to_f32(), y, "{} {}", a.name, wa.name);
                compared += 1;
            }
        }
    }
    assert!(compared > 200_000, "{compared}");
    InceptionV3::pretrained(&mixed0(), &hostile("mixed0_float16.h5"), &Device::flex()).expect("float16 loads");
}

/// A small transfer model (MobileNetV2 alpha 0.35 at 32x32, a global-average head).
fn tiny_model() -> TransferModel {
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let config = TransferModelConfig::new(base.into(), HeadConfig::global_average(2)).with_input_size([32, 32]);
    config.init(&Device::flex()).expect("the tiny model builds")
}

fn classes() -> Vec<String> {
    vec!["cats".into(), "dogs".into()]
}

/// Where the lock child holds its lock, when the test binary runs as that child.
const LOCK_DIR: &str = "HOSTILE_LOCK_DIR";

/// The child: takes the folder's lock, says so, and holds it until its input closes.
#[test]
#[ignore = "run by one_writer_per_output_folder as its child processes"]
fn output_lock_child() {
    let Ok(dir) = std::env::var(LOCK_DIR) else { return };
    match OutputLock::acquire(Path::new(&dir)) {
        Ok(_lock) => {
            println!("locked by {}", std::process::id());
            std::io::stdout().flush().unwrap();
            let _ = std::io::stdin().lines().count(); // until the parent closes our input
        }
        Err(e) => println!("refused: {e}"),
    }
}

fn lock_child(dir: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "output_lock_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(LOCK_DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let said = lines.find_map(|line| {
        let line = line.ok()?;
        ["locked by ", "refused: "].iter().find_map(|key| line.find(key).map(|at| line[at..].to_string()))
    });
    (child, said.expect("the child says whether it got the lock"))
}

/// Two runs on one output folder: the second is refused at once, naming the folder and the
/// first run's process; once the first ends (even killed), the folder is free again.
#[test]
fn one_writer_per_output_folder() {
    let dir = scratch("lock").join("output");
    let (mut first, said) = lock_child(&dir);
    assert!(said.starts_with("locked by "), "{said}");
    let pid = said.trim_start_matches("locked by ").trim().to_string();
    let (mut second, refused) = lock_child(&dir);
    assert!(
        refused.starts_with("refused: ") && refused.contains("output") && refused.contains(&format!("pid {pid}")),
        "{refused}"
    );
    second.wait().unwrap();
    // In this process too, while the child holds it.
    let err = OutputLock::acquire(&dir).unwrap_err();
    assert!(matches!(err, TransferError::OutputLocked { .. }), "{err}");
    first.kill().unwrap();
    first.wait().unwrap();
    let lock = OutputLock::acquire(&dir).expect("free once its holder is gone");
    drop(lock);
}

/// A checkpoint saved through a symbolic link keeps the link (its target gets the file and
/// the link still loads); a FIFO or a device is refused, never replaced by a regular file.
#[test]
fn outputs_that_are_not_regular_files_are_never_replaced() {
    let dir = scratch("special-outputs");
    let model = tiny_model();
    let target = dir.join("real.safetensors");
    let link = dir.join("model.safetensors");
    std::os::unix::fs::symlink("real.safetensors", &link).unwrap();
    save_model(&link, &model, &classes()).expect("saved through the link");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(target.is_file());
    let (_, names) = load_model(&link, &Device::flex()).expect("loads through the link");
    assert_eq!(names, classes());
    let fifo = dir.join("fifo.safetensors");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let err = save_model(&fifo, &model, &classes()).unwrap_err().to_string();
    assert!(err.contains("fifo.safetensors") && err.contains("not a regular file"), "{err}");
    assert!(!std::fs::metadata(&fifo).unwrap().is_file(), "still a FIFO");
    let err = save_model(Path::new("/dev/null"), &model, &classes()).unwrap_err().to_string();
    assert!(err.contains("/dev/null") && err.contains("not a regular file"), "{err}");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null is still a device");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A checkpoint file with the field at `pointer` (a JSON pointer into its recorded model
/// configuration) set to `value`.
fn with_recorded_config(bytes: &[u8], pointer: &str, value: serde_json::Value) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let recorded = header["__metadata__"]["transfer.checkpoint"].as_str().unwrap();
    let mut metadata: serde_json::Value = serde_json::from_str(recorded).unwrap();
    *metadata["config"].pointer_mut(pointer).unwrap() = value;
    header["__metadata__"]["transfer.checkpoint"] = serde_json::Value::String(metadata.to_string());
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[8 + len..]);
    out
}

/// A checkpoint whose recorded configuration is absurd (an input of a trillion pixels, a
/// hidden layer of 2^40 units, a dropout of 1.5) is an error naming it before anything of
/// that size is allocated; one cut short, or rewritten while it loads, is an error too,
/// never a signal (checkpoints are read into memory, not mapped).
#[test]
fn checkpoints_are_checked_before_they_are_built_and_read_into_memory() {
    let dir = scratch("checkpoints");
    let path = dir.join("model.safetensors");
    save_model(&path, &tiny_model(), &classes()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let device = Device::flex();
    let cases = [
        ("input", "/input_size", serde_json::json!([1 << 20, 1 << 20]), "pixel limit"),
        ("hidden", "/head/hidden", serde_json::json!([1u64 << 40]), "head of"),
        ("dropout", "/head/dropout", serde_json::json!(1.5), "dropout 1.5"),
    ];
    for (name, pointer, value, expected) in cases {
        let edited = dir.join(format!("{name}.safetensors"));
        std::fs::write(&edited, with_recorded_config(&good, pointer, value)).unwrap();
        let err = load_model(&edited, &device).err().unwrap().to_string();
        assert!(err.contains(&format!("{name}.safetensors")) && err.contains(expected), "{name}: {err}");
    }
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &good[..good.len() - 1000]).unwrap();
    let err = load_model(&cut, &device).err().unwrap().to_string();
    assert!(err.contains("cut.safetensors") && err.contains("truncated"), "{err}");
    // Rewritten in place (cut, then whole again) while it loads, over and over: each load
    // is the model or a typed error.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, path, good) = (stop.clone(), path.clone(), good.clone());
        std::thread::spawn(move || {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let keep = if round % 2 == 0 { good.len() / 3 } else { good.len() };
                std::fs::write(&path, &good[..keep]).unwrap();
                round += 1;
            }
        })
    };
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..30 {
        match load_model(&path, &device) {
            Ok((_, names)) => {
                assert_eq!(names, classes());
                loaded += 1;
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    println!("checkpoint rewritten during 30 loads: {loaded} loaded, {refused} typed errors");
}

/// A PNG with `bytes` as its one IDAT chunk (CRC right), of a 2x2 RGB image.
fn png_with_idat(idat: &[u8]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        let body: Vec<u8> = kind.iter().chain(data).copied().collect();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    };
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]));
    png.extend(chunk(b"IDAT", idat));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn good_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(6, 5, image::Rgb([10, 120, 230]))
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// Corrupt pixel data behind a valid header: a PNG cut inside its IDAT is found by the
/// folder scan (an error naming it, or left out under `BadImages::Skip`); a PNG whose
/// chunks are whole but whose compressed pixels are garbage passes the scan and fails at
/// decode time, where `Skip` leaves it out of its batch and `Error` names it.
#[test]
fn corrupt_pixel_data_is_found_at_the_scan_or_skipped_at_decode_time() {
    let dir = scratch("corrupt-pixels");
    for class in ["a", "b"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..3 {
            std::fs::write(dir.join(class).join(format!("{i}.png")), good_png()).unwrap();
        }
    }
    let good = good_png();
    let idat = good.windows(4).position(|w| w == b"IDAT").unwrap();
    std::fs::write(dir.join("a/cut.png"), &good[..idat + 10]).unwrap();
    let config =
        ImageDatasetConfig { image_size: [4, 4], batch_size: 8, shuffle: false, ..ImageDatasetConfig::default() };
    let err = image_dataset_from_directory(&dir, config.clone()).err().unwrap().to_string();
    assert!(err.contains("cut.png") && err.contains("IDAT"), "{err}");
    let skip = ImageDatasetConfig { bad_images: BadImages::Skip, ..config.clone() };
    let dataset = image_dataset_from_directory(&dir, skip.clone()).unwrap();
    assert_eq!(dataset.files().len(), 6);
    std::fs::remove_file(dir.join("a/cut.png")).unwrap();

    // Whole chunks, garbage pixels: only a decoder finds it.
    std::fs::write(dir.join("a/garbage.png"), png_with_idat(&[0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0x00])).unwrap();
    assert!(augment::check_image(&dir.join("a/garbage.png")).is_ok(), "the scan cannot see it");
    let device = Device::flex();
    let mut strict = image_dataset_from_directory(&dir, config).unwrap();
    let err = strict.next_batch(&device).err().unwrap().to_string();
    assert!(err.contains("garbage.png"), "{err}");
    let mut lenient = image_dataset_from_directory(&dir, skip).unwrap();
    let batch = lenient.next_batch(&device).unwrap();
    assert_eq!(batch.images.dims()[0], 6, "the undecodable image leaves its batch");
    assert_eq!(batch.paths.len(), 6);
    assert!(!batch.paths.iter().any(|p| p.ends_with("garbage.png")));
}

/// A FIFO named like an image inside a class folder is reported like any bad image (it
/// would block a reader forever), not passed over in silence.
#[test]
fn a_fifo_in_a_class_folder_is_a_bad_image() {
    let dir = scratch("fifo-in-class");
    for class in ["a", "b"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        std::fs::write(dir.join(class).join("0.png"), good_png()).unwrap();
    }
    assert!(Command::new("mkfifo").arg(dir.join("a/pipe.png")).status().unwrap().success());
    let config = ImageDatasetConfig { image_size: [4, 4], batch_size: 2, ..ImageDatasetConfig::default() };
    let err = image_dataset_from_directory(&dir, config).err().unwrap().to_string();
    assert!(err.contains("pipe.png") && err.contains("not a regular file"), "{err}");
}

/// A class folder whose name is not UTF-8 is still read (its files found through the path
/// the system gave), its name shown lossily.
#[test]
fn a_class_folder_named_in_another_encoding_keeps_its_files() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("latin1-class");
    let latin1 = dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    for class in [latin1.clone(), dir.join("tea")] {
        std::fs::create_dir_all(&class).unwrap();
        std::fs::write(class.join("0.png"), good_png()).unwrap();
    }
    let config =
        ImageDatasetConfig { image_size: [4, 4], batch_size: 2, shuffle: false, ..ImageDatasetConfig::default() };
    let dataset = image_dataset_from_directory(&dir, config).unwrap();
    assert_eq!(dataset.class_names(), ["caf\u{FFFD}", "tea"]);
    assert_eq!(dataset.files().len(), 2);
    assert_eq!(dataset.files()[0].0, latin1.join("0.png"));
}
