//! The JSON schema of a reply type, in the form strict structured output accepts.

use schemars::JsonSchema;
use serde_json::Value;

/// OpenAI's strict mode wants every object closed and every property required, and rejects
/// some keywords schemars emits (`format`, `minimum` on integers).
fn strict(mut schema: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["$schema", "format", "minimum", "maximum"] {
                    map.remove(key);
                }
                if let Some(Value::Object(props)) = map.get("properties") {
                    let required: Vec<Value> =
                        props.keys().map(|k| Value::String(k.clone())).collect();
                    map.insert("required".into(), Value::Array(required));
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut schema);
    schema
}

/// The JSON schema sent as `response_format` for `T`.
pub fn response_schema<T: JsonSchema>() -> Value {
    strict(serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null))
}
