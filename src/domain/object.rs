//! Bodies that must be JSON objects. serde's derived `Deserialize` for a struct also accepts a
//! JSON array of its fields in order (`[]` is a struct whose fields all have defaults), which the
//! OpenAPI document does not allow and no client means; [`Object`] asks for a map only, so an
//! array is the same 400 as any other wrong type. The request extractors wrap every body in it,
//! and the nested objects of a body use [`vec`] / [`option_vec`].

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A `T` read from a JSON object only.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapOnly<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapOnly<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(MapOnly(PhantomData))
            .map(Object)
    }
}

/// `#[serde(deserialize_with = "object::vec")]`: a list of objects.
pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let items = Vec::<Object<T>>::deserialize(d)?;
    Ok(items.into_iter().map(|Object(item)| item).collect())
}

/// `#[serde(default, deserialize_with = "object::option_vec")]`: an optional list of objects.
pub fn option_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    let items = Option::<Vec<Object<T>>>::deserialize(d)?;
    Ok(items.map(|items| items.into_iter().map(|Object(item)| item).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        user_id: Option<String>,
    }

    #[test]
    fn an_object_is_read_as_the_struct() {
        let Object(body) = serde_json::from_str::<Object<Body>>(r#"{"userId":"a"}"#).unwrap();
        assert_eq!(body.user_id.as_deref(), Some("a"));
        let Object(body) = serde_json::from_str::<Object<Body>>("{}").unwrap();
        assert_eq!(body, Body { user_id: None });
    }

    #[test]
    fn an_array_is_not_an_object() {
        // The derived impl alone takes both.
        assert!(serde_json::from_str::<Body>("[]").is_ok());
        assert!(serde_json::from_str::<Body>(r#"["a"]"#).is_ok());
        for text in ["[]", r#"["a"]"#, "1", r#""a""#, "true"] {
            let error = serde_json::from_str::<Object<Body>>(text).unwrap_err();
            assert!(
                error.to_string().contains("a JSON object"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn nested_lists_take_objects_only() {
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[serde(deserialize_with = "vec")]
            items: Vec<Body>,
            #[serde(default, deserialize_with = "option_vec")]
            more: Option<Vec<Body>>,
        }
        let outer: Outer = serde_json::from_str(r#"{"items":[{"userId":"a"},{}]}"#).unwrap();
        assert_eq!(outer.items.len(), 2);
        assert!(outer.more.is_none());
        assert!(serde_json::from_str::<Outer>(r#"{"items":[[]]}"#).is_err());
        assert!(serde_json::from_str::<Outer>(r#"{"items":[],"more":[["a"]]}"#).is_err());
        let outer: Outer = serde_json::from_str(r#"{"items":[],"more":null}"#).unwrap();
        assert!(outer.more.is_none());
    }
}
