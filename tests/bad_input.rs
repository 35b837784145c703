//! What hostile or broken inputs get: truncated and oversized images, FIFOs given as files,
//! `.npy` headers that lie, link cycles inside image folders. Each is a typed error naming
//! the file (or, for link cycles, a scan that counts every file once).

use std::path::{Path, PathBuf};

use augment::{AugmentError, DirectoryIterator, FlowConfig, ImageDataGenerator};
use inception_transfer::npy::read_npy;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seed(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name)).unwrap()
}

/// Pillow refuses a JPEG cut short ("image file is truncated") unless told
/// `LOAD_TRUNCATED_IMAGES = True`, and images of more than twice `MAX_IMAGE_PIXELS` pixels.
/// (One test: both settings are process-wide, as Pillow's are.)
#[test]
fn truncated_and_oversized_images_are_refused_unless_allowed() {
    let dir = scratch("truncated");
    let jpeg = seed("tiny.jpg");
    let cut = dir.join("cut.jpg");
    std::fs::write(&cut, &jpeg[..jpeg.len() * 3 / 4]).unwrap();
    let err = augment::decode_image(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.jpg") && err.contains("truncated"), "{err}");
    augment::set_load_truncated_images(true);
    let image = augment::decode_image(&cut).expect("accepted when asked");
    augment::set_load_truncated_images(false);
    assert_eq!((image.width, image.height), (16, 12));
    // Data after the end-of-image marker is ignored, as decoders do.
    let trailing = dir.join("trailing.jpg");
    std::fs::write(&trailing, [jpeg.as_slice(), b"camera maker notes"].concat()).unwrap();
    augment::decode_image(&trailing).expect("trailing data is fine");

    // 16 x 12 = 192 pixels: over twice a limit of 90.
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/tiny.png");
    augment::set_max_image_pixels(Some(90));
    let err = augment::decode_image(&png).unwrap_err().to_string();
    augment::set_max_image_pixels(Some(89_478_485));
    assert!(err.contains("tiny.png") && err.contains("192 pixels") && err.contains("decompression bomb"), "{err}");
    augment::decode_image(&png).expect("within Pillow's default limit");
}

/// A FIFO (or a device, or a folder) given as an input or a weight file is an error at once,
/// instead of a read that blocks until something writes to it.
#[test]
fn a_fifo_is_not_read_as_a_file() {
    let dir = scratch("fifo");
    let fifo = dir.join("weights.h5");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo here: skipped");
        return;
    }
    let not_regular = |e: String| assert!(e.contains("not a regular file") && e.contains("weights.h5"), "{e}");
    not_regular(backbone::weights::detect_format(&fifo).unwrap_err().to_string());
    not_regular(backbone::weights::KerasWeightFile::read(&fifo).unwrap_err().to_string());
    not_regular(backbone::weights::read_state_dict(&fifo).unwrap_err().to_string());
    not_regular(backbone::weights::safetensors_metadata(&fifo).unwrap_err().to_string());
    not_regular(read_npy(&fifo).unwrap_err().to_string());
    not_regular(augment::decode_image(&fifo).unwrap_err().to_string());
    not_regular(
        backbone::weights::detect_format(&dir).unwrap_err().to_string().replace(dir.to_str().unwrap(), "weights.h5"),
    );
}

/// `.npy` headers whose shape overflows the address space, is not a tuple, or holds bytes
/// that are not ASCII: typed errors, not panics or wrapped sizes.
#[test]
fn lying_npy_headers_are_errors() {
    let dir = scratch("npy");
    let write = |name: &str, header: &str, data: &[u8]| {
        let mut text = header.to_string();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(data);
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        read_npy(&path).unwrap_err().to_string()
    };
    let huge = usize::MAX / 2 + 1;
    let err =
        write("huge.npy", &format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({huge}, 2), }}"), &[0; 16]);
    assert!(err.contains("huge.npy") && err.contains("does not fit"), "{err}");
    for (name, header) in [
        ("scalar.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': ), }"),
        ("accent.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2é, 2), }"),
        ("dtype.npy", "{'descr': '<é4ééé', 'fortran_order': False, 'shape': (2,), }"),
    ] {
        let err = write(name, header, &[0; 16]);
        println!("{err}");
        assert!(err.contains(name) && err.contains("bad .npy header"), "{err}");
    }
    let err = write("text.npy", "{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", &[0; 32]);
    assert!(err.contains("text.npy") && err.contains("is not a number type"), "{err}");
    let err = write("short.npy", "{'descr': '>i2', 'fortran_order': False, 'shape': (3,), }", &[0; 4]);
    assert!(err.contains("4 data bytes for shape [3]") && err.contains("expected 6"), "{err}");
}

