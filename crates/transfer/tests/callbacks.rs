//! Keras callbacks: replays of Keras 2.15's EarlyStopping and ReduceLROnPlateau on
//! recorded logs (tests/fixtures/callbacks, made by the script beside them), and `fit`
//! driving every built-in on a small model.

use std::path::PathBuf;

use mobilenet::MobileNetV2Config;
use serde_json::Value;
use transfer::callbacks::on_epoch_end;
use transfer::{
    Callback, CompileConfig, CsvLogger, EarlyStopping, FitConfig, HeadConfig, InMemoryBatches, LearningRateScheduler,
    Logs, Mode, ModelCheckpoint, ReduceLROnPlateau, Result, TerminateOnNaN, Trainer, TransferModelConfig, Verbosity,
    Weights, load_checkpoint,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/callbacks/keras_callback_replays.json");

/// A trainer of a 1-unit head on MobileNetV2 (alpha 0.35, 32x32) features: quick to build
/// and to step, with the real optimizer, weights and checkpoints.
fn tiny_trainer(learning_rate: f64) -> Trainer {
    let device = burn::tensor::Device::flex();
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let config = TransferModelConfig::new(base.into(), HeadConfig::global_average(1)).with_input_size([32, 32]);
    let model = config.init(&device).expect("the tiny model builds");
    let compile = CompileConfig { learning_rate, ..CompileConfig::course() };
    Trainer::new(model, compile, &device).expect("the loss fits a 1-unit head")
}

/// 24 samples of base features (1x1x1280) whose first feature gives the class.
fn tiny_features() -> InMemoryBatches {
    let (n, channels) = (24, 1280);
    let mut features = Vec::with_capacity(n * channels);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as f32;
        features
            .extend((0..channels).map(|c| if c == 0 { 2.0 * class - 1.0 } else { ((i * 7 + c) % 13) as f32 / 13.0 }));
        targets.push(class);
    }
    InMemoryBatches::features(features, [channels, 1, 1], targets, 1, 8).unwrap()
}

fn quiet(epochs: usize) -> FitConfig {
    FitConfig { epochs, verbose: Verbosity::Silent, ..FitConfig::default() }
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(FIXTURE).expect("the callback fixture is committed");
    serde_json::from_str(&text).expect("the fixture is JSON")
}

/// A sequence's per-epoch logs (NaN written as null).
fn sequence_logs(fixture: &Value, name: &str) -> Vec<Logs> {
    let epochs = fixture["sequences"][name].as_array().expect("a sequence of epochs");
    epochs
        .iter()
        .map(|epoch| {
            let mut logs = Logs::default();
            for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
                logs.set(key, epoch[key].as_f64().unwrap_or(f64::NAN));
            }
            logs
        })
        .collect()
}

fn early_stopping_from(args: &Value) -> EarlyStopping {
    let mut early = EarlyStopping::new(args["monitor"].as_str().expect("a monitor"));
    if let Some(v) = args["patience"].as_u64() {
        early = early.patience(v as usize);
    }
    if let Some(v) = args["min_delta"].as_f64() {
        early = early.min_delta(v);
    }
    if let Some(v) = args["baseline"].as_f64() {
        early = early.baseline(v);
    }
    if let Some(v) = args["restore_best_weights"].as_bool() {
        early = early.restore_best_weights(v);
    }
    if let Some(v) = args["start_from_epoch"].as_u64() {
        early = early.start_from_epoch(v as usize);
    }
    if let Some(v) = args["mode"].as_str() {
        early = early.mode(v.parse().expect("a Keras mode"));
    }
    early
}

fn reduce_lr_from(args: &Value) -> ReduceLROnPlateau {
    let mut reduce = ReduceLROnPlateau::new(args["monitor"].as_str().expect("a monitor"));
    if let Some(v) = args["patience"].as_u64() {
        reduce = reduce.patience(v as usize);
    }
    if let Some(v) = args["factor"].as_f64() {
        reduce = reduce.factor(v);
    }
    if let Some(v) = args["min_delta"].as_f64() {
        reduce = reduce.min_delta(v);
    }
    if let Some(v) = args["cooldown"].as_u64() {
        reduce = reduce.cooldown(v as usize);
    }
    if let Some(v) = args["min_lr"].as_f64() {
        reduce = reduce.min_lr(v);
    }
    if let Some(v) = args["mode"].as_str() {
        reduce = reduce.mode(v.parse().expect("a Keras mode"));
    }
    reduce
}

