use serde_json::Value;

use super::*;

/// Splits `body` fed in pieces of `piece` bytes.
fn split(body: &[u8], piece: usize) -> Result<(Format, Vec<Record>), PayloadError> {
    split_declared(body, piece, false)
}

fn split_declared(
    body: &[u8],
    piece: usize,
    declared_csv: bool,
) -> Result<(Format, Vec<Record>), PayloadError> {
    let mut splitter = RecordSplitter::new(None, Mode::Extract, declared_csv);
    let mut records = Vec::new();
    for chunk in body.chunks(piece.max(1)) {
        splitter.feed(chunk, &mut |r| records.push(r))?;
    }
    let format = splitter.finish(&mut |r| records.push(r))?;
    Ok((format, records))
}

fn classify(value: Value, index: u64, default_platform: Option<&str>) -> Record {
    read_record(
        &value.to_string(),
        index,
        default_platform,
        Mode::Extract,
        None,
    )
    .unwrap()
}

fn post(id: &str) -> String {
    format!(r#"{{"post_id":"{id}","url":"https://www.instagram.com/p/{id}/","likes":3}}"#)
}

#[test]
fn arrays_split_identically_whatever_the_piece_size() {
    let body = format!(
        "[ {}, {} ,\n{{\"url\":\"https://www.tiktok.com/@a/video/1\",\"post_id\":\"t1\",\"description\":\"brackets ] and }} and \\\" in text\"}} ]\n",
        post("a"),
        post("b")
    );
    let (format, whole) = split(body.as_bytes(), usize::MAX).unwrap();
    assert_eq!(format, Format::JsonArray);
    assert_eq!(whole.len(), 3);
    for piece in [1, 2, 3, 7, 64] {
        assert_eq!(
            split(body.as_bytes(), piece).unwrap().1,
            whole,
            "piece {piece}"
        );
    }
    let Record::Post(p) = &whole[2] else { panic!() };
    assert_eq!(p.platform, "tiktok");
    assert_eq!(p.post_id, "t1");
}

#[test]
fn empty_bodies_and_empty_arrays_are_valid() {
    assert_eq!(split(b"", 8).unwrap(), (Format::Empty, vec![]));
    assert_eq!(split(b" \n ", 8).unwrap(), (Format::Empty, vec![]));
    assert_eq!(split(b"[]", 8).unwrap(), (Format::JsonArray, vec![]));
    assert_eq!(
        split(b" [ \n ] \n", 1).unwrap(),
        (Format::JsonArray, vec![])
    );
}

#[test]
fn broken_arrays_reject_the_whole_delivery() {
    let truncated = format!("[{},{}", post("a"), &post("b")[..20]);
    assert_eq!(split(truncated.as_bytes(), 5), Err(PayloadError::Truncated));
    assert_eq!(split(b"[{\"a\":1}] x", 4), Err(PayloadError::TrailingData));
    assert!(matches!(
        split(b"[{\"a\":1},,{}]", 4),
        Err(PayloadError::InvalidJson(_))
    ));
    assert!(matches!(
        split(b"[{\"a\":1},]", 4),
        Err(PayloadError::InvalidJson(_))
    ));
    assert!(matches!(
        split(b"[{\"a\":}]", 4),
        Err(PayloadError::InvalidJson(_))
    ));
    assert!(matches!(
        split(b"[{\"a\":1}}]", 4),
        Err(PayloadError::InvalidJson(_))
    ));
    let latin1 = b"[{\"post_id\":\"1\",\"url\":\"https://instagram.com/p/1\",\"t\":\"caf\xe9\"}]";
    assert!(matches!(
        split(latin1, 4),
        Err(PayloadError::InvalidJson(_))
    ));
}

#[test]
fn declared_csv_is_csv_unless_the_body_is_json() {
    let csv = b"\xef\xbb\xbfpost_id,url,likes\n7,https://www.instagram.com/p/7/,3\n";
    let (format, records) = split_declared(csv, 3, true).unwrap();
    assert_eq!(format, Format::Csv);
    let [Record::Post(stored)] = records.as_slice() else {
        panic!("{records:?}")
    };
    assert_eq!((stored.post_id.as_str(), stored.likes), ("7", Some(3)));
    assert_eq!(stored.platform, "instagram");
    // Mislabelled JSON is still read as JSON.
    let array = format!("[{}]", post("1"));
    assert_eq!(
        split_declared(array.as_bytes(), 2, true).unwrap().0,
        Format::JsonArray
    );
    let lines = format!("{}\n{}\n", post("1"), post("2"));
    assert_eq!(
        split_declared(lines.as_bytes(), 2, true).unwrap().0,
        Format::Ndjson
    );
    // Undeclared, a CSV body is not guessed: its lines are malformed NDJSON.
    let (format, records) = split_declared(csv, 3, false).unwrap();
    assert_eq!(format, Format::Ndjson);
    assert!(
        records
            .iter()
            .all(|r| matches!(r, Record::Malformed { .. }))
    );
    assert!(matches!(
        split_declared(b"name,age\nann,3\n", 4, true),
        Err(PayloadError::InvalidCsv(_))
    ));
}

#[test]
fn ndjson_lines_stand_alone() {
    let body = format!(
        "{}\r\n\n{{not json}}\n{}\n[1,2]\n\"text\"\n{}",
        post("a"),
        post("b"),
        &post("c")[..12]
    );
    let (format, records) = split(body.as_bytes(), 3).unwrap();
    assert_eq!(format, Format::Ndjson);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| match r {
            Record::Post(_) | Record::CountedPost { .. } => "post",
            Record::InputError(_) | Record::CountedInputError => "input_error",
            Record::Malformed { .. } => "malformed",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "post",
            "malformed",
            "post",
            "malformed",
            "malformed",
            "malformed"
        ]
    );
    let Record::Malformed { index, reason } = &records[3] else {
        panic!()
    };
    assert_eq!(*index, 3);
    assert!(reason.contains("array"));
}

