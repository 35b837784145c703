//! The course model's training step and fit bookkeeping against real Keras 2.15 (fixtures
//! made by crates/transfer/tests/fixtures/transfer/make_transfer_fixtures.py), and the other
//! recipes' steps against theirs (batch norms in both modes, EfficientNet's head, class
//! weights). One file of ~480 lines: every test reads the same Keras fixtures folder with the
//! same helpers.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/inception_fixtures.rs"]
mod inception_fixtures;

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use common::detrand;
use inception::{Flavor, InceptionV3Config, LayerName};
use transfer::{
    ClassifierHead, CompileConfig, Dense, FitConfig, HeadConfig, InMemoryBatches, Inputs, Trainer, TransferModel,
    TransferModelConfig, Verbosity,
};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transfer").join(name)
}

fn npy(name: &str) -> Vec<f32> {
    backbone::npy::read_npy(&fixture(name)).unwrap().values
}

fn steps_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("keras_steps.json")).unwrap()).unwrap()
}

/// The course model with the fixture weights and dropout 0 (Keras' masks are not
/// reproducible), for `size` x `size` inputs.
fn course_model(size: usize, device: &Device) -> TransferModel {
    let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    let base = inception_fixtures::keras_model(&base_config, device);
    let config = TransferModelConfig::new(base_config.into(), HeadConfig::course().with_dropout(0.0))
        .with_input_size([size, size]);
    let mut model = config.init_with_base(base, device).unwrap();
    let [r, c, ch] = LayerName::Mixed7.output_shape([size, size]).unwrap();
    let features = r * c * ch;
    model.head.hidden[0] = Dense::from_values(
        detrand::symmetric(2000 * 8, features * 1024, (6.0 / (features + 1024) as f64).sqrt()),
        features,
        1024,
        detrand::symmetric(2000 * 8 + 1, 1024, 0.01),
        device,
    );
    model.head.output = Dense::from_values(
        detrand::symmetric(2001 * 8, 1024, (6.0f64 / 1025.0).sqrt()),
        1024,
        1,
        detrand::symmetric(2001 * 8 + 1, 1, 0.01),
        device,
    );
    model
}

/// Keras' NHWC features from a fixture, as NCHW.
fn keras_features(name: &str, device: &Device) -> Tensor<4> {
    let array = backbone::npy::read_npy(&fixture(name)).unwrap();
    let shape: [usize; 4] = array.shape.clone().try_into().unwrap();
    Tensor::<4>::from_data(TensorData::new(array.values, shape), device).permute([0, 3, 1, 2])
}

