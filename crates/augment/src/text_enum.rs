//! Keras' string arguments (`class_mode="binary"`, `interpolation="nearest"`, ...) as
//! enums that parse from and print as Keras' spelling, written once for every such enum.

/// `FromStr` (an unknown text is `AugmentError::InvalidParameter` listing the valid ones),
/// `Display`, and serde as that text (a configuration saved as JSON reads
/// `"class_mode": "binary"`), for an enum of unit variants, from its Keras spellings.
macro_rules! text_enum {
    ($ty:ty, $parameter:literal, $expected:literal, $($text:literal => $value:expr),+) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::error::AugmentError;

            fn from_str(text: &str) -> $crate::error::Result<Self> {
                match text {
                    $($text => Ok($value),)+
                    _ => Err($crate::error::AugmentError::InvalidParameter {
                        parameter: $parameter,
                        value: text.into(),
                        reason: $expected,
                    }),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $(if *self == $value { return f.write_str($text); })+
                Ok(())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use crate::{ClassMode, FillMode, Interpolation, LabelMode};

    /// Keras' spellings both ways; an unknown one lists the valid ones.
    #[test]
    fn keras_spellings_parse_and_print() {
        assert_eq!("binary".parse::<ClassMode>().unwrap(), ClassMode::Binary);
        assert_eq!(ClassMode::Sparse.to_string(), "sparse");
        assert_eq!("bilinear".parse::<Interpolation>().unwrap(), Interpolation::Bilinear);
        assert_eq!("reflect".parse::<FillMode>().unwrap(), FillMode::Reflect);
        assert_eq!(FillMode::Constant(3.0).to_string(), "constant");
        assert_eq!("int".parse::<LabelMode>().unwrap().to_string(), "int");
        let err = "binay".parse::<ClassMode>().unwrap_err().to_string();
        assert!(err.contains("binay") && err.contains("categorical, binary, sparse or none"), "{err}");
        assert!("mirror".parse::<FillMode>().unwrap_err().to_string().contains("nearest, constant, reflect or wrap"));
    }

    /// Saved configurations spell them as Keras does, and read them back.
    #[test]
    fn keras_spellings_are_their_serialised_form() {
        assert_eq!(serde_json::to_string(&ClassMode::Binary).unwrap(), "\"binary\"");
        assert_eq!(serde_json::from_str::<Interpolation>("\"bilinear\"").unwrap(), Interpolation::Bilinear);
        let err = serde_json::from_str::<LabelMode>("\"ints\"").unwrap_err().to_string();
        assert!(err.contains("ints") && err.contains("int, categorical, binary or none"), "{err}");
    }
}
