//! One training step of the course model: frozen base to `mixed7` at 150x150 + the course
//! head, batch 20, no augmentation, Keras RMSprop (`course_step_b20`); and the same step
//! fine-tuning `mixed7` (`course_finetune_mixed7_b20`); the course head's step alone on
//! the base's features (`course_head_step_b20`, what a step on cached features costs).
//! Then the TF tutorial's model: MobileNetV2 at 160 with `preprocess_input`,
//! GlobalAveragePooling2D -> Dropout(0.2) -> Dense(1), batch 32, Adam on the head
//! (`mobilenet_v2_step_b32`), and fine-tuning from layer 100 with RMSprop
//! (`mobilenet_v2_finetune100_b32`). Then the Keras guide's fine-tuning: Xception at 150x150
//! with `Rescaling(1/127.5, offset=-1)`, the whole base trainable with its batch norms in
//! inference mode (`base(x, training=False)`), GlobalAveragePooling2D -> Dropout(0.2) ->
//! Dense(1), Adam, batch 32 (`xception_finetune_b32`). Then keras.io's EfficientNet
//! fine-tuning: EfficientNetB0 at 224x224 on raw pixels, its last 20 layers but the batch
//! norms trainable, under GlobalAveragePooling2D -> a trainable BatchNormalization ->
//! Dropout(0.2) -> Dense(120, softmax), Adam, batch 32 (`efficientnet_b0_finetune20_b32`).
//!
//! ```text
//! cargo bench --bench train
//! TRAIN_ONLY=mobilenet cargo bench --bench train
//! TRAIN_ONLY=xception cargo bench --bench train
//! TRAIN_ONLY=efficientnet cargo bench --bench train
//! ```
//! Reports images/s; the TensorFlow side is `benches/reference/train_step_tf.py` (course),
//! `benches/reference/train_mobilenet_tf.py` (tutorial) and
//! `benches/reference/train_xception_tf.py` (guide) and `benches/reference/train_efficientnet_tf.py`
//! (keras.io's example).

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inception::LayerName;
use inception_transfer::backend::Backend;
use mobilenet::MobileNetV2Config;
use transfer::{CompileConfig, HeadConfig, InputScaling, Inputs, KerasRmsProp, Trainer, TransferModelConfig};

fn device() -> Device {
    let backend =
        std::env::var("TRAIN_BACKEND").ok().and_then(|b| b.parse::<Backend>().ok()).or_else(Backend::default_compiled);
    backend.expect("a backend").device().expect("compiled backend")
}

/// Whether the benches named with `part` run (`TRAIN_ONLY` unset, or containing it).
fn wanted(part: &str) -> bool {
    std::env::var("TRAIN_ONLY").map_or(true, |only| only.contains(part))
}