#[test]
fn a_giant_record_is_refused_not_buffered() {
    let mut body = b"[{\"post_id\":\"x\",\"pad\":\"".to_vec();
    body.resize(MAX_RECORD_BYTES + 10, b'a');
    assert_eq!(split(&body, 1 << 20), Err(PayloadError::RecordTooLarge));
}

#[test]
fn classification() {
    let warning = serde_json::json!({
        "timestamp": "2025-06-16T03:20:51.000Z",
        "input": {"url": "https://www.instagram.com/gone/"},
        "warning": "Page not found",
        "warning_code": "dead_page"
    });
    let Record::InputError(e) = classify(warning, 0, None) else {
        panic!()
    };
    assert_eq!((e.kind, e.code.as_deref()), ("warning", Some("dead_page")));
    assert_eq!(
        e.input_url.as_deref(),
        Some("https://www.instagram.com/gone/")
    );

    let error =
        serde_json::json!({"error": "Crawl failed", "error_code": "crawl_failed", "input": {}});
    assert!(matches!(
        classify(error, 0, None),
        Record::InputError(InputError { kind: "error", .. })
    ));

    let linkedin = serde_json::json!({
        "id": "7300000000000000001",
        "url": "https://www.linkedin.com/posts/x",
        "user_id": "someone",
        "date_posted": "2025-06-01T10:00:00.000Z",
        "num_likes": 12,
        "num_comments": 3
    });
    let Record::Post(p) = classify(linkedin, 0, None) else {
        panic!()
    };
    assert_eq!(p.platform, "linkedin");
    assert_eq!(p.post_id, "7300000000000000001");
    assert_eq!(p.author.as_deref(), Some("someone"));
    assert_eq!(p.likes, Some(12));
    assert_eq!(p.comments, Some(3));
    assert_eq!(p.posted_at_ms, Some(1_748_772_000_000));

    let no_url = serde_json::json!({"post_id": "1"});
    assert!(matches!(
        classify(no_url.clone(), 0, None),
        Record::Malformed { .. }
    ));
    let Record::Post(p) = classify(no_url, 0, Some("facebook")) else {
        panic!()
    };
    assert_eq!(p.platform, "facebook");
    assert!(matches!(
        classify(serde_json::json!({"test": true}), 0, None),
        Record::Malformed { .. }
    ));
    assert!(matches!(
        classify(serde_json::json!(null), 0, None),
        Record::Malformed { .. }
    ));
}

