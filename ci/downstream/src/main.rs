//! The README's "use it as a library" program: the course recipe on a folder of images.
use std::path::Path;

use inception_transfer::prelude::*;

fn main() -> anyhow::Result<()> {
    keep_freed_memory(); // malloc keeps the training step's large buffers (a program's choice)
    let device = Device::flex();
    let data = Path::new("data"); // train/<class>/*.jpg and validation/<class>/*.jpg
    if !data.exists() {
        write_standin_dataset(data, ["cats", "dogs"], 8, 4, 0)?;
    }
    let flow = |dir: &str, generator| {
        let config = FlowConfig::new().with_target_size([150, 150]).with_batch_size(4).with_class_mode(ClassMode::Binary);
        DirectoryIterator::new(&data.join(dir), generator, config)
    };
    let mut train = flow("train", ImageDataGeneratorConfig::course().build()?)?;
    let mut validation = flow("validation", ImageDataGenerator::rescale_only(1.0 / 255.0))?;

    // InceptionV3 cut at mixed7 and frozen, the course head. Load the Keras weights with
    // `InceptionV3::pretrained(..)` and `config.init_with_base(..)` for real use.
    let config = TransferModelConfig::course();
    let model = config.init(&device)?;
    let mut trainer = Trainer::new(model, CompileConfig::course(), &device)?;
    let fit = FitConfig::new().with_epochs(1).with_verbose(Verbosity::OneLinePerEpoch);
    let history = trainer.fit(&mut train, fit, Some(&mut validation), &mut [])?;
    println!("{}", history.to_csv());
    save_model(Path::new("model.safetensors"), trainer.model(), train.class_names())?; // Keras' model.save
    let (_, classes) = load_model(Path::new("model.safetensors"), &device)?;
    assert_eq!(classes, train.class_names());
    Ok(())
}
