//! The same code on the GPU backend: wgpu (on lavapipe in CI, a real GPU where there is one)
//! agrees with flex on the InceptionV3 forward, the training step, freezing, augmentation
//! batches and checkpoints. Built only with `--features wgpu`. Without a wgpu adapter (no
//! Vulkan driver) each test says how to get one and passes without running, so the README's
//! test command passes on a fresh machine; `INCEPTION_TRANSFER_REQUIRE_WGPU=1` (set by
//! `.ci/run` after it installs lavapipe) makes a missing adapter a failure.

mod common;
#[path = "common/inception_fixtures.rs"]
mod inception_fixtures;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGeneratorConfig};
use burn::module::Module;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
use transfer::{CompileConfig, HeadConfig, Inputs, Trainer, TransferModelConfig};

const NO_ADAPTER: &str = "no wgpu adapter could be created. Install a Vulkan driver: on Debian/Ubuntu \
`apt-get install -y mesa-vulkan-drivers libvulkan1` as root (lavapipe, Vulkan on the CPU; `sudo` in front \
where you are not root) or your GPU vendor's driver; check with `vulkaninfo --summary`; then \
`INCEPTION_TRANSFER_REQUIRE_WGPU=1 cargo test --release --features wgpu --test wgpu_backend`";

/// The wgpu device, checked with a small computation; `None` (the test then passes without
/// running, after saying why) without an adapter, unless `INCEPTION_TRANSFER_REQUIRE_WGPU=1`.
fn wgpu() -> Option<Device> {
    let probe = catch_unwind(AssertUnwindSafe(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &device);
        (t.mul_scalar(2.0).into_data().try_to_vec::<f32>().unwrap(), device)
    }));
    match probe {
        Ok((values, device)) => {
            assert_eq!(values, vec![2.0, 4.0, 6.0]);
            Some(device)
        }
        Err(_) if std::env::var("INCEPTION_TRANSFER_REQUIRE_WGPU").is_ok_and(|v| v == "1") => panic!("{NO_ADAPTER}"),
        Err(_) => {
            // Straight to stderr, past the test harness' capture: the reader sees why.
            let _ = writeln!(std::io::stderr(), "SKIPPED (not run): {NO_ADAPTER}");
            None
        }
    }
}

fn relative(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().map(|v| v.abs()).fold(0.0f32, f32::max).max(1e-30);
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max) / scale
}

/// The first convolution's kernel of a base.
fn first_kernel(base: &backbone::Network) -> Tensor<4> {
    match base.params_of(1) {
        Some(backbone::LayerParams::Conv(conv)) => conv.kernel.val().without_autodiff(),
        other => panic!("layer 1 is the first convolution, found {other:?}"),
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

#[test]
fn inception_forward_agrees_with_flex_and_checkpoints_cross_backends() {
    let Some(gpu) = wgpu() else { return };
    let flex = Device::flex();
    let model = inception_fixtures::keras_model(&InceptionV3Config::new(Flavor::Keras), &flex);
    // Saved on flex, loaded on wgpu.
    let path = std::env::temp_dir().join(format!("wgpu-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let on_gpu = InceptionV3::load_safetensors(&path, &gpu).unwrap();
    let data = common::detrand::image(75, 75, 2, 0);
    for layer in [LayerName::Mixed0, LayerName::Mixed7, LayerName::Mixed10] {
        let x = |device: &Device| {
            Tensor::<4>::from_data(TensorData::new(data.clone(), [2, 75, 75, 3]), device).permute([0, 3, 1, 2])
        };
        let cpu = values(model.forward_to(x(&flex), layer).unwrap());
        let gpu_out = values(on_gpu.forward_to(x(&gpu), layer).unwrap());
        let r = relative(&gpu_out, &cpu);
        println!("{layer}: wgpu vs flex relative difference {r:.2e}");
        assert!(r <= 1e-4, "{layer}: {r}");
    }
}

#[test]
fn a_training_step_agrees_with_flex_and_keeps_the_frozen_base() {
    let Some(gpu) = wgpu() else { return };
    let flex = Device::flex();
    let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0);
    let config = TransferModelConfig::new(base_config.clone().into(), HeadConfig::course().with_dropout(0.0))
        .with_input_size([75, 75]);
    let model = config.init_with_base(inception_fixtures::keras_model(&base_config, &flex), &flex).unwrap();
    let images = common::detrand::image(75, 75, 2, 4);
    let mut results = Vec::new();
    for device in [&flex, &gpu] {
        let mut trainer = Trainer::new(model.clone().to_device(device), CompileConfig::course(), device).unwrap();
        let x = Tensor::<4>::from_data(TensorData::new(images.clone(), [2, 75, 75, 3]), device).permute([0, 3, 1, 2]);
        let y = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [2, 1]), device);
        let base_before = values(first_kernel(&trainer.model().base));
        let step = trainer.train_step(Inputs::Images(x), y).unwrap();
        let model = trainer.model();
        assert_eq!(values(first_kernel(&model.base)), base_before, "frozen");
        results.push((step.loss, values(model.head.output.kernel().without_autodiff())));
    }
    let (cpu, gpu_result) = (&results[0], &results[1]);
    println!("loss flex {} wgpu {}", cpu.0, gpu_result.0);
    assert!(((cpu.0 - gpu_result.0) / cpu.0).abs() < 1e-4, "loss");
    assert!(relative(&gpu_result.1, &cpu.1) < 1e-4, "head update");
}

#[test]
fn augmentation_batches_land_on_the_gpu_identical() {
    let Some(gpu) = wgpu() else { return };
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/augment/tests/fixtures/augment/folder");
    let batch = |device: &Device| {
        let generator = ImageDataGeneratorConfig::new()
            .with_rescale(Some(1.0 / 255.0))
            .with_rotation_range(40.0)
            .with_horizontal_flip(true)
            .build()
            .unwrap();
        let config = FlowConfig {
            target_size: [30, 40],
            batch_size: 5,
            class_mode: ClassMode::Binary,
            seed: 3,
            ..FlowConfig::default()
        };
        let mut it = DirectoryIterator::new(&folder, generator, config).unwrap();
        let b = it.next_batch(device).unwrap();
        (values(b.images), values(b.targets.unwrap()))
    };
    assert_eq!(batch(&gpu), batch(&Device::flex()));
}

/// The one check that decides between the packed CPU engine and Burn's ops
/// (`backbone::cpu::is_host_device`), for every backend these tests compile: flex and its
/// autodiff device hold host memory, wgpu and its autodiff device do not.
#[test]
fn only_host_devices_take_the_packed_cpu_path() {
    use backbone::cpu::is_host_device;
    let Some(gpu) = wgpu() else { return };
    let flex = Device::flex();
    assert!(is_host_device(&flex) && is_host_device(&flex.autodiff()));
    assert!(!is_host_device(&gpu) && !is_host_device(&gpu.autodiff()));
}
