//! The data folders: the course's (or a generated stand-in), its flows, and the class checks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator, ImageDataGeneratorConfig};

use super::{CourseArgs, pixel_rescale};

/// A dataset of two classes in `train/` and `validation/` folders, and how to get it.
pub struct Dataset {
    /// Where it is looked for by default.
    pub folder: &'static str,
    /// The class folders, in sorted order.
    pub classes: [&'static str; 2],
    /// What it is, for messages.
    pub description: &'static str,
    /// Shell lines that fetch and unpack it into `folder`.
    pub fetch: &'static [&'static str],
}

/// The data folder to use (`--data`, else the dataset's usual folder), or a freshly
/// generated stand-in of `standin_images` training and validation images per class
/// (`true`) when the usual folder is absent; a `--data` folder that lacks the layout is an
/// error.
pub fn data_folder(
    data: Option<&Path>,
    dataset: &Dataset,
    output: &Path,
    standin_images: [usize; 2],
    seed: u64,
) -> Result<(PathBuf, bool)> {
    let chosen = data.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(dataset.folder));
    if chosen.join("train").is_dir() && chosen.join("validation").is_dir() {
        return Ok((chosen, false));
    }
    if data.is_some() {
        anyhow::bail!(
            "{}: expected train/ and validation/ sub-folders, each with {}/ and {}/",
            chosen.display(),
            dataset.classes[0],
            dataset.classes[1]
        );
    }
    let standin = output.join("standin_data");
    println!(
        "No dataset at {}: generating a stand-in image set in {} (not {}!).",
        dataset.folder,
        standin.display(),
        dataset.classes.join(" and ")
    );
    println!("  To get the real one ({}):", dataset.description);
    for line in dataset.fetch {
        println!("    {line}");
    }
    augment::write_standin_dataset(&standin, dataset.classes, standin_images[0], standin_images[1], seed)?;
    Ok((standin, true))
}

/// `flow_from_directory(dir, target_size=(150, 150), batch_size, class_mode=...)`: the
/// course's `'binary'` for two class folders, `'categorical'` for more (the course's
/// multi-class exercises, with a softmax head).
pub fn flow(dir: &Path, generator: ImageDataGenerator, batch_size: usize, seed: u64) -> Result<DirectoryIterator> {
    let class_mode = match class_folders(dir)? {
        0..=2 => ClassMode::Binary,
        _ => ClassMode::Categorical,
    };
    let config = FlowConfig { target_size: [150, 150], batch_size, class_mode, seed, ..FlowConfig::default() };
    let it = DirectoryIterator::new(dir, generator, config)?;
    println!("{}", it.found_message());
    Ok(it)
}

/// The class folders in `dir` (hidden ones left out, as Keras does).
pub fn class_folders(dir: &Path) -> Result<usize> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut count = 0;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        count += (path.is_dir() && !hidden) as usize;
    }
    Ok(count)
}

/// The course's two generators: augmentation for training, rescale only for validation.
pub fn course_flows(data: &Path, args: &CourseArgs) -> Result<(DirectoryIterator, DirectoryIterator)> {
    let mut augmentation = ImageDataGeneratorConfig::course();
    augmentation.rescale = Some(pixel_rescale(args));
    let train = flow(&data.join("train"), augmentation.build()?, args.batch_size, args.seed)?;
    let rescale = ImageDataGenerator::rescale_only(pixel_rescale(args));
    let validation = flow(&data.join("validation"), rescale, args.batch_size, args.seed + 1)?;
    same_classes(train.class_names(), validation.class_names(), data)?;
    Ok((train, validation))
}

/// Training and validation must have the same class folders, or labels would mean
/// different things in the two.
pub fn same_classes(train: &[String], validation: &[String], data: &Path) -> Result<()> {
    if train != validation {
        anyhow::bail!(
            "{}: train/ has the classes {train:?} but validation/ has {validation:?}; they must be the same folders",
            data.display()
        );
    }
    Ok(())
}

/// The class folders of a binary recipe (one logit, as the TF tutorial and the Keras guide
/// build their heads): exactly two, or an error naming the folder and the classes found.
pub fn two_classes(classes: &[String], folder: &Path) -> Result<()> {
    if classes.len() != 2 {
        anyhow::bail!(
            "{}: this recipe's head is one logit for two classes, but the folder has {} class folders {classes:?}; \
             for more classes use efficientnet_fine_tuning (a softmax over every class) or cats_vs_dogs",
            folder.display(),
            classes.len()
        );
    }
    Ok(())
}

/// The cats-vs-dogs folder of the course and of the TF tutorial.
pub const CATS_AND_DOGS: Dataset = Dataset {
    folder: "data/cats_and_dogs_filtered",
    classes: ["cats", "dogs"],
    description: "2000 training / 1000 validation JPEGs, 68 MB",
    fetch: &[
        "mkdir -p data && curl -LO https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "unzip -q cats_and_dogs_filtered.zip -d data/",
    ],
};