/// What a replay did: epochs run, whether it stopped, the weights after each epoch's step
/// and at the end, and the learning rate after every epoch.
struct Replay {
    epochs_run: usize,
    stopped: bool,
    snapshots: Vec<Weights>,
    at_the_end: Weights,
    lrs: Vec<f64>,
}

/// Drives `callback` as `fit` does over the logged epochs; one training step per epoch
/// makes each epoch's weights distinct, so a restore is identified by its epoch.
fn replay(callback: &mut dyn Callback, logs: &[Logs], trainer: &mut Trainer) -> Replay {
    let mut data = tiny_features();
    let mut snapshots: Vec<Weights> = Vec::new();
    callback.on_train_begin(trainer).unwrap();
    let (mut epochs_run, mut lrs) = (0, Vec::new());
    for (epoch, logged) in logs.iter().enumerate() {
        let (inputs, targets) = transfer::BatchSource::next_batch(&mut data, &trainer.device().clone()).unwrap();
        trainer.train_step(inputs, targets).unwrap();
        snapshots.push(trainer.get_weights().unwrap());
        let mut logs = logged.clone();
        callback.on_epoch_end(epoch, &mut logs, trainer).unwrap();
        epochs_run += 1;
        lrs.push(trainer.learning_rate());
        if trainer.stop_requested() {
            break;
        }
    }
    callback.on_train_end(&Logs::default(), trainer).unwrap();
    let at_the_end = trainer.get_weights().unwrap();
    Replay { epochs_run, stopped: trainer.stop_requested(), snapshots, at_the_end, lrs }
}

#[test]
fn early_stopping_and_reduce_lr_replay_keras_runs() {
    let fixture = fixture();
    let initial_lr = fixture["initial_lr"].as_f64().unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut trainer = tiny_trainer(initial_lr);
    let start = trainer.get_weights().unwrap();
    for case in cases {
        let (sequence, args, keras) = (case["sequence"].as_str().unwrap(), &case["args"], &case["keras"]);
        let logs = sequence_logs(&fixture, sequence);
        let what = format!("{} {args} on {sequence}", case["callback"]);
        // A fresh start for each case: weights, rate, and the stop flag (`fit` clears it).
        trainer.set_weights(&start).unwrap();
        trainer.set_learning_rate(initial_lr).unwrap();
        trainer.fit(&mut tiny_features(), quiet(0), None, &mut []).unwrap();
        let ours = match case["callback"].as_str().unwrap() {
            "EarlyStopping" => replay(&mut early_stopping_from(args), &logs, &mut trainer),
            _ => replay(&mut reduce_lr_from(args), &logs, &mut trainer),
        };
        assert_eq!(ours.epochs_run as u64, keras["epochs_run"].as_u64().unwrap(), "epochs run: {what}");
        assert_eq!(ours.stopped, keras["stopped"].as_bool().unwrap(), "stopped: {what}");
        // Keras' stand-in model records the epoch of the weights it was given back.
        let last = ours.epochs_run - 1;
        let expected_weights = keras["restored_epoch"].as_u64().map_or(last, |e| e as usize);
        assert!(
            ours.at_the_end == ours.snapshots[expected_weights],
            "the weights of epoch {expected_weights} at the end: {what}"
        );
        let keras_lrs: Vec<f64> = keras["lrs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(ours.lrs.len(), keras_lrs.len(), "{what}");
        for (epoch, (a, b)) in ours.lrs.iter().zip(&keras_lrs).enumerate() {
            assert!((a - b).abs() <= 1e-6 * b.abs(), "lr after epoch {epoch}: {a} vs Keras {b}: {what}");
        }
    }
}

#[test]
fn the_stop_at_accuracy_callback_ends_fit_after_the_first_epoch_past_the_target() {
    let mut trainer = tiny_trainer(1e-3);
    // Scripted validation accuracies stand in for a run's; the exercise's closure stops on them.
    let scripted = [0.5, 0.9, 0.96, 0.97, 0.975, 0.99];
    struct Script<'a>(&'a [f64]);
    impl Callback for Script<'_> {
        fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _trainer: &mut Trainer) -> Result<()> {
            logs.set("val_accuracy", self.0[epoch]);
            Ok(())
        }
    }
    let mut stop_at = on_epoch_end(|_epoch, logs: &Logs, trainer: &mut Trainer| -> Result<()> {
        if logs.get("val_accuracy").is_some_and(|a| a > 0.97) {
            trainer.request_stop();
        }
        Ok(())
    });
    let history = trainer
        .fit(&mut tiny_features(), quiet(6), Some(&mut tiny_features()), &mut [&mut Script(&scripted), &mut stop_at])
        .unwrap();
    let accuracies: Vec<f64> = history.epochs.iter().map(|e| e.val_accuracy.unwrap()).collect();
    assert_eq!(accuracies, [0.5, 0.9, 0.96, 0.97, 0.975], "0.97 does not exceed 0.97; 0.975 does");
    assert_eq!(history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert!(history.epochs.iter().all(|e| e.loss.is_finite() && e.val_loss.is_some()));
}