fn train(c: &mut Criterion) {
    // As the examples: malloc keeps freed memory (the program's choice, not the library's).
    inception_transfer::prelude::keep_freed_memory();
    if !wanted("course") {
        return;
    }
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(20)).sample_size(10);
    let device = device();
    let images = Tensor::<4>::random([20, 3, 150, 150], Distribution::Uniform(0.0, 1.0), &device);
    let targets = Tensor::<2>::random([20, 1], Distribution::Bernoulli(0.5), &device);
    let model = TransferModelConfig::course().init(&device).expect("model");
    let mut trainer = Trainer::new(model.clone(), CompileConfig::course(), &device).expect("trainer");
    group.bench_function("course_step_b20", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    // The head alone on the base's features (mixed7 at 150: 768 x 7 x 7), as a step on
    // cached features runs: Flatten -> Dense(37632 -> 1024) -> Dense(1), backward, RMSprop.
    let features = Tensor::<4>::random([20, 768, 7, 7], Distribution::Uniform(0.0, 2.0), &device);
    group.bench_function("course_head_step_b20", |b| {
        b.iter(|| trainer.train_step(Inputs::Features(features.clone()), targets.clone()).expect("step"))
    });
    drop(trainer);
    let fine_tuning = CompileConfig { learning_rate: 1e-5, ..CompileConfig::course() };
    let mut trainer = Trainer::new(model.unfreeze_from_block(LayerName::Mixed7).expect("mixed7"), fine_tuning, &device)
        .expect("trainer");
    group.bench_function("course_finetune_mixed7_b20", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    group.finish();
}

fn train_mobilenet(c: &mut Criterion) {
    // As the examples: malloc keeps freed memory (the program's choice, not the library's).
    inception_transfer::prelude::keep_freed_memory();
    if !wanted("mobilenet") {
        return;
    }
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(32)).sample_size(10);
    let device = device();
    let images = Tensor::<4>::random([32, 3, 160, 160], Distribution::Uniform(0.0, 255.0), &device);
    let targets = Tensor::<2>::random([32, 1], Distribution::Bernoulli(0.5), &device);
    let base = MobileNetV2Config::new().with_input_size([160, 160]);
    let config = TransferModelConfig::new(base.into(), HeadConfig::global_average(1).with_dropout(0.2))
        .with_input_size([160, 160])
        .with_input_scaling(Some(InputScaling::preprocess_input()));
    let model = config.init(&device).expect("model");
    let mut trainer = Trainer::new(model.clone(), CompileConfig::adam(1e-4), &device).expect("trainer");
    group.bench_function("mobilenet_v2_step_b32", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    drop(trainer);
    let fine_tuning =
        CompileConfig { learning_rate: 1e-5, optimizer: KerasRmsProp::default().into(), ..CompileConfig::adam(1e-4) };
    let fine_tuned = model.unfreeze_base().freeze_first(100).expect("100 layers");
    let mut trainer = Trainer::new(fine_tuned, fine_tuning, &device).expect("trainer");
    group.bench_function("mobilenet_v2_finetune100_b32", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    group.finish();
}

fn train_xception(c: &mut Criterion) {
    // As the examples: malloc keeps freed memory (the program's choice, not the library's).
    inception_transfer::prelude::keep_freed_memory();
    if !wanted("xception") {
        return;
    }
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(32)).sample_size(10);
    let device = device();
    let images = Tensor::<4>::random([32, 3, 150, 150], Distribution::Uniform(0.0, 255.0), &device);
    let targets = Tensor::<2>::random([32, 1], Distribution::Bernoulli(0.5), &device);
    let base = transfer::BaseConfig::for_transfer("xception").expect("registered").with_input_size([150, 150]);
    let config = TransferModelConfig::new(base, HeadConfig::global_average(1).with_dropout(0.2))
        .with_input_size([150, 150])
        .with_input_scaling(Some(InputScaling::Scale { scale: 1.0 / 127.5, offset: -1.0 }));
    let model = config.init(&device).expect("model").unfreeze_base().with_base_training(false);
    let mut trainer = Trainer::new(model, CompileConfig::adam(1e-5), &device).expect("trainer");
    group.bench_function("xception_finetune_b32", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    group.finish();
}

fn train_efficientnet(c: &mut Criterion) {
    // As the examples: malloc keeps freed memory (the program's choice, not the library's).
    inception_transfer::prelude::keep_freed_memory();
    if !wanted("efficientnet") {
        return;
    }
    let mut group = c.benchmark_group("train");
    group.throughput(Throughput::Elements(32)).sample_size(10);
    let device = device();
    let images = Tensor::<4>::random([32, 3, 224, 224], Distribution::Uniform(0.0, 255.0), &device);
    let classes: Vec<f32> = (0..32 * 120).map(|i| if i % 120 == (i / 120) * 7 % 120 { 1.0 } else { 0.0 }).collect();
    let targets = Tensor::<2>::from_data(burn::tensor::TensorData::new(classes, [32, 120]), &device);
    let base = transfer::BaseConfig::for_transfer("efficientnet_b0").expect("registered").with_input_size([224, 224]);
    let head = HeadConfig::global_average(120).with_batch_norm(true).with_dropout(0.2);
    let config = TransferModelConfig::new(base, head).with_input_size([224, 224]);
    let model = config.init(&device).expect("model").unfreeze_last(20, transfer::BatchNorms::KeepFrozen);
    let compile = CompileConfig { loss: transfer::Loss::CategoricalCrossentropy, ..CompileConfig::adam(1e-5) };
    let mut trainer = Trainer::new(model, compile, &device).expect("trainer");
    group.bench_function("efficientnet_b0_finetune20_b32", |b| {
        b.iter(|| trainer.train_step(Inputs::Images(images.clone()), targets.clone()).expect("step"))
    });
    group.finish();
}

criterion_group!(benches, train, train_mobilenet, train_xception, train_efficientnet);
criterion_main!(benches);
