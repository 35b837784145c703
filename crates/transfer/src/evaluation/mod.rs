//! After training: a model's predictions on every sample of a source, per file where the
//! source reads files, and scikit-learn's report on them, written as `predictions.csv`,
//! `metrics.json` and `confusion_matrix.png`.

mod confusion_plot;
mod report;

pub use report::{ClassificationReport, Scores};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use backbone::cpu::host_values;
use burn::tensor::{Device, Tensor};

use crate::data::{BatchSource, Inputs};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::history::write_atomically;
use crate::inference::InferenceModel;
use crate::loss::{arg_max, target_classes};

/// A model's predictions on samples: each sample's file (where the source reads files), its
/// true class (where the source has labels) and one probability per class (a 1-output head's
/// `p` as `[1 - p, p]`), in file order where the source names its files, else in the order
/// served.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Class names in index order.
    pub class_names: Vec<String>,
    /// Each sample's file, where known.
    pub files: Vec<Option<PathBuf>>,
    /// Each sample's true class, where the source has labels.
    pub true_classes: Option<Vec<usize>>,
    /// Each sample's probabilities, one per class.
    pub probabilities: Vec<Vec<f32>>,
}

impl Predictions {
    /// Samples predicted.
    pub fn len(&self) -> usize {
        self.probabilities.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.probabilities.is_empty()
    }

    /// Each sample's predicted class: the most probable one (a 1-output head's `p > 0.5`).
    pub fn predicted_classes(&self) -> Vec<usize> {
        self.probabilities.iter().map(|row| arg_max(row)).collect()
    }

    /// scikit-learn's metrics of these predictions; an error when the source had no labels.
    pub fn report(&self) -> Result<ClassificationReport> {
        let true_classes = self.true_classes.as_ref().ok_or_else(|| {
            TransferError::Config(
                "classification report: the predictions have no true classes (unlabelled data)".into(),
            )
        })?;
        ClassificationReport::new(&self.class_names, true_classes, &self.probabilities)
    }

    /// The predictions as CSV: `file`, `true` (empty without labels), `predicted`, then
    /// `p_<class>` for each class; class names as they are, quoted where CSV needs it.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("file,true,predicted");
        for name in &self.class_names {
            out.push(',');
            out.push_str(&csv_field(&format!("p_{name}")));
        }
        out.push('\n');
        let predicted = self.predicted_classes();
        let name = |class: usize| self.class_names.get(class).cloned().unwrap_or_else(|| class.to_string());
        for (i, row) in self.probabilities.iter().enumerate() {
            let file = self.files.get(i).and_then(Option::as_ref).map(|f| f.display().to_string()).unwrap_or_default();
            let truth = self.true_classes.as_ref().and_then(|t| t.get(i)).map(|&c| name(c)).unwrap_or_default();
            let _ = write!(out, "{},{},{}", csv_field(&file), csv_field(&truth), csv_field(&name(predicted[i])));
            for p in row {
                let _ = write!(out, ",{p}");
            }
            out.push('\n');
        }
        out
    }

    /// Writes `predictions.csv` and, with labels, `metrics.json` and `confusion_matrix.png`
    /// into `dir` (made if missing); returns the report (`None` without labels).
    pub fn write_to(&self, dir: &Path) -> Result<Option<ClassificationReport>> {
        std::fs::create_dir_all(dir).map_err(|source| TransferError::Io { path: dir.to_path_buf(), source })?;
        write_atomically(&dir.join("predictions.csv"), self.to_csv().as_bytes())?;
        if self.true_classes.is_none() {
            return Ok(None);
        }
        let report = self.report()?;
        write_atomically(&dir.join("metrics.json"), report.to_json().as_bytes())?;
        report.plot_confusion_matrix(&dir.join("confusion_matrix.png"))?;
        Ok(Some(report))
    }
}

/// A CSV field, quoted (inner quotes doubled) where it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    match value.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", value.replace('"', "\"\"")),
        false => value.to_string(),
    }
}

/// Runs `model` over `steps` batches of `source` (default: one pass) on `device`: each
/// sample's probabilities with its file and true class where the source has them. A
/// source that serves each sample the same inputs ([`BatchSource::as_repeatable`]) gives its
/// files, and the rows come in file order; `class_names` name the classes where the source
/// does not (else `0`, `1`, ...).
pub(crate) fn collect<H: ClassifierHead>(
    model: &InferenceModel<H>,
    source: &mut dyn BatchSource,
    steps: Option<usize>,
    class_names: Option<&[String]>,
    device: &Device,
    check: &dyn Fn(&Inputs, &Tensor<2>) -> Result<()>,
) -> Result<Predictions> {
    let steps = steps.unwrap_or_else(|| source.batches_per_epoch());
    if steps == 0 {
        return Err(TransferError::Config("predictions: zero steps (an empty source?)".into()));
    }
    let outputs = model.head.outputs();
    let classes = outputs.max(2);
    let names: Vec<String> = match source.class_names().or(class_names) {
        Some(names) if names.len() == classes => names.to_vec(),
        Some(names) if !names.is_empty() => {
            return Err(TransferError::Config(format!(
                "predictions: the data has {} classes ({}), the model's head {classes}",
                names.len(),
                names.join(", ")
            )));
        }
        _ => (0..classes).map(|c| c.to_string()).collect(),
    };
    let mut rows: Vec<Row> = Vec::new();
    for _ in 0..steps {
        let (keys, inputs, targets) = match source.as_repeatable() {
            Some(repeatable) => {
                let batch = repeatable.next_keyed_batch(device, &|_| false)?;
                let inputs =
                    batch.inputs.ok_or_else(|| TransferError::Config("predictions: a batch without inputs".into()))?;
                let files: Vec<_> = batch.keys.iter().map(|&k| (Some(k), repeatable.sample_path(k))).collect();
                (files, inputs, batch.targets)
            }
            None => {
                let (inputs, targets) = source.next_batch(device)?;
                (vec![(None, None); inputs.len()], inputs, targets)
            }
        };
        check(&inputs, &targets)?;
        let logits = match inputs {
            Inputs::Images(images) => model.forward(images.without_autodiff().to_device(device))?,
            Inputs::Features(features) => model.head.forward(features.without_autodiff().to_device(device)),
        };
        let probabilities = host_values(model.head.probabilities(logits))?;
        let [_, columns] = targets.dims();
        let targets = host_values(targets.without_autodiff())?;
        let true_classes = target_classes(&targets, columns);
        for (((key, file), class), p) in keys.into_iter().zip(true_classes).zip(probabilities.chunks(outputs)) {
            let row = match outputs {
                1 => vec![1.0 - p[0], p[0]],
                _ => p.to_vec(),
            };
            rows.push(Row { key, file, class, probabilities: row });
        }
    }
    // File order where the source names its samples (a stable sort keeps repeats together).
    if rows.iter().all(|row| row.key.is_some()) {
        rows.sort_by_key(|row| row.key);
    }
    Ok(Predictions {
        class_names: names,
        files: rows.iter().map(|row| row.file.clone()).collect(),
        true_classes: Some(rows.iter().map(|row| row.class).collect()),
        probabilities: rows.into_iter().map(|row| row.probabilities).collect(),
    })
}

/// One sample's prediction while they are collected.
struct Row {
    /// The sample's key in a repeatable source (its file's index).
    key: Option<usize>,
    file: Option<PathBuf>,
    class: usize,
    probabilities: Vec<f32>,
}