/// A link back up inside a class folder (`cats/loop -> ..`) is not followed (Keras'
/// `follow_links=False`), nor followed round when links are followed: every image counts
/// once.
#[test]
fn a_link_cycle_in_a_class_folder_counts_each_file_once() {
    let dir = scratch("links");
    for class in ["cats", "dogs"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..2 {
            std::fs::write(dir.join(format!("{class}/{i}.png")), seed("tiny.png")).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("cats/more")).unwrap();
    std::fs::write(dir.join("cats/more/2.png"), seed("tiny.png")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("cats/more/loop")).unwrap();
    std::os::unix::fs::symlink("../dogs", dir.join("cats/dogs_link")).unwrap();
    let generator = || ImageDataGenerator::rescale_only(1.0);
    let config = FlowConfig { target_size: [8, 8], ..FlowConfig::default() };
    let it = DirectoryIterator::new(&dir, generator(), config.clone()).unwrap();
    assert_eq!(it.samples(), 5, "links not followed: {:?}", it.files());
    let follow = FlowConfig { follow_links: true, ..config };
    let it = DirectoryIterator::new(&dir, generator(), follow).unwrap();
    assert_eq!(it.samples(), 7, "the linked dogs once, the cycle never: {:?}", it.files());
    assert!(matches!(
        DirectoryIterator::new(&dir.join("cats/0.png"), generator(), FlowConfig::default()).err().unwrap(),
        AugmentError::Io { .. }
    ));
}

/// Batches that do not fit the model or the loss are typed errors before they reach it
/// (Burn's `Linear` would panic on the shapes; a binary loss would train on class 2).
#[test]
fn batches_that_do_not_fit_the_model_are_errors() {
    use burn::tensor::{Device, Tensor};
    use mobilenet::MobileNetV2Config;
    use transfer::{CompileConfig, HeadConfig, Inputs, Trainer, TransferError, TransferModelConfig};

    let device = Device::flex();
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let config = TransferModelConfig::new(base.clone().into(), HeadConfig::course()).with_input_size([32, 32]);
    let mut trainer = Trainer::new(config.init(&device).unwrap(), CompileConfig::course(), &device).unwrap();
    let images = |size: usize| Inputs::Images(Tensor::<4>::zeros([2, 3, size, size], &device));
    let targets = |values: [f32; 2]| Tensor::<1>::from_floats(values, &device).reshape([2, 1]);
    let message = |result: transfer::Result<transfer::StepMetrics>| match result {
        Err(TransferError::Batch(reason)) => reason,
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let err = message(trainer.train_step(images(40), targets([0.0, 1.0])));
    assert!(err.contains("images of 40x40, the model was built for 32x32"), "{err}");
    let err = message(trainer.train_step(images(32), targets([0.0, 2.0])));
    assert!(err.contains("must lie in [0, 1], got 2"), "{err}");
    let wide = Tensor::<2>::zeros([2, 3], &device);
    let err = message(trainer.test_step(images(32), wide));
    assert!(
        err.contains("one-hot targets of 3 columns into a head of 1 output") && err.contains("class_mode=\"binary\""),
        "{err}"
    );
    // Int labels (image_dataset_from_directory's default) into a softmax head with categorical
    // cross-entropy, and one-hot ones with the sparse loss: the error names the fix.
    let softmax =
        TransferModelConfig::new(base.clone().into(), HeadConfig::global_average(3)).with_input_size([32, 32]);
    for (loss, targets, fix) in [
        (
            transfer::Loss::CategoricalCrossentropy,
            Tensor::<2>::zeros([2, 1], &device),
            "Loss::SparseCategoricalCrossentropy",
        ),
        (
            transfer::Loss::SparseCategoricalCrossentropy,
            Tensor::<2>::zeros([2, 3], &device),
            "Loss::CategoricalCrossentropy",
        ),
    ] {
        let compile = CompileConfig { loss, ..CompileConfig::adam(1e-3) };
        let mut trainer = Trainer::new(softmax.init(&device).unwrap(), compile, &device).unwrap();
        let err = message(trainer.train_step(images(32), targets));
        assert!(err.contains(fix), "{err}");
    }
    let compile = CompileConfig { loss: transfer::Loss::SparseCategoricalCrossentropy, ..CompileConfig::adam(1e-3) };
    let mut sparse = Trainer::new(softmax.init(&device).unwrap(), compile, &device).unwrap();
    let err = message(sparse.train_step(images(32), targets([0.0, 3.0])));
    assert!(err.contains("class indices 0..2, got 3"), "{err}");
    sparse.train_step(images(32), targets([0.0, 2.0])).expect("int labels of a 3-class head");
    let Err(err) = Trainer::new(softmax.init(&device).unwrap(), CompileConfig::course(), &device) else {
        panic!("binary cross-entropy on a 3-output head accepted");
    };
    let err = err.to_string();
    assert!(err.contains("Loss::SparseCategoricalCrossentropy (int labels"), "{err}");
    let grey = Inputs::Images(Tensor::<4>::zeros([2, 1, 32, 32], &device));
    assert!(message(trainer.train_step(grey, targets([0.0, 1.0]))).contains("1 channels"));
    trainer.train_step(images(32), targets([0.0, 1.0])).expect("a batch that fits");
}

/// Training and validation folders of different classes would give the same target index
/// two meanings: `fit` refuses them before the first step.
#[test]
fn fit_refuses_validation_data_of_other_classes() {
    use burn::tensor::Device;
    use mobilenet::MobileNetV2Config;
    use transfer::{CompileConfig, FitConfig, HeadConfig, Trainer, TransferModelConfig};

    let dir = scratch("classes");
    for (split, classes) in [("train", ["cats", "dogs"]), ("validation", ["cats", "wolves"])] {
        for class in classes {
            std::fs::create_dir_all(dir.join(split).join(class)).unwrap();
            std::fs::write(dir.join(split).join(class).join("0.png"), seed("tiny.png")).unwrap();
        }
    }
    let flow = |split: &str| {
        let config =
            FlowConfig { target_size: [32, 32], class_mode: augment::ClassMode::Binary, ..FlowConfig::default() };
        DirectoryIterator::new(&dir.join(split), ImageDataGenerator::rescale_only(1.0 / 255.0), config).unwrap()
    };
    let (mut train, mut validation) = (flow("train"), flow("validation"));
    let device = Device::flex();
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let config = TransferModelConfig::new(base.into(), HeadConfig::course()).with_input_size([32, 32]);
    let mut trainer = Trainer::new(config.init(&device).unwrap(), CompileConfig::course(), &device).unwrap();
    let err = trainer.fit(&mut train, FitConfig::default(), Some(&mut validation), &mut []).unwrap_err().to_string();
    assert!(err.contains(r#"["cats", "dogs"]"#) && err.contains(r#"["cats", "wolves"]"#), "{err}");
    assert_eq!(trainer.images_trained(), 0);
}

/// Every mode Pillow reads, decoded as `Image.open(f).convert('RGB')` gives it (Keras'
/// `load_img`): fixtures by tests/fixtures/modes/make_pillow_modes.py.
#[test]
fn image_modes_convert_to_rgb_as_pillow_does() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modes");
    let mut report = Vec::new();
    for (name, ext) in [
        ("grey", "png"),
        ("grey_alpha", "png"),
        ("rgba", "png"),
        ("palette", "png"),
        ("grey16", "png"),
        ("rgb16", "png"),
        ("cmyk", "jpg"),
    ] {
        let reference = read_npy(&dir.join(format!("{name}_rgb.npy"))).unwrap();
        let ours = augment::decode_image(&dir.join(format!("{name}.{ext}"))).unwrap();
        assert_eq!(vec![ours.height, ours.width, 3], reference.shape, "{name}");
        let diff = ours.data.iter().zip(&reference.values).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        report.push(format!("{name}: max |diff| {diff}"));
        // CMYK JPEG: the decoder's own CMYK -> RGB rounding (zune-jpeg), 1 level from
        // Pillow's at most; JPEG decoders differ by their IDCT anyway.
        let allowed = if ext == "jpg" { 1.0 } else { 0.0 };
        assert!(diff <= allowed, "{name}: {report:?}");
    }
    println!("{}", report.join(", "));
}

/// An integer tensor in a state dict is named as such (it used to be dropped, then reported
/// as a missing weight).
#[test]
fn an_integer_tensor_is_named_not_reported_missing() {
    let dir = scratch("int-tensor");
    let header = r#"{"conv.weight":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 8]);
    let path = dir.join("ints.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let err = backbone::weights::read_state_dict(&path).unwrap_err().to_string();
    assert!(err.contains("ints.safetensors") && err.contains("`conv.weight`") && err.contains("I32"), "{err}");
}

/// In-memory samples whose lengths do not describe the same samples are refused when the
/// batches are made, naming the counts, instead of failing (or panicking) at a later batch.
#[test]
fn in_memory_batches_check_their_lengths() {
    use transfer::{InMemoryBatches, TransferError};
    let config_error = |result: transfer::Result<InMemoryBatches>| match result {
        Err(TransferError::Config(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other:?}"),
        Ok(_) => panic!("expected an error"),
    };
    assert!(InMemoryBatches::features(vec![0.0; 2 * 3 * 4], [3, 2, 2], vec![0.0, 1.0], 1, 2).is_ok());
    let short = config_error(InMemoryBatches::features(vec![0.0; 23], [3, 2, 2], vec![0.0, 1.0], 1, 2));
    assert!(short.contains("23 sample values for 2 targets") && short.contains("24 values"), "{short}");
    let ragged = config_error(InMemoryBatches::images(vec![0.0; 24], [3, 2, 2], vec![0.0; 5], 2, 2));
    assert!(ragged.contains("5 target values are not rows of 2 outputs"), "{ragged}");
    let zero = config_error(InMemoryBatches::images(vec![], [3, 2, 2], vec![], 1, 0));
    assert!(zero.contains("batch size 0"), "{zero}");
}
