//! Money: whole cents in an `i64`, never a float.
//!
//! Prices arrive as JSON numbers (`49.99`) and are read digit for digit (serde_json's
//! `arbitrary_precision` keeps the literal, rust_decimal parses it), so `0.1 + 0.2` problems
//! cannot occur. Redis and the Lua scripts only ever see and copy integer cents.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The highest price a section may have: one million.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money {
    cents: i64,
}

impl Money {
    pub const fn from_cents(cents: i64) -> Self {
        Self { cents }
    }

    pub const fn cents(self) -> i64 {
        self.cents
    }

    /// `None` on overflow, which the bounds on prices and quantities rule out in practice.
    pub fn times(self, qty: u32) -> Option<Self> {
        self.cents.checked_mul(i64::from(qty)).map(Self::from_cents)
    }

    /// A price as a client wrote it: non-negative, at most two decimals, at most one million.
    pub fn parse_price(value: Decimal) -> Result<Self, String> {
        let value = value.normalize();
        if value.is_sign_negative() && !value.is_zero() {
            return Err("price must not be negative".to_owned());
        }
        if value.scale() > 2 {
            return Err("price must have at most 2 decimals".to_owned());
        }
        let cents = value
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|c| i64::try_from(c).ok())
            .filter(|&c| c <= MAX_PRICE_CENTS)
            .ok_or_else(|| "price must be at most 1000000".to_owned())?;
        Ok(Self::from_cents(cents))
    }

    fn as_decimal(self) -> Decimal {
        Decimal::new(self.cents, 2)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// A JSON number, read from its literal (serde_json's `arbitrary_precision` keeps it), so
    /// `49.99` is 4999 cents exactly; `1e2` is 100.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("price must be a number"))?;
        let literal = number.to_string();
        let value = if literal.contains(['e', 'E']) {
            Decimal::from_scientific(&literal)
        } else {
            literal.parse::<Decimal>()
        }
        .map_err(|_| serde::de::Error::custom("price must be at most 1000000"))?;
        Self::parse_price(value).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(1_000_000))
            .description(Some(
                "A price: a JSON number with at most 2 decimals (kept as whole cents, never a float)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Money {}

impl Serialize for Money {
    /// A JSON number with two decimals, e.g. `49.99` or `50.00`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.as_decimal(), serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Money, String> {
        serde_json::from_str::<Money>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn prices_are_read_exactly() {
        assert_eq!(parse("49.99"), Ok(Money::from_cents(4999)));
        assert_eq!(parse("0.1"), Ok(Money::from_cents(10)));
        assert_eq!(parse("50"), Ok(Money::from_cents(5000)));
        assert_eq!(parse("50.500"), Ok(Money::from_cents(5050)));
        assert_eq!(parse("0"), Ok(Money::from_cents(0)));
        assert_eq!(parse("1000000"), Ok(Money::from_cents(MAX_PRICE_CENTS)));
        assert_eq!(parse("1e2"), Ok(Money::from_cents(10_000)));
        assert_eq!(parse("1.5E+1"), Ok(Money::from_cents(1500)));
        assert_eq!(parse("-0"), Ok(Money::from_cents(0)));
    }

    #[test]
    fn bad_prices_are_refused_with_a_reason() {
        assert!(parse("-1").unwrap_err().contains("negative"));
        assert!(parse("0.001").unwrap_err().contains("2 decimals"));
        assert!(parse("1000000.01").unwrap_err().contains("at most"));
        assert!(parse("1e400").is_err());
        assert!(parse("true").unwrap_err().contains("number"));
        assert!(parse("\"12.30\"").unwrap_err().contains("number"));
        assert!(parse("1e-3").unwrap_err().contains("2 decimals"));
    }

    #[test]
    fn prices_are_written_as_numbers_with_two_decimals() {
        let json = serde_json::to_string(&[Money::from_cents(4999), Money::from_cents(5000)]);
        assert_eq!(json.expect("serializes"), "[49.99,50.00]");
        assert_eq!(
            Money::from_cents(4999).times(3),
            Some(Money::from_cents(14997))
        );
    }
}
