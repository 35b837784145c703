//! Keras' Adam against real Keras 2.15 steps (tests/fixtures/optimizers here, made by the script
//! beside them): the TF tutorial's head trained with `BinaryCrossentropy(from_logits=True)`,
//! plain and AMSGrad, and its state through a checkpoint.

#[allow(dead_code)] // each test uses its own part
#[path = "../../../tests/common/detrand.rs"]
mod detrand;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use mobilenet::MobileNetV2Config;
use transfer::{
    CompileConfig, Dense, HeadConfig, Inputs, KerasAdam, KerasOptimizer, Trainer, TransferModel, TransferModelConfig,
    load_checkpoint, save_checkpoint,
};

const CHANNELS: usize = 1280;
const HIDDEN: usize = 4;
const BATCH: usize = 6;
const SCALES: [f32; 5] = [4.0, 0.3, 4.0, 0.1, 0.05];

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optimizers/keras_adam_steps.json"
    ))
    .expect("committed fixture");
    serde_json::from_str(&text).expect("JSON")
}

/// MobileNetV2 (0.35, 32x32: a 1x1x1280 feature map) with the tutorial's head, one hidden
/// layer added, weights from detrand as the fixture script sets them.
fn tutorial_model(device: &Device) -> TransferModel {
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let head = HeadConfig::global_average(1).with_hidden(vec![HIDDEN]).with_dropout(0.0);
    let mut model = TransferModelConfig::new(base.into(), head).with_input_size([32, 32]).init(device).unwrap();
    model.head.hidden[0] = Dense::from_values(
        detrand::symmetric(3000 * 8, CHANNELS * HIDDEN, 0.07),
        CHANNELS,
        HIDDEN,
        detrand::symmetric(3000 * 8 + 1, HIDDEN, 0.05),
        device,
    );
    model.head.output = Dense::from_values(
        detrand::symmetric(3001 * 8, HIDDEN, 0.8),
        HIDDEN,
        1,
        detrand::symmetric(3001 * 8 + 1, 1, 0.05),
        device,
    );
    model
}

fn batch(step: usize, device: &Device) -> (Inputs, Tensor<2>) {
    let x: Vec<f32> =
        detrand::uniform(3100 + step as u64, BATCH * CHANNELS).into_iter().map(|u| u * SCALES[step]).collect();
    let y: Vec<f32> = detrand::uniform(3200 + step as u64, BATCH).into_iter().map(|u| (u > 0.5) as u8 as f32).collect();
    let features = Tensor::<4>::from_data(TensorData::new(x, [BATCH, CHANNELS, 1, 1]), device);
    (Inputs::Features(features), Tensor::from_data(TensorData::new(y, [BATCH, 1]), device))
}

fn head_weights(model: &TransferModel) -> Vec<Vec<f32>> {
    let values = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let values1 = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let head = model.head.valid();
    vec![
        values(head.hidden[0].kernel()),
        values1(head.hidden[0].bias.val()),
        values(head.output.kernel()),
        values1(head.output.bias.val()),
    ]
}

/// Largest |ours - keras| over the largest |keras|.
fn relative(ours: &[f32], keras: &[f32]) -> f64 {
    assert_eq!(ours.len(), keras.len());
    let scale = keras.iter().map(|v| v.abs()).fold(0.0f32, f32::max).max(1e-30) as f64;
    ours.iter().zip(keras).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max) / scale
}

fn compare_run(name: &str, adam: KerasAdam, trainer: &mut Trainer, from_step: usize, keras: &serde_json::Value) {
    assert_eq!(trainer.optimizer_config(), KerasOptimizer::Adam(adam));
    let device = trainer.device().clone();
    let mut worst = 0.0f64;
    for step in from_step..SCALES.len() {
        let (inputs, targets) = batch(step, &device);
        let metrics = trainer.train_step(inputs, targets).unwrap();
        let expected = &keras[name][step];
        let keras_loss = expected["loss"].as_f64().unwrap();
        assert!(
            (metrics.loss - keras_loss).abs() <= 1e-5 * keras_loss.abs().max(1.0),
            "{name} step {step}: loss {} vs Keras {keras_loss}",
            metrics.loss
        );
        for (i, ours) in head_weights(trainer.model()).iter().enumerate() {
            let theirs: Vec<f32> =
                expected["weights"][i].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let r = relative(ours, &theirs);
            // Gradients differ from TF's in the last bits (summation order); Adam's update
            // amplifies that where a gradient is near epsilon. AMSGrad differs from plain Adam
            // by 3e-4 of the largest weight here, far above this bound.
            assert!(r < 1e-5, "{name} step {step}, weight {i}: relative difference {r:.2e}");
            worst = worst.max(r);
        }
    }
    println!("{name}: weights within {worst:.2e} of Keras' (relative to the largest)");
}

#[test]
fn adam_steps_match_keras_plain_and_amsgrad() {
    let device = Device::flex();
    let keras = fixture();
    let learning_rate = keras["learning_rate"].as_f64().unwrap();
    for (name, adam) in
        [("adam", KerasAdam::default()), ("amsgrad", KerasAdam { amsgrad: true, ..KerasAdam::default() })]
    {
        let compile = CompileConfig { optimizer: adam.into(), ..CompileConfig::adam(learning_rate) };
        let mut trainer = Trainer::new(tutorial_model(&device), compile, &device).unwrap();
        compare_run(name, adam, &mut trainer, 0, &keras);
    }
}

#[test]
fn adam_state_resumes_from_a_checkpoint_as_if_never_stopped() {
    let device = Device::flex();
    let keras = fixture();
    let adam = KerasAdam { amsgrad: true, ..KerasAdam::default() };
    let compile =
        CompileConfig { optimizer: adam.into(), ..CompileConfig::adam(keras["learning_rate"].as_f64().unwrap()) };
    let mut trainer = Trainer::new(tutorial_model(&device), compile, &device).unwrap();
    for step in 0..2 {
        let (inputs, targets) = batch(step, &device);
        trainer.train_step(inputs, targets).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("adam-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_checkpoint(&path, trainer.model(), &trainer.checkpoint_metadata(&[], 1), Some(trainer.optimizer())).unwrap();
    let (model, metadata, state) = load_checkpoint(&path, &device).unwrap();
    assert_eq!(metadata.optimizer, KerasOptimizer::Adam(adam), "the checkpoint records the optimizer");
    let mut resumed = Trainer::new(model, compile, &device).unwrap();
    resumed.set_optimizer(state.expect("the Adam state was saved"));
    // Steps 3.. continue with the moments and the step count of steps 1-2, as in Keras.
    compare_run("amsgrad", adam, &mut resumed, 2, &keras);
    std::fs::remove_dir_all(&dir).unwrap();
}