#[test]
fn a_record_is_stored_as_sent_and_read_through_escaped_keys() {
    let text = r#"{ "zeta": [1, {"deep": "x"}], "p\u006fst_id": "9", "url": "https://www.tiktok.com/@a/video/9", "likes": "12" }"#;
    let Record::Post(p) = read_record(text, 0, None, Mode::Extract, None).unwrap() else {
        panic!()
    };
    assert_eq!((p.post_id.as_str(), p.likes), ("9", Some(12)));
    assert_eq!(
        p.data, text,
        "the original text, key order and spacing kept"
    );
    assert!(read_record(r#"{"post_id": "1", "x": }"#, 0, None, Mode::Count, None).is_err());
    assert!(read_record(r#"{"post_id": "1"} {}"#, 0, None, Mode::Extract, None).is_err());
    let Record::Malformed { reason, .. } =
        read_record(" [1] ", 3, None, Mode::Extract, None).unwrap()
    else {
        panic!()
    };
    assert_eq!(reason, "record is a JSON array, not an object");
}

#[test]
fn invalid_utf8_anywhere_in_a_record_is_not_json() {
    let mut splitter = RecordSplitter::new(None, Mode::Extract, false);
    let mut records = Vec::new();
    let line =
        b"{\"post_id\":\"1\",\"url\":\"https://www.instagram.com/p/1/\",\"skipped\":\"caf\xe9\"}\n";
    splitter.feed(line, &mut |r| records.push(r)).unwrap();
    let Record::Malformed { reason, .. } = &records[0] else {
        panic!("{records:?}")
    };
    assert!(reason.contains("invalid UTF-8"), "{reason}");
}

#[test]
fn counting_mode_agrees_with_extraction() {
    let body = br#"[{"post_id":"1","url":"https://www.instagram.com/p/1/","likes":3},
        {"warning":"gone","warning_code":"dead_page","input":{"url":"x"}},
        {"id":7,"url":"https://www.linkedin.com/posts/7"},
        {"post_id":"2"}, 5, {"post_id":{"nested":true},"url":"https://www.tiktok.com/v"},
        {"post_id":"3","post_id":"4","url":"https://www.tiktok.com/v/3"}]"#;
    let run = |mode| {
        let mut splitter = RecordSplitter::new(None, mode, false);
        let mut out = Vec::new();
        splitter.feed(body, &mut |r| out.push(r)).unwrap();
        splitter.finish(&mut |r| out.push(r)).unwrap();
        out.into_iter()
            .map(|r| match r {
                Record::Post(p) => format!("post {}", p.platform),
                Record::CountedPost { platform } => format!("post {platform}"),
                Record::InputError(_) | Record::CountedInputError => "input error".into(),
                Record::Malformed { reason, .. } => format!("malformed: {reason}"),
            })
            .collect::<Vec<_>>()
    };
    let extracted = run(Mode::Extract);
    assert_eq!(extracted.len(), 7);
    assert_eq!(extracted, run(Mode::Count));
    let mut splitter = RecordSplitter::new(None, Mode::Count, false);
    assert!(splitter.feed(br#"[{"post_id": }]"#, &mut |_| {}).is_err());
}

#[test]
fn platforms_from_hosts() {
    assert_eq!(
        platform_of_url("https://www.instagram.com/p/x/"),
        Some("instagram")
    );
    assert_eq!(
        platform_of_url("https://m.facebook.com/story"),
        Some("facebook")
    );
    assert_eq!(
        platform_of_url("https://www.tiktok.com/@u/video/1"),
        Some("tiktok")
    );
    assert_eq!(platform_of_url("https://notinstagram.com/p/x"), None);
    assert_eq!(platform_of_url("not a url"), None);
}

#[test]
fn a_post_s_text_comes_from_its_platform_s_field() {
    assert_eq!(
        post_text(r#"{"description":"a","content":"b"}"#).as_deref(),
        Some("a")
    );
    assert_eq!(
        post_text(r#"{"description":"  ","content":"fb"}"#).as_deref(),
        Some("fb")
    );
    assert_eq!(
        post_text(r#"{"title":"head","post_text":"body"}"#).as_deref(),
        Some("body")
    );
    assert_eq!(post_text(r#"{"description":7}"#), None);
    assert_eq!(post_text("[1]"), None);
    assert_eq!(post_text("not json"), None);
    // Other values in a text field are skipped; nested ones do not confuse the reader.
    assert_eq!(
        post_text(r#"{"description":{"text":"no"},"caption":[1,{"a":"b"}],"content":"yes"}"#)
            .as_deref(),
        Some("yes")
    );
    assert_eq!(
        post_text(r#"{"x":{"description":"inner"},"title":"outer"}"#).as_deref(),
        Some("outer")
    );
    // A repeated key: read whole, the last one wins as in any JSON reader.
    assert_eq!(
        post_text(r#"{"description":"a","description":"b"}"#).as_deref(),
        Some("b")
    );
    assert_eq!(post_text(r#"["description"]"#), None);
    assert_eq!(
        post_text(r#"{"description":"escaped \"quote\" \u00e9"}"#).as_deref(),
        Some("escaped \"quote\" é")
    );
}

/// The field coverage a body's posts give, split in pieces of `piece` bytes.
fn coverage_of(
    body: &[u8],
    piece: usize,
    declared_csv: bool,
) -> Vec<crate::coverage::PlatformCoverage> {
    let mut splitter = RecordSplitter::new(None, Mode::Extract, declared_csv);
    splitter.count_coverage();
    for chunk in body.chunks(piece) {
        splitter.feed(chunk, &mut |_| {}).unwrap();
    }
    splitter.finish(&mut |_| {}).unwrap();
    splitter.coverage().unwrap()
}

#[test]
fn every_format_tallies_the_same_coverage_of_posts_only() {
    let json = format!(
        r#"[{}, {{"warning":"dead page","input":{{"url":"x"}}}}, {{"post_id":"b","url":"https://www.instagram.com/p/b/","likes":null,"tags":[]}}, 7]"#,
        post("a")
    );
    let ndjson = format!(
        "{}\n{{\"warning\":\"dead page\"}}\n{{\"post_id\":\"b\",\"url\":\"https://www.instagram.com/p/b/\",\"likes\":null,\"tags\":[]}}\nnot json\n",
        post("a")
    );
    for (body, piece) in [(json.as_bytes(), 5), (ndjson.as_bytes(), 3)] {
        let coverage = coverage_of(body, piece, false);
        assert_eq!(coverage.len(), 1);
        let instagram = &coverage[0];
        assert_eq!(
            (instagram.platform.as_str(), instagram.records),
            ("instagram", 2)
        );
        assert!(instagram.field("warning").is_none());
        let likes = instagram.field("likes").unwrap();
        assert_eq!((likes.seen, likes.filled, likes.types[1]), (2, 1, 1));
        let tags = instagram.field("tags").unwrap();
        assert_eq!((tags.seen, tags.filled), (1, 0));
    }
    // A CSV's cells are text: a number reads as a number; an empty cell is no field.
    let csv = b"post_id,url,likes\na,https://www.instagram.com/p/a/,3\nb,https://www.instagram.com/p/b/,\n";
    let coverage = coverage_of(csv, 4, true);
    let likes = coverage[0].field("likes").unwrap();
    assert_eq!((likes.seen, likes.filled, likes.types[1]), (1, 1, 1));
    // Counting mode (a body checked as it streams in) tallies nothing.
    let mut counting = RecordSplitter::new(None, Mode::Count, false);
    counting.count_coverage();
    assert!(counting.coverage().is_none());
}
