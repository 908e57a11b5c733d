//! CloudFormation intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`,
//! `Fn::If`, `AWS::NoValue`) and condition references, as JSON values.

use serde_json::{json, Value};

pub(crate) fn r(name: &str) -> Value {
    json!({ "Ref": name })
}
pub(crate) fn ga(resource: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attr] })
}
pub(crate) fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}
pub(crate) fn iff(condition: &str, then: Value, otherwise: Value) -> Value {
    json!({ "Fn::If": [condition, then, otherwise] })
}
pub(crate) fn no_value() -> Value {
    r("AWS::NoValue")
}
pub(crate) fn cond(name: &str) -> Value {
    json!({ "Condition": name })
}
