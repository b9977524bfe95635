//! Whole numbers from JSON as JSON Schema counts them: `6` and `6.0` are both the integer 6
//! (a client that writes every number as a float must not be refused for it), `6.5` is not.

use serde::{Deserialize, Deserializer};

/// The whole number in a JSON number, if it is one and fits `u64`.
pub fn whole(number: &serde_json::Number) -> Option<u64> {
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&float)).then_some(float as u64)
}

/// `deserialize_with` for a whole number field.
pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("expected a whole number"))?;
    whole(&number)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {number}")))
}

/// `deserialize_with` for an optional whole number field (`null` is none).
pub fn deserialize_option<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("expected a whole number"))?
    else {
        return Ok(None);
    };
    whole(&number)
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {number}")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Qty {
        #[serde(deserialize_with = "super::deserialize")]
        qty: u32,
    }

    #[test]
    fn integral_floats_are_whole_numbers() {
        let qty = |json: &str| serde_json::from_str::<Qty>(json).map(|q| q.qty).ok();
        assert_eq!(qty(r#"{"qty": 6}"#), Some(6));
        assert_eq!(qty(r#"{"qty": 6.0}"#), Some(6));
        assert_eq!(qty(r#"{"qty": 6e0}"#), Some(6));
        assert_eq!(qty(r#"{"qty": 6.5}"#), None);
        assert_eq!(qty(r#"{"qty": -1}"#), None);
        assert_eq!(qty(r#"{"qty": 5000000000}"#), None);
        assert_eq!(qty(r#"{"qty": "6"}"#), None);
    }
}
