//! Keras' `fit(..., class_weight=...)`: a weight per class, turned into per-sample weights
//! of the training loss.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TransferError};

/// The class weights of `fit` ([`FitConfig::class_weight`](crate::FitConfig::class_weight)):
/// given per class, or scikit-learn's `compute_class_weight("balanced", ...)` of the
/// training data. Parsed from `balanced` or `NAME=W,NAME=W,...` (a class's folder name or
/// index for each class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// `n_samples / (n_classes * count of the class)` over the training data's files.
    Balanced,
    /// One weight per class index (Keras' `{0: w0, 1: w1, ...}`).
    PerClass(Vec<f32>),
    /// Weights by class name (or index written as text); every class of the data needs one,
    /// as Keras asks of its dictionary.
    ByName(Vec<(String, f32)>),
}

impl ClassWeight {
    /// The weight of each class index for training data of `class_names` (when the source
    /// knows them) with `counts` samples per class, and a head of `classes` classes (two for
    /// a 1-output head). Errors name the class, the weight or what the data lacks.
    pub fn resolve(
        &self,
        class_names: Option<&[String]>,
        counts: Option<&[usize]>,
        classes: usize,
    ) -> Result<Vec<f32>> {
        let bad = |reason: String| Err(TransferError::Config(format!("class_weight: {reason}")));
        let weights = match self {
            ClassWeight::PerClass(weights) => weights.clone(),
            ClassWeight::Balanced => {
                let Some(counts) = counts else {
                    return bad("\"balanced\" needs the training data's class counts, which this source does not \
                                know: give the weights per class"
                        .into());
                };
                let mut counts = counts.to_vec();
                counts.resize(counts.len().max(classes), 0);
                let total: usize = counts.iter().sum();
                if let Some(empty) = counts.iter().position(|&c| c == 0) {
                    return bad(format!(
                        "\"balanced\": the class {} has no training samples",
                        class_names.and_then(|n| n.get(empty)).cloned().unwrap_or_else(|| empty.to_string())
                    ));
                }
                counts.iter().map(|&c| (total as f64 / (counts.len() as f64 * c as f64)) as f32).collect()
            }
            ClassWeight::ByName(pairs) => {
                let mut weights = vec![None; classes];
                for (name, weight) in pairs {
                    let index = class_names
                        .and_then(|names| names.iter().position(|n| n == name))
                        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < classes));
                    let Some(index) = index else {
                        return bad(format!(
                            "no class {name:?} in the training data (classes: {})",
                            class_names.map(|n| n.join(", ")).unwrap_or_else(|| format!("0..{}", classes - 1))
                        ));
                    };
                    weights[index] = Some(*weight);
                }
                if let Some(missing) = weights.iter().position(Option::is_none) {
                    return bad(format!(
                        "no weight for the class {} (Keras needs one for every class)",
                        class_names.and_then(|n| n.get(missing)).cloned().unwrap_or_else(|| missing.to_string())
                    ));
                }
                weights.into_iter().map(|w| w.unwrap_or(1.0)).collect()
            }
        };
        if weights.len() != classes {
            return bad(format!("{} weights for {classes} classes", weights.len()));
        }
        if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return bad(format!("weight {w}: expected a finite weight >= 0"));
        }
        Ok(weights)
    }
}

impl FromStr for ClassWeight {
    type Err = TransferError;

    /// `balanced`, or `NAME=W,...` (e.g. `cats=1,dogs=2.5`; indices work as names).
    fn from_str(text: &str) -> Result<Self> {
        if text.trim() == "balanced" {
            return Ok(ClassWeight::Balanced);
        }
        let pairs = text
            .split(',')
            .map(|pair| {
                let (name, weight) = pair.split_once('=').ok_or_else(|| {
                    TransferError::Config(format!("class weight {pair:?}: expected NAME=WEIGHT (or \"balanced\")"))
                })?;
                let weight = weight
                    .trim()
                    .parse::<f32>()
                    .map_err(|e| TransferError::Config(format!("class weight {pair:?}: {e}")))?;
                Ok((name.trim().to_string(), weight))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ClassWeight::ByName(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn balanced_is_scikit_learns() {
        // compute_class_weight("balanced", classes=[0, 1, 2], y=[0]*6 + [1]*3 + [2]*1)
        let weights = ClassWeight::Balanced.resolve(None, Some(&[6, 3, 1]), 3).unwrap();
        assert_eq!(weights, vec![(10.0f64 / 18.0) as f32, (10.0f64 / 9.0) as f32, (10.0f64 / 3.0) as f32]);
    }

    #[test]
    fn names_are_parsed_and_every_class_needs_one() {
        let classes = names(&["cats", "dogs"]);
        let parsed: ClassWeight = "cats=1, dogs=2.5".parse().unwrap();
        assert_eq!(parsed.resolve(Some(&classes), None, 2).unwrap(), vec![1.0, 2.5]);
        let by_index: ClassWeight = "1=3,0=0.5".parse().unwrap();
        assert_eq!(by_index.resolve(Some(&classes), None, 2).unwrap(), vec![0.5, 3.0]);
        let missing = "cats=1".parse::<ClassWeight>().unwrap().resolve(Some(&classes), None, 2).unwrap_err();
        assert!(missing.to_string().contains("dogs"), "{missing}");
        let unknown = "cat=1,dogs=1".parse::<ClassWeight>().unwrap().resolve(Some(&classes), None, 2).unwrap_err();
        assert!(unknown.to_string().contains("\"cat\"") && unknown.to_string().contains("cats, dogs"), "{unknown}");
        assert!("cats:1".parse::<ClassWeight>().is_err());
        assert!("cats=-1,dogs=1".parse::<ClassWeight>().unwrap().resolve(Some(&classes), None, 2).is_err());
        let empty = ClassWeight::Balanced.resolve(Some(&classes), Some(&[4, 0]), 2).unwrap_err();
        assert!(empty.to_string().contains("dogs"), "{empty}");
    }
}
