//! Evaluation reports against scikit-learn on fixed predictions (fixture made by
//! tests/fixtures/evaluation/make_report_fixtures.py): the `classification_report` text to the
//! character, its figures, the confusion matrix, ROC-AUC and top-k accuracy, and what
//! `Predictions::write_to` writes.

use std::path::{Path, PathBuf};

use serde_json::Value;
use transfer::{ClassificationReport, Predictions};

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evaluation/sklearn_reports.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn predictions(case: &Value) -> Predictions {
    let names: Vec<String> = case["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    let true_classes: Vec<usize> =
        case["y_true"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let probabilities: Vec<Vec<f32>> = case["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    let files = (0..true_classes.len()).map(|i| Some(PathBuf::from(format!("img, {i}.png")))).collect();
    Predictions { class_names: names, files, true_classes: Some(true_classes), probabilities }
}

fn close(ours: f64, theirs: &Value, what: &str) {
    let theirs = theirs.as_f64().unwrap_or_else(|| panic!("{what}: no figure"));
    assert!((ours - theirs).abs() < 1e-12, "{what}: {ours} vs scikit-learn {theirs}");
}

/// The report's figures equal scikit-learn's (`output_dict`), keyed as its dictionary.
fn assert_figures(report: &ClassificationReport, dict: &Value, name: &str) {
    for (class, scores) in report.class_names.iter().zip(&report.per_class) {
        let theirs = &dict[class];
        close(scores.precision, &theirs["precision"], &format!("{name} {class} precision"));
        close(scores.recall, &theirs["recall"], &format!("{name} {class} recall"));
        close(scores.f1, &theirs["f1-score"], &format!("{name} {class} f1"));
        assert_eq!(scores.support as f64, theirs["support"].as_f64().unwrap(), "{name} {class} support");
    }
    close(report.accuracy, &dict["accuracy"], &format!("{name} accuracy"));
    for (ours, key) in [(&report.macro_avg, "macro avg"), (&report.weighted_avg, "weighted avg")] {
        close(ours.precision, &dict[key]["precision"], &format!("{name} {key} precision"));
        close(ours.recall, &dict[key]["recall"], &format!("{name} {key} recall"));
        close(ours.f1, &dict[key]["f1-score"], &format!("{name} {key} f1"));
        assert_eq!(ours.support as f64, dict[key]["support"].as_f64().unwrap());
    }
}

#[test]
fn reports_equal_scikit_learns() {
    let fixture = fixture();
    for name in ["two", "three", "six"] {
        let case = &fixture[name];
        let report = predictions(case).report().unwrap();
        assert_eq!(report.to_string(), case["text"].as_str().unwrap(), "{name}: classification_report layout");
        assert_figures(&report, &case["dict"], name);
        let matrix: Vec<Vec<usize>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
        assert_eq!(report.confusion_matrix, matrix, "{name}: confusion matrix");
        match name {
            "two" => close(report.roc_auc.unwrap(), &case["roc_auc"], "roc_auc"),
            _ => {
                let top_k = case["top_k"].as_object().unwrap();
                assert_eq!(report.top_k_accuracy.len(), top_k.len(), "{name}: top-k figures");
                for (k, value) in &report.top_k_accuracy {
                    close(*value, &top_k[&k.to_string()], &format!("{name} top-{k}"));
                }
            }
        }
        println!("{name}:\n{report}");
    }
}

#[test]
fn evaluation_files_hold_scikit_learns_figures() {
    let fixture = fixture();
    let case = &fixture["three"];
    let predictions = predictions(case);
    let dir = std::env::temp_dir().join(format!("evaluation-files-{}", std::process::id())).join("missing/folder");
    let report = predictions.write_to(&dir).unwrap().unwrap();
    let metrics: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["classes"], serde_json::json!(["cat", "dog", "horse"]));
    assert_eq!(metrics["confusion_matrix"], case["confusion_matrix"]);
    for class in ["cat", "dog", "horse"] {
        for (ours, theirs) in
            [("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support")]
        {
            close(metrics["per_class"][class][ours].as_f64().unwrap(), &case["dict"][class][theirs], class);
        }
    }
    close(metrics["accuracy"].as_f64().unwrap(), &case["dict"]["accuracy"], "accuracy");
    close(metrics["macro_avg"]["f1"].as_f64().unwrap(), &case["dict"]["macro avg"]["f1-score"], "macro f1");
    close(
        metrics["weighted_avg"]["recall"].as_f64().unwrap(),
        &case["dict"]["weighted avg"]["recall"],
        "weighted recall",
    );
    assert!(metrics.get("roc_auc").is_none());
    close(metrics["top_k_accuracy"]["2"].as_f64().unwrap(), &case["top_k"]["2"], "top-2");
    // One CSV row per sample: file (quoted: it holds a comma), true and predicted class, then
    // the probabilities as written.
    let csv = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("file,true,predicted,p_cat,p_dog,p_horse"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[..4], ["\"img", " 0.png\"", "cat", "dog"]);
    assert_eq!(first[4].parse::<f32>().unwrap(), predictions.probabilities[0][0]);
    assert_eq!(csv.lines().count(), 1 + predictions.len());
    let image = image::open(dir.join("confusion_matrix.png")).unwrap().to_rgb8();
    assert!(image.width() >= 400 && image.height() >= 400, "{}x{}", image.width(), image.height());
    assert_eq!(report.confusion_matrix[0][1], 3);
    std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).unwrap();
    // Unlabelled predictions write the CSV only, with an empty `true` column.
    let unlabelled = Predictions { true_classes: None, ..predictions };
    let dir = std::env::temp_dir().join(format!("evaluation-unlabelled-{}", std::process::id()));
    assert!(unlabelled.write_to(&dir).unwrap().is_none());
    let csv = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",,cat,") || csv.lines().nth(1).unwrap().contains(",,dog,"));
    assert!(!dir.join("metrics.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
