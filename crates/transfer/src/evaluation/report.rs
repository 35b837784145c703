//! scikit-learn's classification metrics of a classifier's predictions: the confusion
//! matrix, `classification_report` (per-class precision / recall / F1 / support, accuracy,
//! macro and weighted averages), `roc_auc_score` for two classes and `top_k_accuracy_score`.

use std::fmt;

use crate::error::{Result, TransferError};
use crate::loss::arg_max;

/// Precision, recall, F1 and support of one class, or their average over classes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// True positives over predicted positives (0 where the class is never predicted).
    pub precision: f64,
    /// True positives over actual positives (0 where the class never occurs).
    pub recall: f64,
    /// `2 tp / (actual + predicted)`, scikit-learn's F1 (0 where both are zero).
    pub f1: f64,
    /// Samples of the class (for an average: all samples).
    pub support: usize,
}

/// What scikit-learn reports on a classifier's predictions, over every class of the model
/// (scikit-learn with `labels=range(n_classes)`: a class the data never has still gets its
/// row, with zeros).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Class names in index order.
    pub class_names: Vec<String>,
    /// `confusion_matrix[true][predicted]`: counts, rows the true classes in index order
    /// (scikit-learn's `confusion_matrix`).
    pub confusion_matrix: Vec<Vec<usize>>,
    /// Each class's scores, in index order.
    pub per_class: Vec<Scores>,
    /// Correct predictions over samples.
    pub accuracy: f64,
    /// The unweighted mean of the classes' scores.
    pub macro_avg: Scores,
    /// The mean of the classes' scores weighted by their support.
    pub weighted_avg: Scores,
    /// The area under the ROC curve of the second class's probability, for two classes
    /// (`None` for more, or when the data has only one class, where scikit-learn refuses).
    pub roc_auc: Option<f64>,
    /// `(k, top-k accuracy)` for more than two classes, for k of 2, 3 and 5 below the number
    /// of classes (scikit-learn's `top_k_accuracy_score`; ties ranked as its stable sort
    /// does: the later class first).
    pub top_k_accuracy: Vec<(usize, f64)>,
}

impl ClassificationReport {
    /// The report on samples of `true_classes` with `probabilities` (one row of one value per
    /// class each); a sample's prediction is its most probable class (the first of equal
    /// ones). Errors on rows of another width or classes outside the names.
    pub fn new(class_names: &[String], true_classes: &[usize], probabilities: &[Vec<f32>]) -> Result<Self> {
        let n = class_names.len();
        let bad = |reason: String| Err(TransferError::Config(format!("classification report: {reason}")));
        if n < 2 {
            return bad(format!("{n} class(es): a report needs two or more"));
        }
        if true_classes.len() != probabilities.len() {
            return bad(format!("{} true classes for {} predictions", true_classes.len(), probabilities.len()));
        }
        if let Some(row) = probabilities.iter().find(|row| row.len() != n) {
            return bad(format!("a probability row of {} values for {n} classes", row.len()));
        }
        if let Some(&class) = true_classes.iter().find(|&&c| c >= n) {
            return bad(format!("true class {class} outside the {n} classes"));
        }
        let predicted: Vec<usize> = probabilities.iter().map(|row| arg_max(row)).collect();
        let mut confusion_matrix = vec![vec![0usize; n]; n];
        for (&t, &p) in true_classes.iter().zip(&predicted) {
            confusion_matrix[t][p] += 1;
        }
        let per_class: Vec<Scores> = (0..n)
            .map(|class| {
                let tp = confusion_matrix[class][class] as f64;
                let support: usize = confusion_matrix[class].iter().sum();
                let predicted: usize = confusion_matrix.iter().map(|row| row[class]).sum();
                Scores {
                    precision: ratio(tp, predicted as f64),
                    recall: ratio(tp, support as f64),
                    f1: ratio(2.0 * tp, (support + predicted) as f64),
                    support,
                }
            })
            .collect();
        let samples = true_classes.len();
        let correct: usize = (0..n).map(|c| confusion_matrix[c][c]).sum();
        let average = |weight: &dyn Fn(&Scores) -> f64| {
            let total: f64 = per_class.iter().map(weight).sum();
            let mean = |value: &dyn Fn(&Scores) -> f64| match total > 0.0 {
                true => per_class.iter().map(|s| value(s) * weight(s)).sum::<f64>() / total,
                false => 0.0,
            };
            Scores {
                precision: mean(&|s| s.precision),
                recall: mean(&|s| s.recall),
                f1: mean(&|s| s.f1),
                support: samples,
            }
        };
        let roc_auc = match n {
            2 => roc_auc(true_classes, &probabilities.iter().map(|row| row[1]).collect::<Vec<_>>()),
            _ => None,
        };
        let top_k_accuracy = [2, 3, 5]
            .into_iter()
            .filter(|&k| n > 2 && k < n)
            .map(|k| (k, top_k_accuracy(true_classes, probabilities, k)))
            .collect();
        Ok(Self {
            class_names: class_names.to_vec(),
            macro_avg: average(&|_| 1.0),
            weighted_avg: average(&|s| s.support as f64),
            confusion_matrix,
            per_class,
            accuracy: ratio(correct as f64, samples as f64),
            roc_auc,
            top_k_accuracy,
        })
    }

