//! Pretty-printing of stored bodies for the event detail: JSON and NDJSON re-indented token by
//! token, without parsing into values, so keys keep their order, numbers their exact text, and a
//! body cut off at the preview limit (or broken) is still shown as far as it goes.

/// The text re-indented by two spaces per level; values that follow each other at the top level
/// (NDJSON lines) are separated by a blank line. Whitespace inside strings is kept as sent.
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    // An opening bracket waits here until the next token shows whether its container is empty.
    let mut just_opened = false;
    // A top-level container or string just ended: another value after it is the next NDJSON line.
    let mut value_done = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                value_done = depth == 0;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        let closing = matches!(c, '}' | ']');
        if just_opened {
            just_opened = false;
            if !closing {
                newline(&mut out, depth);
            }
        } else if closing {
            newline(&mut out, depth.saturating_sub(1));
        } else if depth == 0 && value_done {
            out.push_str("\n\n");
        }
        value_done = false;
        match c {
            '{' | '[' => {
                out.push(c);
                depth += 1;
                just_opened = true;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.push(c);
                value_done = depth == 0;
            }
            ',' => {
                out.push(',');
                if depth > 0 {
                    newline(&mut out, depth);
                }
            }
            ':' => out.push_str(": "),
            '"' => {
                out.push('"');
                in_string = true;
            }
            // A number, true, false or null, character by character.
            _ => out.push(c),
        }
    }
    out
}

/// The body as shown: JSON and NDJSON re-indented, anything else (CSV) as it came.
pub fn body(format: &str, text: &str) -> String {
    match format {
        "json" | "ndjson" => json(text),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_of_records_is_indented_keeping_order_and_number_text() {
        let text = r#"[{"url":"https://x/p/1","likes":1.50,"z":null,"a":[]},{"post_id":"2","tags":["a","b"]}]"#;
        assert_eq!(
            json(text),
            r#"[
  {
    "url": "https://x/p/1",
    "likes": 1.50,
    "z": null,
    "a": []
  },
  {
    "post_id": "2",
    "tags": [
      "a",
      "b"
    ]
  }
]"#
        );
    }

    #[test]
    fn strings_keep_their_spaces_escapes_and_brackets() {
        let text = r#"{"t":"a, b: {c} [d] \"q\" \\","e":"<script>x</script>"}"#;
        assert_eq!(
            json(text),
            "{\n  \"t\": \"a, b: {c} [d] \\\"q\\\" \\\\\",\n  \"e\": \"<script>x</script>\"\n}"
        );
    }

    #[test]
    fn ndjson_records_are_separated_by_a_blank_line() {
        let text = "{\"a\":1}\n{\"b\":2}\n";
        assert_eq!(json(text), "{\n  \"a\": 1\n}\n\n{\n  \"b\": 2\n}");
    }

    #[test]
    fn a_body_cut_off_is_shown_as_far_as_it_goes() {
        assert_eq!(json(r#"[{"a":"unfinish"#), "[\n  {\n    \"a\": \"unfinish");
        assert_eq!(json(""), "");
    }

    #[test]
    fn csv_is_shown_as_it_came() {
        let text = "post_id,url\n1,https://x\n";
        assert_eq!(body("csv", text), text);
        assert_eq!(body("json", "[1,2]"), "[\n  1,\n  2\n]");
    }
}