fn targets(values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.without_autodiff().into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Largest |a - b| relative to the largest |b|.
fn relative(ours: &[f32], keras: &[f32]) -> f32 {
    assert_eq!(ours.len(), keras.len());
    let scale = keras.iter().map(|v| v.abs()).fold(0.0f32, f32::max).max(1e-30);
    ours.iter().zip(keras).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / scale
}

/// The head gradients of one batch of features, on the autodiff device as the trainer does.
fn head_gradients(model: &TransferModel, features: Tensor<4>, y: Tensor<2>) -> (f64, Vec<Vec<f32>>) {
    let logits = model.head.forward(features.autodiff());
    let loss = transfer::Loss::BinaryCrossentropy.forward(logits, y.autodiff());
    let loss_value = values(loss.clone())[0] as f64;
    let grads = loss.backward();
    let dense = &model.head.hidden[0];
    let out = &model.head.output;
    // The kernel's gradient is its blocks' gradients, stacked.
    let grad = |d: &Dense| values(Tensor::cat(d.kernel.iter().map(|b| b.val().grad(&grads).unwrap()).collect(), 0));
    let grad1 = |d: &Dense| values(d.bias.val().grad(&grads).unwrap());
    (loss_value, vec![grad(dense), grad1(dense), grad(out), grad1(out)])
}

#[test]
fn a_training_step_matches_keras() {
    let device = Device::flex();
    let keras = steps_json();
    let compile = CompileConfig { learning_rate: 1e-6, ..CompileConfig::course() };
    let mut trainer = Trainer::new(course_model(150, &device), compile, &device).unwrap();
    let x = keras_features("step_features_mixed7.npy", &device);
    let y = [0.0, 1.0];
    for step in 1..=2 {
        let (loss, grads) = head_gradients(trainer.model(), x.clone(), targets(&y, &device).autodiff());
        let keras_loss = keras[format!("loss_{step}")].as_f64().unwrap();
        println!("step {step}: loss {loss} vs Keras {keras_loss}");
        assert!(((loss - keras_loss) / keras_loss).abs() < 1e-5, "step {step} loss {loss} vs {keras_loss}");
        let rows = grads[0][..16 * 1024].to_vec();
        let checks = [
            ("grad_dense_kernel_rows", rows),
            ("grad_dense_bias", grads[1].clone()),
            ("grad_dense_1_kernel", grads[2].clone()),
            ("grad_dense_1_bias", grads[3].clone()),
        ];
        for (name, ours) in checks {
            let r = relative(&ours, &npy(&format!("step{step}_{name}.npy")));
            println!("step {step} {name}: relative {r:.2e}");
            assert!(r < 1e-5, "step {step} {name}: relative difference {r}");
        }
        let kernel_sum: f64 = grads[0].iter().map(|v| *v as f64).sum();
        let keras_sum = keras[format!("grad_dense_kernel_sum_{step}")].as_f64().unwrap();
        assert!(((kernel_sum - keras_sum) / keras_sum).abs() < 1e-4, "grad kernel sum {kernel_sum} vs {keras_sum}");

        let metrics = trainer.train_step(Inputs::Features(x.clone()), targets(&y, &device)).unwrap();
        assert!((metrics.loss - keras_loss).abs() / keras_loss < 1e-5);
        let head = &trainer.model().head;
        let after = [
            ("after_dense_kernel_rows", values(head.hidden[0].kernel())[..16 * 1024].to_vec()),
            ("after_dense_bias", values(head.hidden[0].bias.val())),
            ("after_dense_1_kernel", values(head.output.kernel())),
            ("after_dense_1_bias", values(head.output.bias.val())),
        ];
        for (name, ours) in after {
            let r = relative(&ours, &npy(&format!("step{step}_{name}.npy")));
            println!("step {step} {name}: relative {r:.2e}");
            assert!(r < 1e-5, "step {step} {name}: relative difference {r}");
        }
    }
}

#[test]
fn fit_bookkeeping_matches_keras_history() {
    let device = Device::flex();
    let keras = &steps_json()["history"];
    let mut trainer = Trainer::new(course_model(75, &device), CompileConfig::course(), &device).unwrap();
    let train_x = values(keras_features("fit_train_features_mixed7.npy", &device));
    let val_x = values(keras_features("fit_val_features_mixed7.npy", &device));
    let mut train = InMemoryBatches::features(train_x, [768, 3, 3], vec![0., 1., 1., 0., 1., 0., 1.], 1, 3).unwrap();
    let mut validation = InMemoryBatches::features(val_x, [768, 3, 3], vec![1., 0., 0., 1., 1.], 1, 3).unwrap();
    let config = FitConfig { epochs: 2, verbose: Verbosity::Silent, ..FitConfig::default() };
    let history = trainer.fit(&mut train, config, Some(&mut validation), &mut []).unwrap();
    for (e, record) in history.epochs.iter().enumerate() {
        let k = |key: &str| keras[key][e].as_f64().unwrap();
        println!(
            "epoch {e}: {record:?} vs keras loss {} acc {} val_loss {} val_acc {}",
            k("loss"),
            k("accuracy"),
            k("val_loss"),
            k("val_accuracy")
        );
        assert!((record.loss - k("loss")).abs() / k("loss") < 1e-5, "loss");
        assert!((record.accuracy - k("accuracy")).abs() < 1e-6, "accuracy");
        assert!((record.val_loss.unwrap() - k("val_loss")).abs() / k("val_loss") < 1e-5, "val_loss");
        assert!((record.val_accuracy.unwrap() - k("val_accuracy")).abs() < 1e-6, "val_accuracy");
    }
}

/// The photos of the batch-norm mode fixtures: centre crops of 71x71 through Keras' `tf`
/// preprocessing, NCHW.
fn mode_batch(device: &Device) -> Tensor<4> {
    let names = ["chelsea_150x150.png", "coffee_160x160.png", "astronaut_224x224.png", "chelsea_97x131.png"];
    let mut values = Vec::new();
    for name in names {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mobilenet/tests/fixtures/mobilenet").join(name);
        let image = image::open(path).unwrap().to_rgb8();
        let (top, left) = ((image.height() - 71) / 2, (image.width() - 71) / 2);
        let crop = image::imageops::crop_imm(&image, left, top, 71, 71).to_image();
        values.extend(crop.into_raw().into_iter().map(|v| f32::from(v) / 127.5 - 1.0));
    }
    Tensor::<4>::from_data(TensorData::new(values, [4, 71, 71, 3]), device).permute([0, 3, 1, 2])
}

/// One weight of a trained base layer, in Keras' layout.
fn keras_layout(network: &backbone::Network, layer: &str, weight: &str) -> Vec<f32> {
    use backbone::LayerParams;
    let index = network.architecture().index_of(layer).unwrap();
    let kind = &network.architecture().layers()[index].kind;
    let (burn, weight) = match (network.params_of(index).unwrap(), weight) {
        (LayerParams::Conv(conv), "kernel") => (conv.kernel.val(), backbone::Weight::Kernel),
        (LayerParams::Separable(sep), "depthwise_kernel") => {
            (sep.depthwise.kernel.val(), backbone::Weight::DepthwiseKernel)
        }
        (LayerParams::Norm(bn), "gamma") => return values(bn.gamma.as_ref().unwrap().val()),
        (LayerParams::Norm(bn), "beta") => return values(bn.beta.val()),
        (LayerParams::Norm(bn), "moving_mean") => return values(bn.moving_mean.value()),
        (LayerParams::Norm(bn), "moving_variance") => return values(bn.moving_variance.value()),
        _ => panic!("{layer}.{weight}"),
    };
    // Keras' layout, element by element: the inverse of `to_burn_layout`.
    let keras_shape = kind.keras_shape_of(weight, &burn.dims());
    let count: usize = keras_shape.iter().product();
    let positions: Vec<f32> = (0..count).map(|i| i as f32).collect();
    let order = kind.to_burn_layout(weight, &positions, &keras_shape);
    let burn = values(burn);
    let mut keras = vec![0.0; count];
    for (at, &from) in order.iter().enumerate() {
        keras[from as usize] = burn[at];
    }
    keras
}

/// The whole Xception base trainable (`base.trainable = True`) in Keras' two batch-norm
/// modes, two Adam steps: `base(x, training=False)` (the Keras guide: moving statistics
/// used and never updated, gamma and beta trained) and Keras' default `training=True`
/// (batch statistics, moving ones updated with momentum 0.99). Fixtures:
/// crates/transfer/tests/fixtures/transfer/make_batch_norm_mode_fixtures.py.
#[test]
fn trainable_batch_norms_match_keras_in_both_modes() {
    let device = Device::flex();
    let keras: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("batch_norm_modes.json")).unwrap()).unwrap();
    let cut = "block3_sepconv1_act";
    let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../applications/tests/fixtures/applications")
        .join(format!("xception_{cut}_fixture.h5"));
    let x = mode_batch(&device);
    for (mode, training) in [("inference", false), ("training", true)] {
        let keras = &keras[mode];
        let base = transfer::BaseConfig::new("xception").unwrap().with_input_size([71, 71]).with_cut(Some(cut.into()));
        let network = base.pretrained(&weights, &device).unwrap();
        let initial = network.clone();
        let config = TransferModelConfig::new(base, HeadConfig::global_average(1)).with_input_size([71, 71]);
        let mut model = config.init_with_base(network, &device).unwrap().unfreeze_base().with_base_training(training);
        model.head.output = Dense::from_values(
            detrand::symmetric(16000, 128, (6.0f64 / 129.0).sqrt()),
            128,
            1,
            detrand::symmetric(16001, 1, 0.01),
            &device,
        );
        let summary = model.base.summary([71, 71]).unwrap();
        let trainable = summary.trainable_params() + 129;
        assert_eq!(trainable as u64, keras["trainable_params"].as_u64().unwrap(), "{mode}: trainable parameters");
        let mut trainer = Trainer::new(model, CompileConfig::adam(1e-3), &device).unwrap();
        for step in 0..2 {
            let metrics =
                trainer.train_step(Inputs::Images(x.clone()), targets(&[0.0, 1.0, 1.0, 0.0], &device)).unwrap();
            let keras_loss = keras["losses"][step].as_f64().unwrap();
            println!("{mode} step {}: loss {} vs Keras {keras_loss}", step + 1, metrics.loss);
            assert!((metrics.loss - keras_loss).abs() < 1e-5 * keras_loss.abs().max(1.0), "{mode} step {step}");
        }
        let trained = &trainer.model().base;
        for (key, reference) in keras["weights"].as_object().unwrap() {
            let reference: Vec<f32> =
                reference.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let (layer, weight) = key.split_once('.').unwrap();
            let ours = match layer {
                "dense" => match weight {
                    "kernel" => values(trainer.model().head.output.kernel()),
                    _ => values(trainer.model().head.output.bias.val()),
                },
                _ => keras_layout(trained, layer, weight),
            };
            let before = match layer {
                "dense" => reference.clone(),
                _ => keras_layout(&initial, layer, weight),
            };
            let moved = before.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            let diff = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            let scale = reference.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
            println!(
                "{mode} {key}: max |ours - Keras| {diff:.2e}, Keras moved it by {moved:.2e}, max |value| {scale:.3}"
            );
            // Weights just before a batch norm (the stem's kernel, its beta and gamma, the
            // first depthwise kernel) have gradients that are differences of nearly equal
            // sums, within float32 rounding of zero for many values, and Adam moves each by
            // `lr * g / (|g| + 1e-7)` wherever the rounding puts `g`. Burn's own operations
            // happened to sum in TensorFlow's order (3e-8 here); the Flex training
            // operations (`backbone`'s `host_train`) sum in another, and those values land
            // up to a fifth of the two steps' reach (2 x lr) away. A wrong gradient moves
            // whole tensors by the full reach, and the losses above stay within 1e-5.
            let reach = 2.0 * 1e-3;
            assert!(diff <= 1e-6 * scale.max(1.0) + 0.25 * reach, "{mode} {key}: {diff}");
            if weight.starts_with("moving") && layer != "dense" {
                assert_eq!(moved == 0.0, !training, "{mode} {key}: moving statistics updated only in training mode");
            }
        }
        // A checkpoint keeps the mode.
        let path = std::env::temp_dir().join(format!("bn-mode-{mode}-{}.safetensors", std::process::id()));
        transfer::save_model(&path, trainer.model(), &[]).unwrap();
        let (loaded, _) = transfer::load_model(&path, &device).unwrap();
        assert_eq!(loaded.base_training(), training, "{mode}: recorded in the checkpoint");
        std::fs::remove_file(&path).unwrap();
    }
}