    /// The report as JSON (what the examples write as `metrics.json`): `classes`,
    /// `confusion_matrix` (rows = true classes in index order), `per_class` keyed by class
    /// name (`precision`, `recall`, `f1`, `support`), `accuracy`, `macro_avg`,
    /// `weighted_avg`, then `roc_auc` for two classes or `top_k_accuracy` (`{"k": value}`)
    /// for more.
    pub fn to_json(&self) -> String {
        let scores = |s: &Scores| {
            format!(
                "{{\"precision\": {}, \"recall\": {}, \"f1\": {}, \"support\": {}}}",
                number(s.precision),
                number(s.recall),
                number(s.f1),
                s.support
            )
        };
        let name = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".into());
        let classes: Vec<String> = self.class_names.iter().map(|c| name(c)).collect();
        let rows: Vec<String> = self
            .confusion_matrix
            .iter()
            .map(|row| format!("[{}]", row.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")))
            .collect();
        let per_class: Vec<String> = self
            .class_names
            .iter()
            .zip(&self.per_class)
            .map(|(c, s)| format!("    {}: {}", name(c), scores(s)))
            .collect();
        let mut out = format!(
            "{{\n  \"classes\": [{}],\n  \"confusion_matrix\": [\n    {}\n  ],\n  \"per_class\": {{\n{}\n  }},\n  \
             \"accuracy\": {},\n  \"macro_avg\": {},\n  \"weighted_avg\": {}",
            classes.join(", "),
            rows.join(",\n    "),
            per_class.join(",\n"),
            number(self.accuracy),
            scores(&self.macro_avg),
            scores(&self.weighted_avg)
        );
        if self.class_names.len() == 2 {
            out.push_str(&format!(",\n  \"roc_auc\": {}", self.roc_auc.map_or("null".into(), number)));
        }
        if !self.top_k_accuracy.is_empty() {
            let entries: Vec<String> =
                self.top_k_accuracy.iter().map(|(k, v)| format!("\"{k}\": {}", number(*v))).collect();
            out.push_str(&format!(",\n  \"top_k_accuracy\": {{{}}}", entries.join(", ")));
        }
        out.push_str("\n}\n");
        out
    }
}

/// scikit-learn's `classification_report(digits=2)` layout: a header, a row per class,
/// then `accuracy`, `macro avg` and `weighted avg`.
impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.class_names.iter().map(|c| c.chars().count()).max().unwrap_or(0).max("weighted avg".len());
        writeln!(f, "{:>width$}  {:>9} {:>9} {:>9} {:>9}", "", "precision", "recall", "f1-score", "support")?;
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &Scores| {
            writeln!(f, "{name:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}", s.precision, s.recall, s.f1, s.support)
        };
        for (name, scores) in self.class_names.iter().zip(&self.per_class) {
            row(f, name, scores)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:>width$}  {:>9} {:>9} {:>9.2} {:>9}",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        )?;
        row(f, "macro avg", &self.macro_avg)?;
        row(f, "weighted avg", &self.weighted_avg)
    }
}

/// `num / den`, or 0 where `den` is 0 (scikit-learn's `zero_division` default).
fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 }
}

/// A JSON number (`null` for NaN or infinities, which JSON has not).
fn number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "null".into() }
}

/// The area under the ROC curve of `scores` for class 1 against class 0: the chance that a
/// positive scores above a negative, ties counting one half (what the trapezoids under
/// scikit-learn's ROC curve add up to). `None` when one of the classes is missing.
fn roc_auc(true_classes: &[usize], scores: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = true_classes.iter().filter(|&&c| c == 1).count();
    let negatives = true_classes.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the positives' ranks (1-based, ties given their mean rank).
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += mean_rank * order[start..=end].iter().filter(|&&i| true_classes[i] == 1).count() as f64;
        start = end + 1;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The share of samples whose true class is among the `k` most probable: scikit-learn's
/// ranking (a stable ascending sort, reversed: of equal scores the later class ranks first).
fn top_k_accuracy(true_classes: &[usize], probabilities: &[Vec<f32>], k: usize) -> f64 {
    let hits = true_classes
        .iter()
        .zip(probabilities)
        .filter(|&(&t, row)| {
            let ahead = row.iter().enumerate().filter(|&(j, &v)| v > row[t] || (v == row[t] && j > t)).count();
            ahead < k
        })
        .count();
    ratio(hits as f64, true_classes.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // Positives 0.8, 0.5; negatives 0.5, 0.1: pairs (0.8 > 0.5), (0.8 > 0.1), (0.5 = 0.5),
        // (0.5 > 0.1): 3.5 / 4.
        assert_eq!(roc_auc(&[1, 1, 0, 0], &[0.8, 0.5, 0.5, 0.1]), Some(0.875));
        assert_eq!(roc_auc(&[1, 1], &[0.8, 0.5]), None);
    }

    #[test]
    fn a_class_never_predicted_scores_zero() {
        let names = vec!["a".to_string(), "b".into(), "c".into()];
        let rows = vec![vec![0.9, 0.1, 0.0], vec![0.8, 0.2, 0.0], vec![0.1, 0.9, 0.0]];
        let report = ClassificationReport::new(&names, &[0, 2, 1], &rows).unwrap();
        assert_eq!(report.confusion_matrix, vec![vec![1, 0, 0], vec![0, 1, 0], vec![1, 0, 0]]);
        assert_eq!(report.per_class[2], Scores { precision: 0.0, recall: 0.0, f1: 0.0, support: 1 });
        assert_eq!(report.per_class[0].precision, 0.5);
        assert!(ClassificationReport::new(&names, &[3], &rows[..1]).is_err());
    }
}
