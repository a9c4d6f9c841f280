//! Pretty-printing of stored bodies for the event detail: JSON and NDJSON re-indented token by
//! token, without parsing into values, so keys keep their order, numbers their exact text, and a
//! body cut off at the preview limit (or broken) is still shown as far as it goes.

/// Levels indented at most: deeper levels are indented like this one. Without a cap every line's
/// indentation grows with the nesting, and a 1 MiB body nested ~100 deep became ~100 MB of text.
pub const MAX_INDENT_DEPTH: usize = 32;
/// The most text the pretty view produces; the rest is cut with [`TRUNCATED`].
pub const MAX_OUTPUT_BYTES: usize = 4 << 20;
/// What ends a pretty view that reached [`MAX_OUTPUT_BYTES`].
pub const TRUNCATED: &str = "\n… truncated: the pretty view stops at 4 MiB";

/// The text re-indented by two spaces per level (up to [`MAX_INDENT_DEPTH`] levels); values that
/// follow each other at the top level (NDJSON lines) are separated by a blank line. Whitespace
/// inside strings is kept as sent. At most [`MAX_OUTPUT_BYTES`], then [`TRUNCATED`].
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity((text.len() + text.len() / 4).min(MAX_OUTPUT_BYTES));
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    // An opening bracket waits here until the next token shows whether its container is empty.
    let mut just_opened = false;
    // A top-level container or string just ended: another value after it is the next NDJSON line.
    let mut value_done = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth.min(MAX_INDENT_DEPTH) {
            out.push_str("  ");
        }
    };
    for c in text.chars() {
        if out.len() >= MAX_OUTPUT_BYTES {
            let mut end = MAX_OUTPUT_BYTES;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push_str(TRUNCATED);
            break;
        }
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
    fn deep_nesting_is_indented_at_most_so_far_and_the_output_is_capped() {
        // 1 MiB of records nested 100 deep: uncapped, every line carried up to 200 spaces.
        let record = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let text = vec![record; (1 << 20) / 201].join(",");
        let pretty = json(&text);
        assert!(
            pretty.len() <= MAX_OUTPUT_BYTES + TRUNCATED.len(),
            "{}",
            pretty.len()
        );
        assert!(pretty.ends_with(TRUNCATED));
        let widest = pretty.lines().map(|l| l.len() - l.trim_start().len()).max();
        assert_eq!(widest, Some(2 * MAX_INDENT_DEPTH));
        // A small deep value is shown whole, without the note.
        let small = json(&format!("{}1{}", "[".repeat(40), "]".repeat(40)));
        assert!(!small.contains("truncated") && small.ends_with(']'));
    }

    #[test]
    fn csv_is_shown_as_it_came() {
        let text = "post_id,url\n1,https://x\n";
        assert_eq!(body("csv", text), text);
        assert_eq!(body("json", "[1,2]"), "[\n  1,\n  2\n]");
    }
}