/// keras.io's EfficientNet fine-tuning head (global average pooling -> a trainable batch
/// norm -> dropout -> Dense(classes, softmax)), two Adam steps with categorical
/// cross-entropy on fixed features: the losses, the batch norm's gamma, beta and moving
/// statistics (batch statistics in the step, moving ones updated with momentum 0.99) and the
/// dense layer as Keras leaves them. Fixture: crates/transfer/tests/fixtures/transfer/make_efficientnet_head_fixtures.py.
#[test]
fn the_efficientnet_examples_head_trains_as_keras() {
    let device = Device::flex();
    let keras: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("efficientnet_head_steps.json")).unwrap()).unwrap();
    let base = transfer::BaseConfig::new("efficientnet_b0")
        .unwrap()
        .with_input_size([32, 32])
        .with_cut(Some("block1a_project_bn".into()));
    let head = HeadConfig::global_average(3).with_batch_norm(true).with_dropout(0.0);
    let config = TransferModelConfig::new(base, head).with_input_size([32, 32]);
    let mut model = config.init(&device).unwrap();
    let kernel = detrand::symmetric(17001, 48, (6.0f64 / 19.0).sqrt());
    model.head.output = Dense::from_values(kernel, 16, 3, vec![0.0; 3], &device);
    let features = detrand::symmetric(17000, 4 * 3 * 3 * 16, 3.0);
    let x = Tensor::<4>::from_data(TensorData::new(features, [4, 3, 3, 16]), &device).permute([0, 3, 1, 2]);
    let mut labels = vec![0.0f32; 12];
    for (i, class) in [0, 2, 1, 2].into_iter().enumerate() {
        labels[i * 3 + class] = 1.0;
    }
    let y = Tensor::<2>::from_data(TensorData::new(labels, [4, 3]), &device);
    let compile = CompileConfig { loss: transfer::Loss::CategoricalCrossentropy, ..CompileConfig::adam(1e-2) };
    let mut trainer = Trainer::new(model, compile, &device).unwrap();
    for step in 0..2 {
        let metrics = trainer.train_step(Inputs::Features(x.clone()), y.clone()).unwrap();
        let keras_loss = keras["losses"][step].as_f64().unwrap();
        println!("step {}: loss {} vs Keras {keras_loss}", step + 1, metrics.loss);
        assert!((metrics.loss - keras_loss).abs() < 1e-5 * keras_loss, "step {step}");
    }
    let head = &trainer.model().head;
    let bn = head.batch_norm.as_ref().expect("the head's batch norm");
    for (key, reference) in keras["weights"].as_object().unwrap() {
        let reference: Vec<f32> = reference.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let ours = match key.as_str() {
            "batch_normalization.gamma" => values(bn.gamma.as_ref().unwrap().val()),
            "batch_normalization.beta" => values(bn.beta.val()),
            "batch_normalization.moving_mean" => values(bn.moving_mean.value()),
            "batch_normalization.moving_variance" => values(bn.moving_variance.value()),
            "pred.kernel" => values(head.output.kernel()),
            "pred.bias" => values(head.output.bias.val()),
            other => panic!("unexpected {other}"),
        };
        let r = relative(&ours, &reference);
        println!("{key}: relative {r:.2e}");
        assert!(r < 1e-5, "{key}: relative difference {r}");
    }
    // A checkpoint keeps the head's batch norm (its moving statistics too) and the base's
    // Normalization statistics: the loaded model predicts the same.
    let path = std::env::temp_dir().join(format!("efficientnet-head-{}.safetensors", std::process::id()));
    transfer::save_model(&path, trainer.model(), &[]).unwrap();
    let (loaded, _) = transfer::load_model(&path, &device).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(loaded.head.batch_norm.is_some(), "recorded in the checkpoint");
    let images = Tensor::<4>::random([2, 3, 32, 32], burn::tensor::Distribution::Uniform(0.0, 255.0), &device);
    let expected = values(trainer.predict(images.clone()).unwrap());
    let got = values(loaded.head.probabilities(loaded.forward(images).unwrap()));
    assert!(relative(&got, &expected) < 1e-6, "{got:?} vs {expected:?}");
}

