//! JSON text parsed into a document (`serde_json::Value`), exactly as
//! `serde_json::from_str` parses it, but each object's members gathered on
//! one shared stack before its map is built at its size: serde_json grows
//! each map a member at a time (its insertion-ordered map reallocating and
//! re-indexing at 4, 8, 16, 32 members), and a CloudTrail record is objects
//! of tens of members, parsed for every record some rule may match.

use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parse JSON text into a document: the value `serde_json::from_str` gives
/// (a repeated key keeps its first place and its last value), or its error.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    let mut stacks = Stacks::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node(&mut stacks).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The members and elements of the objects and arrays being read, the
/// innermost last.
#[derive(Default)]
struct Stacks {
    members: Vec<(String, Value)>,
    elements: Vec<Value>,
}

/// One value, read with the stacks.
struct Node<'s>(&'s mut Stacks);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: Error>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let start = self.0.elements.len();
        while let Some(element) = seq.next_element_seed(Node(&mut *self.0))? {
            self.0.elements.push(element);
        }
        Ok(Value::Array(self.0.elements.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.0.members.len();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Node(&mut *self.0))?;
            self.0.members.push((key, value));
        }
        // Built at its size; a repeated key is inserted again, as serde_json
        // does (first place, last value).
        Ok(Value::Object(self.0.members.drain(start..).collect::<Map<String, Value>>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same document as serde_json's, member order and repeated keys
    /// included, and the same refusals.
    #[test]
    fn it_parses_what_serde_json_parses() {
        for text in [
            r#"{"b":1,"a":[1,-2,3.5,1e300,"x",null,true,{"z":{},"y":[]}],"c":{"d":{"e":"\u00e9\"\\"}}}"#,
            r#"{"k":1,"j":2,"k":3}"#,
            r#"[[],[[]],{},{"a":{"a":{"a":1}}}]"#,
            r#""text""#,
            "18446744073709551615",
            "-9223372036854775808",
            "  {\"a\" : 1 }  ",
        ] {
            let ours = parse(text).expect(text);
            let theirs: Value = serde_json::from_str(text).expect(text);
            assert_eq!(ours, theirs, "{text}");
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}: member order");
        }
        for bad in [r#"{"a":1,}"#, "[1,2", r#"{"a" 1}"#, "{} {}", "", r#""\ud800""#, "nul", "1e400"] {
            let ours = parse(bad).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Value>(bad).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{bad:?}");
            assert!(ours.is_err(), "{bad:?}");
        }
        // serde_json's nesting limit holds on this path too.
        for deep in ["[".repeat(200) + &"]".repeat(200), "{\"a\":".repeat(200) + "1" + &"}".repeat(200)] {
            let ours = parse(&deep).map_err(|e| e.to_string());
            assert_eq!(ours, serde_json::from_str::<Value>(&deep).map_err(|e| e.to_string()));
            assert!(ours.as_ref().is_err_and(|e| e.contains("recursion limit")), "{ours:?}");
        }
    }
}
