//! JSON schemas of request bodies, derived from the Rust types the server
//! parses them into, so the OpenAPI document cannot drift from the code.
//!
//! [`api_model!`](crate::api_model) defines a request struct and its schema
//! in one go: every field's schema comes from its type's [`ApiSchema`], and a
//! field is required unless its type is an `Option`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A type with an OpenAPI 3.0 schema.
pub trait ApiSchema {
    /// Whether a field of this type must be present.
    const REQUIRED: bool = true;
    /// The schema.
    fn schema() -> Value;
}

impl ApiSchema for String {
    fn schema() -> Value {
        json!({"type": "string"})
    }
}

impl ApiSchema for bool {
    fn schema() -> Value {
        json!({"type": "boolean"})
    }
}

macro_rules! integer_schema {
    ($($t:ty),*) => {$(
        impl ApiSchema for $t {
            fn schema() -> Value {
                json!({"type": "integer", "minimum": 0})
            }
        }
    )*};
}
integer_schema!(u32, u64, usize);

impl ApiSchema for f64 {
    fn schema() -> Value {
        json!({"type": "number"})
    }
}

impl ApiSchema for Value {
    fn schema() -> Value {
        json!({})
    }
}

impl<T: ApiSchema> ApiSchema for Option<T> {
    const REQUIRED: bool = false;
    fn schema() -> Value {
        let mut s = T::schema();
        if let Value::Object(map) = &mut s {
            map.insert("nullable".into(), Value::Bool(true));
        }
        s
    }
}

impl<T: ApiSchema> ApiSchema for Vec<T> {
    fn schema() -> Value {
        json!({"type": "array", "items": T::schema()})
    }
}

impl<V: ApiSchema> ApiSchema for BTreeMap<String, V> {
    fn schema() -> Value {
        json!({"type": "object", "additionalProperties": V::schema()})
    }
}

/// An object schema from (name, schema, required) fields.
pub fn object(fields: Vec<(&'static str, Value, bool)>) -> Value {
    let required: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
    let properties: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(n, s, _)| (n.to_owned(), s))
        .collect();
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// Defines a request body struct (deserialized, unknown fields ignored as
/// Pulp does) together with its [`ApiSchema`].
#[macro_export]
macro_rules! api_model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        impl $crate::api::schema::ApiSchema for $name {
            fn schema() -> serde_json::Value {
                $crate::api::schema::object(vec![
                    $( (
                        stringify!($field),
                        <$ty as $crate::api::schema::ApiSchema>::schema(),
                        <$ty as $crate::api::schema::ApiSchema>::REQUIRED,
                    ), )*
                ])
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::api_model! {
        /// A test body.
        struct Body {
            name: String,
            size: Option<u64>,
            tags: Option<Vec<String>>,
        }
    }

    #[test]
    fn schemas_follow_the_types() {
        let s = Body::schema();
        assert_eq!(s["required"], json!(["name"]));
        assert_eq!(
            s["properties"]["size"],
            json!({"type": "integer", "minimum": 0, "nullable": true})
        );
        assert_eq!(s["properties"]["tags"]["items"], json!({"type": "string"}));
        let b: Body = serde_json::from_str(r#"{"name": "x", "size": 3, "unknown": 1}"#).unwrap();
        assert_eq!((b.name.as_str(), b.size, b.tags), ("x", Some(3), None));
    }
}
