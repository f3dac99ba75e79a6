//! The few JSON pieces the exporter writes by hand, and the fields of spans and events as
//! JSON arguments.

use std::fmt;

use serde_json::Value;
use tracing_core::field::{Field, Visit};

/// `text` as a JSON string.
pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail, and a `&str` always serialises.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// `value` as JSON.
pub(crate) fn value(out: &mut Vec<u8>, value: &Value) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Named JSON values in the order they were first set: a span's or an event's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonArgs {
    fields: Vec<(&'static str, Value)>,
}

impl JsonArgs {
    /// Sets `name` (replacing its value if it has one).
    pub(crate) fn insert(&mut self, name: &'static str, value: Value) {
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value,
            None => self.fields.push((name, value)),
        }
    }

    /// Takes `name` out.
    pub(crate) fn remove(&mut self, name: &str) -> Option<Value> {
        let index = self.fields.iter().position(|(n, _)| *n == name)?;
        Some(self.fields.remove(index).1)
    }

    /// The value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find_map(|(n, v)| (*n == name).then_some(v))
    }

    /// The fields, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.fields.iter().map(|(n, v)| (*n, v))
    }

    /// As a JSON object.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (name, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, name);
            out.push(b':');
            value(out, v);
        }
        out.push(b'}');
    }
}

impl Visit for JsonArgs {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.insert(field.name(), v);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let v = i64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.insert(field.name(), v);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let v = u64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.insert(field.name(), v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field.name(), Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field.name(), Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field.name(), Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field.name(), Value::String(format!("{value:?}")));
    }
}
