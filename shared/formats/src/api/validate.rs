//! Walks a request body against its operation's input shape, collecting AWS-worded violations.

use serde_json::Value;

use super::model::{model, Model, Shape};
use crate::FormatError;

/// AWS cuts the offending value to this many characters in its messages.
const MAX_VALUE_CHARS: usize = 100;

/// Checks `body` against the input shape of `operation` (e.g. `CreateMonitoringSchedule`).
///
/// Unknown members are ignored, as SageMaker does, so newer clients keep working. Every violation is
/// collected in [`FormatError::InvalidRequest`]; its message reports the count and the first ten.
pub fn validate_request(operation: &str, body: &Value) -> Result<(), FormatError> {
    let model = model();
    let Some(op) = model.operations.get(operation) else {
        return Err(FormatError::UnknownOperation(operation.to_string()));
    };
    if !body.is_object() {
        return Err(FormatError::InvalidRequest {
            errors: vec!["Request body must be a JSON object".to_string()],
        });
    }
    let mut validator = Validator {
        model,
        errors: Vec::new(),
    };
    validator.check(&op.input, body, "");
    if validator.errors.is_empty() {
        Ok(())
    } else {
        Err(FormatError::InvalidRequest {
            errors: validator.errors,
        })
    }
}

struct Validator {
    model: &'static Model,
    errors: Vec<String>,
}

impl Validator {
    fn fail(&mut self, value: &Value, path: &str, constraint: &str) {
        let shown = match value {
            Value::Null => "null".to_string(),
            other => format!("'{}'", truncate(&render(other))),
        };
        self.errors.push(format!(
            "Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn check(&mut self, shape_name: &str, value: &Value, path: &str) {
        let shape = &self.model.shapes[shape_name];
        match (shape, value) {
            (Shape::String { .. }, Value::String(text)) => {
                for constraint in string_violations(shape, text) {
                    self.fail(value, path, &constraint);
                }
            }
            (Shape::Boolean, Value::Bool(_)) => {}
            (Shape::Integer { min, max }, Value::Number(n)) => {
                let int = n.as_i64().filter(|v| i32::try_from(*v).is_ok());
                self.check_integer(int, *min, *max, shape, value, path);
            }
            (Shape::Long { min, max }, Value::Number(n)) => {
                self.check_integer(n.as_i64(), *min, *max, shape, value, path)
            }
            (Shape::Double | Shape::Float, Value::Number(_)) => {}
            // awsJson sends the non-finite doubles as strings.
            (Shape::Double | Shape::Float, Value::String(s))
                if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {}
            (Shape::Timestamp, Value::Number(_)) => {}
            (Shape::Timestamp, Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {}
            (Shape::List { member, min, max }, Value::Array(items)) => {
                self.check_length(items.len(), *min, *max, value, path);
                for (index, item) in items.iter().enumerate() {
                    let item_path = format!("{path}.{}.member", index + 1);
                    match item {
                        Value::Null => self.fail(item, &item_path, "Member must not be null"),
                        item => self.check(&member.shape, item, &item_path),
                    }
                }
            }
            (
                Shape::Map {
                    key,
                    value: value_ref,
                    min,
                    max,
                },
                Value::Object(entries),
            ) => {
                self.check_length(entries.len(), *min, *max, value, path);
                for (name, entry) in entries {
                    let key_violations = string_violations(&self.model.shapes[&key.shape], name);
                    if !key_violations.is_empty() {
                        let constraint = format!("Map keys must satisfy constraint: [{}]", key_violations.join(", "));
                        self.fail(&Value::String(name.clone()), path, &constraint);
                    }
                    let entry_path = format!("{path}.{name}");
                    match entry {
                        Value::Null => self.fail(entry, &entry_path, "Member must not be null"),
                        entry => self.check(&value_ref.shape, entry, &entry_path),
                    }
                }
            }
            (Shape::Structure { members, required }, Value::Object(fields)) => {
                for (name, member) in members {
                    let member_path = join(path, name);
                    // Null is how clients leave an optional member out.
                    match fields.get(name).filter(|v| !v.is_null()) {
                        Some(field) => self.check(&member.shape, field, &member_path),
                        None if required.contains(name) => {
                            self.fail(&Value::Null, &member_path, "Member must not be null")
                        }
                        None => {}
                    }
                }
            }
            (shape, value) => self.fail(value, path, &format!("Member must be of type {}", shape.type_name())),
        }
    }

    /// `number` is `None` when the JSON number is fractional or out of the type's range.
    fn check_integer(
        &mut self,
        number: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
        shape: &Shape,
        value: &Value,
        path: &str,
    ) {
        let Some(number) = number else {
            return self.fail(value, path, &format!("Member must be of type {}", shape.type_name()));
        };
        if let Some(min) = min.filter(|&min| number < min) {
            self.fail(
                value,
                path,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|&max| number > max) {
            self.fail(
                value,
                path,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    fn check_length(&mut self, length: usize, min: Option<u64>, max: Option<u64>, value: &Value, path: &str) {
        for constraint in length_violations(length, min, max) {
            self.fail(value, path, &constraint);
        }
    }
}

/// The constraints a string breaks, in AWS's order: length, pattern, enum.
fn string_violations(shape: &Shape, text: &str) -> Vec<String> {
    let Shape::String {
        min,
        max,
        pattern,
        values,
    } = shape
    else {
        return vec![format!("Member must be of type {}", shape.type_name())];
    };
    let mut violations = length_violations(text.chars().count(), *min, *max);
    if let Some(pattern) = pattern.as_ref().filter(|p| !p.regex.is_match(text)) {
        violations.push(format!(
            "Member must satisfy regular expression pattern: {}",
            pattern.source
        ));
    }
    if let Some(values) = values.as_ref().filter(|values| !values.iter().any(|v| v == text)) {
        violations.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
    }
    violations
}

fn length_violations(length: usize, min: Option<u64>, max: Option<u64>) -> Vec<String> {
    let length = length as u64;
    let mut violations = Vec::new();
    if let Some(min) = min.filter(|&min| length < min) {
        violations.push(format!("Member must have length greater than or equal to {min}"));
    }
    if let Some(max) = max.filter(|&max| length > max) {
        violations.push(format!("Member must have length less than or equal to {max}"));
    }
    violations
}

/// AWS paths use the member names with a lower-case first letter: `monitoringScheduleConfig.roleArn`.
fn join(path: &str, member: &str) -> String {
    let mut chars = member.chars();
    let first = chars
        .next()
        .map(|c| c.to_lowercase().collect::<String>())
        .unwrap_or_default();
    let member = first + chars.as_str();
    if path.is_empty() {
        member
    } else {
        format!("{path}.{member}")
    }
}

/// Values as the Java service prints them: strings bare, lists `[a, b]`, maps `{k=v}`.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_VALUE_CHARS).collect()
}
