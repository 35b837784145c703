//! Inference throughput of frozen bases, batch 32, on each compiled CPU backend:
//! InceptionV3 cut at `mixed7` at 150x150 (the course's feature extractor,
//! `mixed7_150_b32`), MobileNetV2 to `out_relu` at 160x160 (the TensorFlow tutorial's,
//! `mobilenet_v2_160_b32`), ResNet50 and VGG16 notop at 224x224 (`resnet50_224_b32`,
//! `vgg16_224_b32`: Keras' feature-extraction examples), Xception notop at 150x150 (the Keras
//! transfer-learning guide's, `xception_150_b32`), EfficientNetB0 notop at 224x224 on raw
//! 0..255 pixels (keras.io's fine-tuning example's, `efficientnet_b0_224_b32`) and, with
//! `FORWARD_FULL=1`, the full
//! InceptionV3 at 299x299 (`mixed10_299_b32`). Each host backend runs twice: Burn's generic convolutions (`flex`)
//! and the packed channels-last engine the trainer uses for a frozen base (`flex+packed`).
//!
//! ```text
//! cargo bench --bench forward
//! FORWARD_ONLY=mobilenet FORWARD_BACKENDS=flex cargo bench --bench forward
//! ```
//! Reports images/s; for InceptionV3 multiply by 1.838 GFLOP per image (mixed7 at 150) or
//! 11.42 (mixed10 at 299) for GFLOP/s; ResNet50 at 224 is 7.73 GFLOP an image, VGG16 30.7. Random weights: speed does not depend on the values.
//! TensorFlow's figures: `benches/reference/forward_tf.py`.

use applications::BackboneConfig;
use backbone::{CpuInference, Network};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inception::{Flavor, InceptionV3Config, LayerName};
use inception_transfer::backend::Backend;
use mobilenet::MobileNetV2Config;

fn bench_forward(
    c: &mut Criterion,
    id: &str,
    build: &dyn Fn(&Device) -> Network,
    size: usize,
    batch: usize,
    backends: &[Backend],
) {
    let mut group = c.benchmark_group("forward");
    group.throughput(Throughput::Elements(batch as u64)).sample_size(10);
    for &backend in backends {
        let device: Device = backend.device().expect("compiled backend");
        let network = build(&device);
        let output = network.architecture().output();
        let x = Tensor::<4>::random([batch, 3, size, size], Distribution::Uniform(0.0, 1.0), &device);
        group.bench_with_input(BenchmarkId::new(id, backend), &x, |b, x| {
            b.iter(|| {
                let y = network.forward_layers(x.clone(), &[output]).expect("forward");
                y[0].clone().into_data() // wait for the result
            })
        });
        if backbone::cpu::is_host_device(&device) {
            let packed = CpuInference::new(&network).expect("pack");
            group.bench_with_input(BenchmarkId::new(id, format!("{backend}+packed")), &x, |b, x| {
                b.iter(|| packed.forward(x.clone()).expect("forward").into_data())
            });
        }
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    // As the examples: malloc keeps freed memory (the program's choice, not the library's).
    inception_transfer::prelude::keep_freed_memory();
    let cpu: Vec<Backend> = Backend::compiled().into_iter().filter(|b| *b != Backend::Wgpu).collect();
    let chosen: Vec<Backend> = match std::env::var("FORWARD_BACKENDS") {
        Ok(list) => list.split(',').filter_map(|b| b.parse().ok()).filter(|b: &Backend| b.is_compiled()).collect(),
        Err(_) => cpu,
    };
    let only = std::env::var("FORWARD_ONLY").unwrap_or_default();
    let wanted = |id: &str| only.is_empty() || id.contains(only.as_str());
    let inception = |cut: LayerName| {
        move |device: &Device| InceptionV3Config::new(Flavor::Keras).with_cut(cut).init(device).expect("model").network
    };
    if wanted("mixed7_150_b32") {
        bench_forward(c, "mixed7_150_b32", &inception(LayerName::Mixed7), 150, 32, &chosen);
    }
    if wanted("mobilenet_v2_160_b32") {
        let mobilenet =
            |device: &Device| MobileNetV2Config::new().with_input_size([160, 160]).init(device).expect("model").network;
        bench_forward(c, "mobilenet_v2_160_b32", &mobilenet, 160, 32, &chosen);
    }
    let applications = [
        ("resnet50_224_b32", "resnet50", 224),
        ("vgg16_224_b32", "vgg16", 224),
        ("xception_150_b32", "xception", 150),
        ("efficientnet_b0_224_b32", "efficientnet_b0", 224),
    ];
    for (id, model, size) in applications {
        if wanted(id) {
            let build = |device: &Device| {
                BackboneConfig::new(model).and_then(|c| c.with_input_size([size, size]).init(device)).expect("model")
            };
            bench_forward(c, id, &build, size, 32, &chosen);
        }
    }
    if std::env::var("FORWARD_FULL").is_ok() && wanted("mixed10_299_b32") {
        bench_forward(c, "mixed10_299_b32", &inception(LayerName::Mixed10), 299, 32, &chosen);
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