#[test]
fn early_stopping_in_fit_restores_the_best_epoch_and_history_keeps_every_epoch_run() {
    let mut trainer = tiny_trainer(1e-3);
    struct Recorder(Vec<Weights>, &'static [f64]);
    impl Callback for Recorder {
        fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, trainer: &mut Trainer) -> Result<()> {
            logs.set("val_loss", self.1[epoch]);
            self.0.push(trainer.get_weights()?);
            Ok(())
        }
    }
    let mut recorder = Recorder(Vec::new(), &[0.9, 0.7, 0.8, 0.75, 0.72, 0.6]);
    let mut early = EarlyStopping::new("val_loss").patience(3).restore_best_weights(true);
    let history = trainer
        .fit(&mut tiny_features(), quiet(6), Some(&mut tiny_features()), &mut [&mut recorder, &mut early])
        .unwrap();
    assert_eq!(history.epochs.len(), 5, "stops at the end of epoch 4: three epochs without beating 0.7");
    assert_eq!((early.stopped_epoch(), early.best_epoch(), early.best()), (4, 1, 0.7));
    assert!(trainer.get_weights().unwrap() == recorder.0[1], "the weights of epoch 1 are back");
    assert!(trainer.get_weights().unwrap() != recorder.0[4]);
    // The optimizer state survives the restore: training goes on from the restored weights.
    trainer.fit(&mut tiny_features(), quiet(1), None, &mut []).unwrap();
    assert!(trainer.get_weights().unwrap() != recorder.0[1]);
}