/// keras.io's EfficientNet example, both phases as Keras counts them: EfficientNetB0 frozen
/// under the head (Total 4,208,411 / Trainable 156,280 in 242 layers), then "the top 20
/// layers while leaving BatchNorm layers frozen" (Trainable 1,277,864 / Non-trainable
/// 2,930,547); unfreezing from the first layer named `block7a` is the same cut.
#[test]
fn the_efficientnet_examples_phases_count_as_keras() {
    let device = Device::flex();
    let base = transfer::BaseConfig::new("efficientnet_b0").unwrap().with_input_size([224, 224]);
    let head = HeadConfig::global_average(120).with_batch_norm(true).with_dropout(0.2);
    let model = TransferModelConfig::new(base, head).with_input_size([224, 224]).init(&device).unwrap();
    let frozen = model.summary().unwrap();
    assert_eq!(frozen.rows.len(), 242);
    assert_eq!((frozen.total_params(), frozen.trainable_params()), (4_208_411, 156_280));
    let model = model.unfreeze_last(20, transfer::BatchNorms::KeepFrozen);
    let tuned = model.summary().unwrap();
    assert_eq!((tuned.trainable_params(), tuned.non_trainable_params()), (1_277_864, 2_930_547));
    let by_name =
        model.freeze_base().unfreeze_from_name_containing("block7a", transfer::BatchNorms::KeepFrozen).unwrap();
    assert_eq!(by_name.summary().unwrap().trainable_params(), 1_277_864);
    let err = by_name.unfreeze_from_name_containing("block9", transfer::BatchNorms::Unfreeze).unwrap_err();
    assert!(err.to_string().contains("block9"), "{err}");
}

