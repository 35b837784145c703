//! A checkpoint survives its writer being killed: a child process saves checkpoints (weights
//! and optimizer state) in a loop and is killed with SIGKILL at several moments; each time the
//! checkpoint left behind loads whole, with the optimizer state it was saved with.

#[allow(dead_code)] // each test uses its own part
#[path = "../../../tests/common/detrand.rs"]
mod detrand;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use burn::tensor::{Device, Tensor, TensorData};
use inception::{Flavor, InceptionV3Config, LayerName};
use transfer::{CompileConfig, HeadConfig, Inputs, Trainer, TransferModelConfig, load_checkpoint, save_checkpoint};

/// Where the child writes, when the test binary runs as the child.
const WRITER_DIR: &str = "CHECKPOINT_CRASH_WRITER_DIR";

fn checkpoint(dir: &Path) -> PathBuf {
    dir.join("model.safetensors")
}

/// The child: a small course model (InceptionV3 cut at mixed0, the course head: 51 MB of
/// weights and as much optimizer state), trained one step on each save so that every
/// generation's weights and velocities differ, saved with the generation as its epochs.
#[test]
#[ignore = "run by checkpoint_survives_a_killed_writer as its child process"]
fn checkpoint_writer() {
    let Ok(dir) = std::env::var(WRITER_DIR) else { return };
    // As the examples do: the folder's lock (released by the kill) makes this the sole writer.
    let _lock = transfer::OutputLock::acquire(Path::new(&dir)).unwrap();
    let device = Device::flex();
    let config = TransferModelConfig::new(
        InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0).into(),
        HeadConfig::course().with_dropout(0.0),
    )
    .with_input_size([75, 75]);
    let mut trainer = Trainer::new(config.init(&device).unwrap(), CompileConfig::course(), &device).unwrap();
    let targets = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [4, 1]), &device);
    let first =
        load_checkpoint(&checkpoint(Path::new(&dir)), &device).map_or(0, |(_, metadata, _)| metadata.epochs_trained);
    for generation in first + 1.. {
        let features = detrand::uniform(generation as u64, 4 * 256 * 7 * 7);
        let features = Inputs::Features(Tensor::from_data(TensorData::new(features, [4, 256, 7, 7]), &device));
        trainer.train_step(features, targets.clone()).unwrap();
        let metadata = trainer.checkpoint_metadata(&["cats".into(), "dogs".into()], generation);
        save_checkpoint(&checkpoint(Path::new(&dir)), trainer.model(), &metadata, Some(trainer.optimizer())).unwrap();
        println!("saved {generation}");
    }
}

#[test]
fn checkpoint_survives_a_killed_writer() {
    let dir = std::env::temp_dir().join(format!("transfer-tests-{}-crash", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let device = Device::flex();
    // Kill moments after the child's first completed save: at once, and part-way through the
    // later saves (a save of ~100 MB takes a few hundred milliseconds here).
    for (round, delay_ms) in [0u64, 45, 130, 260, 410].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "checkpoint_writer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(WRITER_DIR, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The first line also carries libtest's `test checkpoint_writer ... `.
        let saved = lines.find_map(|line| line.ok()?.rsplit_once("saved ")?.1.parse::<usize>().ok());
        let saved = saved.expect("the writer saved a checkpoint");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let (model, metadata, optimizer) = load_checkpoint(&checkpoint(&dir), &device)
            .unwrap_or_else(|e| panic!("round {round}, killed {delay_ms} ms after save {saved}: {e}"));
        assert!(metadata.epochs_trained >= saved, "round {round}: generation {} < {saved}", metadata.epochs_trained);
        assert!(optimizer.is_some(), "round {round}: the optimizer state is gone");
        assert_eq!(metadata.class_names, ["cats", "dogs"]);
        assert_eq!(model.trainable_layers().len(), model.architecture().len());
        let files: Vec<String> =
            std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        let states = files.iter().filter(|name| name.contains(".optim-") && !name.ends_with(".tmp")).count();
        let torn = files.iter().filter(|name| name.ends_with(".tmp")).count();
        println!(
            "round {round}: killed {delay_ms} ms after save {saved}, generation {} loads; {states} state file(s), \
             {torn} torn temporary file(s) left by the kill",
            metadata.epochs_trained
        );
        assert!(states <= 2, "older optimizer states are removed: {states} left");
        assert!(torn <= 2, "temporaries of earlier killed writers are removed: {torn} left");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
