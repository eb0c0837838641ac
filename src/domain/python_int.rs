//! Integers as Python has them: Zulip reads JSON integers of any size and computes with them,
//! so a value past 64 bits is an answer (or Zulip's 500), not a parse error.

use serde_json::Value;

/// The whitespace JSON allows around a value (RFC 8259), which Python's `json` skips.
pub(crate) const JSON_WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// An integer as Python reads it from JSON: of any size. Kept as its decimal text, and as a
/// number when it fits an `i128`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyInt {
    text: String,
    value: Option<i128>,
}

impl PyInt {
    /// `text` as a JSON integer (no fraction, no exponent), surrounding whitespace allowed.
    pub fn from_json(text: &str) -> Option<Self> {
        let text = text.trim_matches(JSON_WHITESPACE);
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let is_int = !unsigned.is_empty()
            && unsigned.bytes().all(|b| b.is_ascii_digit())
            && (unsigned == "0" || !unsigned.starts_with('0'));
        if !is_int {
            return None;
        }
        // Python's int("-0") is 0.
        let text = if unsigned == "0" { "0" } else { text };
        Some(Self {
            text: text.to_owned(),
            value: text.parse().ok(),
        })
    }

    /// The integer, when it fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.value.and_then(|value| i64::try_from(value).ok())
    }

    /// The integer, or the nearest `i64` when it is beyond that range.
    pub fn saturating_i64(&self) -> i64 {
        match (self.as_i64(), self.text.starts_with('-')) {
            (Some(value), _) => value,
            (None, true) => i64::MIN,
            (None, false) => i64::MAX,
        }
    }

    /// The integer as Zulip's JSON writer (orjson) writes it, or `None` where orjson refuses
    /// it (outside -2^63 to 2^64 - 1), which makes Zulip answer 500.
    pub fn to_json(&self) -> Option<Value> {
        let value = self.value?;
        if let Ok(small) = i64::try_from(value) {
            return Some(Value::from(small));
        }
        u64::try_from(value).ok().map(Value::from)
    }

    /// Its decimal text, as Python's `str()` writes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_integers_are_python_integers_of_any_size() {
        let big = PyInt::from_json(" 9223372036854775808 ").unwrap();
        assert_eq!(big.as_i64(), None);
        assert_eq!(big.saturating_i64(), i64::MAX);
        assert_eq!(
            big.to_json(),
            Some(Value::from(9_223_372_036_854_775_808_u64))
        );
        let huge = PyInt::from_json("-123456789012345678901234567890123456789012").unwrap();
        assert_eq!(huge.saturating_i64(), i64::MIN);
        assert_eq!(huge.to_json(), None);
        assert_eq!(PyInt::from_json("-0").unwrap().as_str(), "0");
        for not_int in ["1.0", "1e3", "01", "+1", "", "-", "null", "true", "\"5\""] {
            assert_eq!(PyInt::from_json(not_int), None, "{not_int}");
        }
    }
}
