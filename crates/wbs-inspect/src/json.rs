//! Pretty JSON with a stable byte form.
//!
//! Re-opening a bundle must produce byte-identical files, or the tool would
//! refuse its own earlier output. serde_json's map order depends on a cargo
//! feature that another crate of a workspace build can switch on, so object
//! keys are sorted here explicitly. Values are kept whole, so a field a newer
//! client adds to a report is still in the evidence.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// `value` as pretty JSON with sorted keys and a final newline.
pub fn pretty_sorted(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&Sorted(value)).expect("JSON values serialize");
    out.push(b'\n');
    out
}

/// Any serializable value, through [`pretty_sorted`].
pub fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("tool types serialize");
    pretty_sorted(&value)
}

struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"z":1,"y":2}],"c":null}}"#).unwrap();
        let text = String::from_utf8(pretty_sorted(&v)).unwrap();
        let compact: String = text.split_whitespace().collect();
        assert_eq!(compact, r#"{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#);
        assert!(text.ends_with("}\n"));
    }
}