/// Keras 2.15's `fit(..., class_weight=...)` and `fit(..., sample_weight=...)`: a GAP ->
/// Dense head on fixed features, one epoch of three batches (4, 4, 2) with Adam(1e-2): the
/// epoch's loss (each sample's loss times its weight, over the batch size), its accuracy (not
/// weighted, as Keras' `metrics`) and the dense weights after, for a binary head with given
/// weights, a 3-class head on int labels with scikit-learn's "balanced" weights, and a
/// 3-class one-hot head with per-sample weights. Fixture:
/// crates/transfer/tests/fixtures/transfer/make_class_weight_fixtures.py.
#[test]
fn class_and_sample_weights_train_as_keras() {
    use transfer::{ClassWeight, Loss};
    let device = Device::flex();
    let keras: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("class_weight_fits.json")).unwrap()).unwrap();
    let binary = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0];
    let three = [0, 2, 1, 0, 0, 2, 0, 1, 0, 0];
    let sample_weight = vec![1.0, 0.5, 2.0, 1.5, 0.25, 1.0, 3.0, 0.75, 1.0, 2.0];
    let one_hot: Vec<f32> = three.iter().flat_map(|&c| (0..3).map(move |i| if i == c { 1.0 } else { 0.0 })).collect();
    /// One Keras `fit`: the fixture's key, the loss, head outputs, targets and weights.
    struct Case {
        name: &'static str,
        loss: Loss,
        units: usize,
        targets: Vec<f32>,
        class_weight: Option<ClassWeight>,
        sample_weight: Option<Vec<f32>>,
    }
    let cases = [
        Case {
            name: "binary",
            loss: Loss::BinaryCrossentropy,
            units: 1,
            targets: binary.iter().map(|&c| c as f32).collect(),
            class_weight: Some("0=1,1=2.5".parse().unwrap()),
            sample_weight: None,
        },
        Case {
            name: "sparse_balanced",
            loss: Loss::SparseCategoricalCrossentropy,
            units: 3,
            targets: three.iter().map(|&c| c as f32).collect(),
            class_weight: Some(ClassWeight::Balanced),
            sample_weight: None,
        },
        Case {
            name: "categorical_sample_weight",
            loss: Loss::CategoricalCrossentropy,
            units: 3,
            targets: one_hot,
            class_weight: None,
            sample_weight: Some(sample_weight),
        },
    ];
    // NHWC [10, 2, 2, 8] as Keras holds them, NCHW here.
    let nhwc = detrand::symmetric(17100, 10 * 2 * 2 * 8, 2.0);
    let mut features = vec![0.0f32; nhwc.len()];
    for (i, v) in nhwc.iter().enumerate() {
        let (n, rest) = (i / 32, i % 32);
        let (pixel, channel) = (rest / 8, rest % 8);
        features[n * 32 + channel * 4 + pixel] = *v;
    }
    for Case { name, loss, units, targets, class_weight, sample_weight } in cases {
        let reference = &keras[name];
        let base = transfer::BaseConfig::new("efficientnet_b0")
            .unwrap()
            .with_input_size([32, 32])
            .with_cut(Some("block1a_project_bn".into()));
        let config = TransferModelConfig::new(base, HeadConfig::global_average(units)).with_input_size([32, 32]);
        let mut model = config.init(&device).unwrap();
        model.head.output =
            Dense::from_values(detrand::symmetric(17101, 8 * units, 0.5), 8, units, vec![0.0; units], &device);
        let columns = loss.target_columns(units);
        let mut source = InMemoryBatches::features(features.clone(), [8, 2, 2], targets, columns, 4).unwrap();
        if let Some(weights) = sample_weight {
            source = source.with_sample_weights(weights).unwrap();
        }
        let compile = CompileConfig { loss, ..CompileConfig::adam(1e-2) };
        let mut trainer = Trainer::new(model, compile, &device).unwrap();
        let fit = FitConfig::new().with_verbose(Verbosity::Silent).with_class_weight(class_weight);
        let history = trainer.fit(&mut source, fit, None, &mut []).unwrap();
        let (loss, accuracy) = (history.epochs[0].loss, history.epochs[0].accuracy);
        let (keras_loss, keras_accuracy) =
            (reference["loss"].as_f64().unwrap(), reference["accuracy"].as_f64().unwrap());
        println!("{name}: loss {loss} vs Keras {keras_loss}, accuracy {accuracy} vs {keras_accuracy}");
        assert!((loss - keras_loss).abs() < 1e-5 * keras_loss, "{name}: loss");
        assert!((accuracy - keras_accuracy).abs() < 1e-6, "{name}: accuracy");
        let head = &trainer.model().head;
        for (key, ours) in [("kernel", values(head.output.kernel())), ("bias", values(head.output.bias.val()))] {
            let theirs: Vec<f32> =
                reference[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let r = relative(&ours, &theirs);
            println!("{name} {key}: relative {r:.2e}");
            assert!(r < 1e-5, "{name} {key}: relative difference {r}");
        }
    }
}
