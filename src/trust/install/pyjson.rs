//! JSON written the way the vmaf fork writes its model tree: Python's
//! `json.dumps(value, indent=2, sort_keys=True) + "\n"` — keys sorted by code point, two-space
//! indent, `": "` and `,` separators, every character outside printable ASCII as a lower-case
//! `\uXXXX` escape (UTF-16 surrogate pairs above U+FFFF), floats as Python's `repr`.
//!
//! Writing a parsed file again with [`render`] gives back its bytes exactly when the file was
//! written this way, which is how `install` proves the registry rows it does not own unchanged.

use serde_json::{Number, Value};
use std::fmt::Write;

/// `value` as Python's `json.dumps(value, indent=2, sort_keys=True) + "\n"`.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, &map[key], level + 1);
            }
            indent(out, level);
            out.push('}');
        }
    }
}

/// A string with `ensure_ascii=True`'s escapes.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}").expect("writing to a String");
                }
            }
        }
    }
    out.push('"');
}

/// An integer as itself; a float as Python's `repr`.
fn number(n: &Number) -> String {
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u.to_string(),
        (None, Some(i), _) => i.to_string(),
        (None, None, Some(f)) => float_repr(f),
        (None, None, None) => n.to_string(),
    }
}

/// Python's `repr(float)`: the shortest digits that read back as the same double (as Rust's
/// own formatting finds them), written positionally when the decimal exponent is in −4..16
/// (always with a fractional part, `1.0`), else as `d.ddde±XX`.
pub fn float_repr(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_python_writes_them() {
        // Each pair checked against CPython 3.11's repr().
        for (f, python) in [
            (0.01, "0.01"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
            (-0.19678804078671105, "-0.19678804078671105"),
            (0.9488429659574469, "0.9488429659574469"),
            (1.959963984540054, "1.959963984540054"),
            (17.0, "17.0"),
            (1.5e-07, "1.5e-07"),
            (1.2345e20, "1.2345e+20"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-0.0, "-0.0"),
            (0.5, "0.5"),
        ] {
            assert_eq!(float_repr(f), python, "{f:?}");
        }
    }

    #[test]
    fn strings_keys_and_layout_follow_json_dumps() {
        let value: Value = serde_json::from_str(
            r#"{"b": [1, 2.5, {}], "a": "x\u2014y\u00e9\"\\\n\t\u0001\u007f😀", "c": [], "d": null, "e": true}"#,
        )
        .unwrap();
        assert_eq!(
            render(&value),
            "{\n  \"a\": \"x\\u2014y\\u00e9\\\"\\\\\\n\\t\\u0001\\u007f\\ud83d\\ude00\",\n  \"b\": [\n    1,\n    2.5,\n    {}\n  ],\n  \"c\": [],\n  \"d\": null,\n  \"e\": true\n}\n"
        );
    }
}
