//! What Keras hands its callbacks: named figures of a batch or an epoch, in insertion
//! order (`loss`, `accuracy`, then `val_loss`, `val_accuracy`, then what callbacks add,
//! such as `lr`).

/// Named figures of a batch or an epoch, as Keras' `logs` dict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logs {
    entries: Vec<(String, f64)>,
}

impl Logs {
    /// Logs holding `entries`, in that order.
    pub fn from_pairs<'a>(entries: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        let mut logs = Self::default();
        for (name, value) in entries {
            logs.set(name, value);
        }
        logs
    }

    /// The figure called `name` (`None` when it was not logged, as `logs.get(name)`).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(key, _)| key == name).map(|(_, value)| *value)
    }

    /// Sets `name` to `value`, in place when it is already logged, else at the end.
    pub fn set(&mut self, name: &str, value: f64) {
        match self.entries.iter_mut().find(|(key, _)| key == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// The names and figures, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(key, value)| (key.as_str(), *value))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(key, _)| key.as_str())
    }

    /// The names, comma-separated (for messages about a figure that is missing).
    pub fn key_list(&self) -> String {
        self.keys().collect::<Vec<_>>().join(",")
    }

    /// Number of figures.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is logged.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// These logs with every name prefixed by `val_` (what `fit` makes of `evaluate`'s).
    pub fn prefixed_val(&self) -> Logs {
        Logs { entries: self.entries.iter().map(|(key, value)| (format!("val_{key}"), *value)).collect() }
    }

    /// Adds every figure of `other` (Keras' `dict.update`).
    pub fn extend(&mut self, other: &Logs) {
        for (name, value) in other.iter() {
            self.set(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_insertion_order_and_replace_in_place() {
        let mut logs = Logs::from_pairs([("loss", 0.5), ("accuracy", 0.75)]);
        logs.extend(&Logs::from_pairs([("loss", 0.25)]).prefixed_val());
        logs.set("loss", 0.4);
        assert_eq!(logs.key_list(), "loss,accuracy,val_loss");
        assert_eq!(logs.get("loss"), Some(0.4));
        assert_eq!(logs.get("val_loss"), Some(0.25));
        assert_eq!(logs.get("lr"), None);
    }
}