#[test]
fn model_checkpoint_fills_its_template_and_saves_only_improvements() {
    let dir = temp_dir("checkpoint");
    let mut trainer = tiny_trainer(1e-3);
    struct Script(&'static [f64]);
    impl Callback for Script {
        fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _trainer: &mut Trainer) -> Result<()> {
            logs.set("val_loss", self.0[epoch]);
            Ok(())
        }
    }
    let template = format!("{}/weights.{{epoch:02d}}-{{val_loss:.2f}}.safetensors", dir.display());
    let mut best =
        ModelCheckpoint::new(template.clone()).save_best_only(true).class_names(vec!["a".into(), "b".into()]);
    let mut every =
        ModelCheckpoint::new(format!("{}/every/e{{epoch}}.safetensors", dir.display())).save_weights_only(true);
    let callbacks: &mut [&mut dyn Callback] = &mut [&mut Script(&[0.5, 0.6, 0.456, 0.456]), &mut best, &mut every];
    trainer.fit(&mut tiny_features(), quiet(4), Some(&mut tiny_features()), callbacks).unwrap();
    let names = |paths: &[PathBuf]| {
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(best.saved()), ["weights.01-0.50.safetensors", "weights.03-0.46.safetensors"]);
    assert_eq!(names(every.saved()), ["e1.safetensors", "e2.safetensors", "e3.safetensors", "e4.safetensors"]);
    let device = burn::tensor::Device::flex();
    let (_, metadata, optimizer) = load_checkpoint(&best.saved()[1], &device).unwrap();
    assert_eq!((metadata.epochs_trained, metadata.class_names), (3, vec!["a".to_string(), "b".to_string()]));
    assert!(optimizer.is_some(), "a full save carries the optimizer state");
    assert!(load_checkpoint(&every.saved()[3], &device).unwrap().2.is_none(), "weights only");
    // A template naming a figure that is not logged fails on the first epoch, naming it.
    let mut bad = ModelCheckpoint::new(format!("{}/{{val_acc:.2f}}", dir.display()));
    let err = trainer.fit(&mut tiny_features(), quiet(1), None, &mut [&mut bad]).unwrap_err().to_string();
    assert!(err.contains("`val_acc`") && err.contains("logged: epoch,loss,accuracy"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_logger_writes_keras_columns_and_appends() {
    let dir = temp_dir("csv");
    let path = dir.join("log.csv");
    let mut trainer = tiny_trainer(1e-3);
    let mut halve = LearningRateScheduler::new(|epoch, lr| if epoch == 0 { lr } else { lr / 2.0 });
    let mut logger = CsvLogger::new(&path);
    trainer.fit(&mut tiny_features(), quiet(2), Some(&mut tiny_features()), &mut [&mut halve, &mut logger]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "epoch,accuracy,loss,lr,val_accuracy,val_loss", "Keras sorts the names");
    assert_eq!(lines.len(), 4, "{text:?}");
    assert!(lines[1].starts_with("0,") && lines[2].starts_with("1,"));
    let lr_of = |line: &str| line.split(',').nth(3).unwrap().parse::<f64>().unwrap();
    assert_eq!((lr_of(lines[1]), lr_of(lines[2])), (0.0010000000474974513, 0.0005000000237487257));
    // Without validation Keras still writes val_ columns, as NA; append keeps the old rows.
    let mut logger = CsvLogger::new(&path).append(true);
    let fit = FitConfig { initial_epoch: 2, ..quiet(3) };
    trainer.fit(&mut tiny_features(), fit, None, &mut [&mut logger]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 5, "{text:?}");
    assert!(lines[3].starts_with("2,") && lines[3].ends_with(",NA,NA"), "{}", lines[3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn terminate_on_nan_stops_at_the_batch_and_bad_configurations_are_errors() {
    let mut trainer = tiny_trainer(1e-3);
    let mut nan = TerminateOnNaN;
    nan.on_train_batch_end(3, &Logs::from_pairs([("loss", 0.5)]), &mut trainer).unwrap();
    assert!(!trainer.stop_requested());
    nan.on_train_batch_end(4, &Logs::from_pairs([("loss", f64::INFINITY)]), &mut trainer).unwrap();
    assert!(trainer.stop_requested());

    let err = |result: Result<transfer::History>| result.unwrap_err().to_string();
    let mut reduce = ReduceLROnPlateau::new("loss").factor(1.0);
    let message = err(trainer.fit(&mut tiny_features(), quiet(1), None, &mut [&mut reduce]));
    assert!(message.contains("does not support a factor >= 1.0. Got 1"), "{message}");
    let mut schedule = LearningRateScheduler::new(|_, _| f64::NAN);
    let message = err(trainer.fit(&mut tiny_features(), quiet(1), None, &mut [&mut schedule]));
    assert!(message.contains("schedule gave NaN for epoch 0"), "{message}");
    let message = err(trainer.fit(&mut tiny_features(), FitConfig { initial_epoch: 3, ..quiet(2) }, None, &mut []));
    assert!(message.contains("initial_epoch 3 is past epochs 2"), "{message}");
    let message =
        err(trainer.fit(&mut tiny_features(), FitConfig { steps_per_epoch: Some(0), ..quiet(1) }, None, &mut []));
    assert!(message.contains("zero training steps"), "{message}");
    let err = "sideways".parse::<Mode>().unwrap_err().to_string();
    assert!(err.contains("sideways"), "{err}");
    // A failing model change leaves the trainer usable.
    let err = trainer.update_model(|model| model.freeze_first(10_000)).unwrap_err();
    assert!(
        matches!(err, transfer::TransferError::Network(backbone::NetworkError::LayerIndex { index: 10_000, .. })),
        "{err:?}"
    );
    trainer.fit(&mut tiny_features(), quiet(1), None, &mut []).unwrap();
}

#[test]
fn a_diverging_loss_ends_fit_with_an_error_naming_the_batch_unless_asked_to_train_on() {
    // A learning rate near f32's largest value sends the weights to infinity at the first
    // step: the second batch's logits are infinite and its loss is not a number.
    let diverging = || tiny_trainer(3e38);
    let config = FitConfig { steps_per_epoch: Some(3), ..quiet(2) };
    let err = diverging().fit(&mut tiny_features(), config.clone(), None, &mut []).unwrap_err();
    assert!(matches!(err, transfer::TransferError::NonFiniteLoss { epoch: 0, batch: 1, .. }), "{err}");
    assert!(err.to_string().contains("batch 1 of epoch 0") && err.to_string().contains("diverged"), "{err}");
    let config = FitConfig { stop_on_non_finite_loss: false, ..config };
    let history = diverging().fit(&mut tiny_features(), config, None, &mut []).unwrap();
    assert_eq!(history.epochs.len(), 2);
    assert!(!history.epochs[1].loss.is_finite(), "trained on, as Keras without TerminateOnNaN");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callbacks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A monitor no one logs (a misspelt `val_acc`, or `val_loss` without validation data) is an
/// error at the start of `fit` that lists the figures there are; a figure a callback declares
/// (`ReduceLROnPlateau`'s `lr`) may be monitored by a callback after it.
#[test]
fn an_unknown_monitor_is_an_error_at_the_start_of_fit() {
    let mut validation = tiny_features();
    let mut stopping = EarlyStopping::new("val_acc");
    let err = tiny_trainer(1e-3)
        .fit(&mut tiny_features(), quiet(2), Some(&mut validation), &mut [&mut stopping])
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"val_acc\"") && err.contains("loss, accuracy, val_loss, val_accuracy"), "{err}");
    let mut stopping = EarlyStopping::new("val_loss");
    let err =
        tiny_trainer(1e-3).fit(&mut tiny_features(), quiet(2), None, &mut [&mut stopping]).unwrap_err().to_string();
    assert!(err.contains("no validation data"), "{err}");
    let (mut reduce, mut on_lr) = (ReduceLROnPlateau::new("loss"), EarlyStopping::new("lr"));
    let history = tiny_trainer(1e-3).fit(&mut tiny_features(), quiet(1), None, &mut [&mut reduce, &mut on_lr]).unwrap();
    assert_eq!(history.epochs.len(), 1);
}

/// Honest results: zero validation steps are refused like zero training steps, and a
/// non-finite validation loss ends `fit` before the epoch's callbacks, so `ModelCheckpoint`
/// never saves the diverged weights; a failed save leaves no new optimizer state beside the
/// old checkpoint.
#[test]
fn fake_or_diverged_validation_figures_end_fit_before_any_save() {
    let mut validation = tiny_features();
    let config = FitConfig { validation_steps: Some(0), ..quiet(1) };
    let err = tiny_trainer(1e-3).fit(&mut tiny_features(), config, Some(&mut validation), &mut []).unwrap_err();
    assert!(err.to_string().contains("zero validation steps"), "{err}");

    let dir = temp_dir("diverged-validation");
    let mut checkpoint = ModelCheckpoint::new(dir.join("model.safetensors").to_string_lossy().into_owned());
    // One step at a rate near f32's largest: the batch's loss is finite (computed before the
    // update), the validation loss after it is not.
    let config = FitConfig { steps_per_epoch: Some(1), ..quiet(2) };
    let err = tiny_trainer(3e38)
        .fit(&mut tiny_features(), config, Some(&mut validation), &mut [&mut checkpoint])
        .unwrap_err();
    assert!(matches!(err, transfer::TransferError::NonFiniteValidationLoss { epoch: 0, .. }), "{err}");
    assert!(checkpoint.saved().is_empty() && !dir.join("model.safetensors").exists(), "nothing saved");

    // A save that fails (the checkpoint's path is a folder) removes the state it wrote first.
    let trainer = tiny_trainer(1e-3);
    let blocked = dir.join("blocked.safetensors");
    std::fs::create_dir_all(&blocked).unwrap();
    assert!(trainer.save(&blocked, &[], 1).is_err());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("blocked.safetensors")], "only the folder that blocked it");
    std::fs::remove_dir_all(&dir).unwrap();
}
