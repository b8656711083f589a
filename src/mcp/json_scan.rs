//! Reads one field out of a JSON document without parsing (or allocating) the rest.
//!
//! Logfire and Traceloop carry the tool name and `isError` only inside JSON attributes
//! that hold whole requests and results (arguments included, possibly megabytes). This
//! scanner walks the text once, skipping every value it does not need without copying
//! it, stops at the field it wants, and gives up past [`MAX_SCAN_BYTES`] or on malformed
//! input. It never recurses (nesting depth cannot overflow the stack) and never panics.

use std::borrow::Cow;

/// Bytes of a JSON attribute the scanner will walk before giving up.
pub const MAX_SCAN_BYTES: usize = 1 << 20;

/// A value found at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A string, unescaped only if it had escapes.
    Str(Cow<'a, str>),
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// `null`.
    Null,
    /// An object or array (not read).
    Container,
}

impl<'a> Scalar<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The value at `path` (object keys from the top), if `json` has one there.
///
/// ```
/// use mcpcol::mcp::json_scan::{get, Scalar};
/// let request = r#"{"method":"tools/call","params":{"meta":{"x":[1,{"y":2}]},"name":"add"}}"#;
/// assert_eq!(get(request, &["params", "name"]).unwrap().as_str(), Some("add"));
/// assert_eq!(get(r#"{"isError":true}"#, &["isError"]), Some(Scalar::Bool(true)));
/// ```
pub fn get<'a>(json: &'a str, path: &[&str]) -> Option<Scalar<'a>> {
    let mut scanner = Scanner {
        text: json,
        bytes: json.as_bytes(),
        pos: 0,
        limit: json.len().min(MAX_SCAN_BYTES),
    };
    for (depth, key) in path.iter().enumerate() {
        scanner.whitespace();
        scanner.eat(b'{')?;
        loop {
            scanner.whitespace();
            if scanner.peek()? == b'}' {
                return None;
            }
            let name = scanner.string()?;
            scanner.whitespace();
            scanner.eat(b':')?;
            scanner.whitespace();
            if name == *key {
                if depth + 1 == path.len() {
                    return scanner.scalar();
                }
                break;
            }
            scanner.skip_value()?;
            scanner.whitespace();
            match scanner.peek()? {
                b',' => scanner.pos += 1,
                _ => return None,
            }
        }
    }
    None
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    limit: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        if self.pos >= self.limit {
            return None;
        }
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A string at the cursor, borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 2;
                }
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos)?;
        self.pos += 1;
        if escaped {
            unescape(raw).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(raw))
        }
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Str),
            b'{' | b'[' => Some(Scalar::Container),
            b't' => self.literal("true").map(|_| Scalar::Bool(true)),
            b'f' => self.literal("false").map(|_| Scalar::Bool(false)),
            b'n' => self.literal("null").map(|_| Scalar::Null),
            _ => {
                let start = self.pos;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                (self.pos > start).then(|| Scalar::Number(&self.text[start..self.pos]))
            }
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.pos + word.len();
        (end <= self.limit && self.bytes.get(self.pos..end)? == word.as_bytes()).then(|| {
            self.pos = end;
        })
    }

    /// Skips one value of any kind; containers by counting brackets outside strings.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => self.scalar().map(|_| ()),
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
    }
}

/// Decodes JSON string escapes, including `\uXXXX` surrogate pairs.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex = |chars: &mut std::str::Chars| -> Option<u32> {
                    let s: String = chars.take(4).collect();
                    (s.len() == 4).then_some(())?;
                    u32::from_str_radix(&s, 16).ok()
                };
                let first = hex(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let second = hex(&mut chars)?;
                    0x10000 + ((first - 0xD800) << 10) + second.checked_sub(0xDC00)?
                } else {
                    first
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields_in_any_order() {
        let request = r#"{"method":"tools/call","params":{"task":null,"meta":{"progressToken":null,"traceparent":"00-ab"},"name":"fail","arguments":{"reason":"b}o\"o{m","n":[1,[2,{"name":"x"}]]}}}"#;
        assert_eq!(
            get(request, &["method"]).unwrap().as_str(),
            Some("tools/call")
        );
        assert_eq!(
            get(request, &["params", "name"]).unwrap().as_str(),
            Some("fail")
        );
        assert_eq!(get(request, &["params", "task"]), Some(Scalar::Null));
        assert_eq!(
            get(request, &["params", "arguments"]),
            Some(Scalar::Container)
        );
        assert_eq!(get(request, &["params", "missing"]), None);
        assert_eq!(get(request, &["nope", "name"]), None);
    }

    #[test]
    fn the_flag_after_a_large_result_is_found() {
        let big = "x".repeat(500_000);
        let response = format!(
            r#"{{"meta":null,"content":[{{"type":"text","text":"{big}"}}],"structuredContent":null,"isError":true}}"#
        );
        assert_eq!(get(&response, &["isError"]), Some(Scalar::Bool(true)));
        assert_eq!(
            get(r#"{"isError": false}"#, &["isError"]),
            Some(Scalar::Bool(false))
        );
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(
            get(r#"{"name":"a\"b\\c\u00e9\ud83d\ude00"}"#, &["name"])
                .unwrap()
                .as_str(),
            Some("a\"b\\cé😀")
        );
        assert_eq!(
            get(r#"{"n\u0061me":"x"}"#, &["name"]).unwrap().as_str(),
            Some("x")
        );
        assert_eq!(
            get(r#"{"n":-1.5e3}"#, &["n"]),
            Some(Scalar::Number("-1.5e3"))
        );
    }

    #[test]
    fn malformed_or_endless_input_gives_none() {
        for bad in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"unterminated",
            "{\"a\":[[[[",
            "[1,2]",
            "{\"a\":1 \"name\":\"x\"}",
            "{\"name\":\"\\ud800\"}",
            "{\"name\":\"\\",
            "{\"a\":tru}",
        ] {
            assert_eq!(get(bad, &["name"]), None, "{bad:?}");
        }
        let deep = format!(
            "{{\"a\":{}{}, \"name\":\"x\"}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(get(&deep, &["name"]).unwrap().as_str(), Some("x"));
    }

    #[test]
    fn stops_at_the_scan_limit() {
        let filler = "y".repeat(MAX_SCAN_BYTES);
        let json = format!(r#"{{"pad":"{filler}","name":"late"}}"#);
        assert_eq!(get(&json, &["name"]), None);
    }
}
