//! The collected posts over HTTP (`GET posts/`): every filter against what the test sent, paging
//! that neither skips nor repeats, each record as BrightData sent it, and the wrong inputs refused.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, SAMPLE_SEED, Shape, TestApp, json as read, sample, spawn_app};

const POSTS: &str = "/api/brightdata/webhook/posts/";

async fn get(app: &TestApp, query: &str) -> (u16, Value) {
    let answer = app
        .client
        .get(app.url(&format!("{POSTS}?{query}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    read(answer).await
}

async fn posts(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = get(app, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["posts"].as_array().unwrap().clone()
}

/// Sends `shape` as one delivery of `snapshot`.
async fn deliver(app: &TestApp, snapshot: &str, shape: Shape) {
    let answer = app
        .webhook()
        .header("snapshot-id", snapshot)
        .header("dca-filename", format!("{snapshot}_0.json"))
        .body(sample(shape))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn posts_are_listed_filtered_and_paged_with_their_records_as_sent() {
    let app = spawn_app().await;
    deliver(&app, "s_posts_ig", Shape::InstagramDeadPages).await;
    deliver(&app, "s_posts_li", Shape::LinkedinPosts).await;
    deliver(&app, "s_posts_tt", Shape::TiktokWithError).await;
    app.settle().await;
    let expected = Shape::InstagramDeadPages.posts()
        + Shape::LinkedinPosts.posts()
        + Shape::TiktokWithError.posts();

    // Everything, most recently stored first.
    let all = posts(&app, "").await;
    assert_eq!(all.len(), expected);
    let ids: Vec<i64> = all.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    // Each post links to the request that brought its delivery.
    for post in &all {
        let event = post["event_id"].as_i64().expect("an event");
        let (status, detail) = read(
            app.client
                .get(app.url(&format!("/api/brightdata/webhook/events/{event}/")))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            detail["event"]["delivery_id"], post["delivery_id"],
            "{detail}"
        );
    }

    // One snapshot: its posts, each record exactly as sent, its text read from the record.
    let linkedin = posts(&app, "snapshot=s_posts_li").await;
    assert_eq!(linkedin.len(), Shape::LinkedinPosts.posts());
    let sent_records = Shape::LinkedinPosts.records(SAMPLE_SEED);
    for post in &linkedin {
        assert_eq!(post["platform"], "linkedin");
        assert_eq!(post["snapshot_id"], "s_posts_li");
        let record: Value = serde_json::from_str(post["record"].as_str().unwrap()).unwrap();
        assert!(sent_records.contains(&record), "{record}");
        assert_eq!(post["text"], record["post_text"], "{post}");
    }
    assert_eq!(
        posts(&app, "platform=tiktok").await.len(),
        Shape::TiktokWithError.posts()
    );
    assert_eq!(posts(&app, "platform=myspace").await.len(), 0);

    // An author, a delivery, a text, a time range: each answer is exactly the matching posts.
    let author = all
        .iter()
        .find_map(|p| p["author"].as_str())
        .expect("some post has an author")
        .to_owned();
    let by_author = posts(&app, &format!("author={}", urlencode(&author))).await;
    assert!(!by_author.is_empty());
    assert_eq!(
        by_author.len(),
        all.iter()
            .filter(|p| p["author"] == author.as_str())
            .count()
    );
    let delivery = all[0]["delivery_id"].as_i64().unwrap();
    let of_delivery = posts(&app, &format!("delivery={delivery}")).await;
    assert_eq!(
        of_delivery.len(),
        all.iter().filter(|p| p["delivery_id"] == delivery).count()
    );
    let word = linkedin[0]["post_id"].as_str().unwrap().to_owned();
    let by_text = posts(&app, &format!("q={}", urlencode(&word))).await;
    assert!(by_text.iter().any(|p| p["post_id"] == word.as_str()));
    assert!(
        by_text
            .iter()
            .all(|p| p["record"].as_str().unwrap().contains(&word))
    );
    assert_eq!(
        posts(&app, "q=%25").await.len(),
        0,
        "a % is matched literally"
    );
    let mut times: Vec<i64> = all.iter().filter_map(|p| p["posted_ms"].as_i64()).collect();
    times.sort();
    let middle = times[times.len() / 2];
    let later = posts(&app, &format!("from={middle}")).await;
    let earlier = posts(&app, &format!("to={middle}")).await;
    assert_eq!(later.len(), times.iter().filter(|t| **t >= middle).count());
    assert_eq!(earlier.len(), times.iter().filter(|t| **t < middle).count());

    // Pages of 4: every post once, in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get(&app, &format!("limit=4&cursor={cursor}")).await;
        assert_eq!(status, 200, "{page}");
        let batch = page["posts"].as_array().unwrap();
        assert!(batch.len() <= 4);
        seen.extend(batch.iter().map(|p| p["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), expected);
    app.stop().await;
}

#[tokio::test]
async fn wrong_post_queries_are_refused_with_their_reason() {
    let app = spawn_app().await;
    for (query, code) in [
        ("cursor=abc", "invalid_cursor"),
        ("from=yesterday", "invalid_time"),
        ("to=2026-13-45", "invalid_time"),
        ("delivery=first", "invalid_delivery"),
    ] {
        let (status, body) = get(&app, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], code, "{query}: {body}");
    }
    let anonymous = app.client.get(app.url(POSTS)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let webhook_token = app
        .client
        .get(app.url(POSTS))
        .bearer_auth(crate::helpers::WEBHOOK_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        webhook_token.status(),
        401,
        "the webhook token reads nothing"
    );
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    app::types::url_encode(text)
}

fn export_request(app: &TestApp, query: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(&format!("/api/brightdata/webhook/export-posts/?{query}")))
        .bearer_auth(ADMIN_TOKEN)
}

async fn export(app: &TestApp, query: &str) -> reqwest::Response {
    export_request(app, query).send().await.unwrap()
}

/// A Parquet file's rows, each column by name as JSON: numbers and timestamps (Unix ms) as
/// numbers, text as strings, nulls as null. Checks the column types on the way.
pub fn parquet_rows(file: bytes::Bytes) -> Vec<serde_json::Map<String, Value>> {
    use arrow_array::{Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow_schema::{DataType, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        let mut part: Vec<serde_json::Map<String, Value>> =
            vec![Default::default(); batch.num_rows()];
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let value = |i: usize| -> Value {
                if column.is_null(i) {
                    return Value::Null;
                }
                match field.data_type() {
                    DataType::Int64 => {
                        let a = column.as_any().downcast_ref::<Int64Array>().unwrap();
                        a.value(i).into()
                    }
                    DataType::Utf8 => {
                        let a = column.as_any().downcast_ref::<StringArray>().unwrap();
                        a.value(i).into()
                    }
                    DataType::Timestamp(TimeUnit::Millisecond, Some(zone)) if &**zone == "UTC" => {
                        let a = column
                            .as_any()
                            .downcast_ref::<TimestampMillisecondArray>()
                            .unwrap();
                        a.value(i).into()
                    }
                    other => panic!("{}: unexpected type {other}", field.name()),
                }
            };
            for (i, row) in part.iter_mut().enumerate() {
                row.insert(field.name().clone(), value(i));
            }
        }
        rows.extend(part);
    }
    rows
}

#[tokio::test]
async fn exports_read_back_as_what_was_sent() {
    let app = spawn_app().await;
    deliver(&app, "s_export_ig", Shape::InstagramDeadPages).await;
    deliver(&app, "s_export_fb", Shape::FacebookSnapshotNdjson).await;
    // A hostile record: cells a spreadsheet would run, a pretty-printed array over several lines.
    let hostile = "[\n  {\n    \"url\": \"https://www.instagram.com/p/HOSTILE1/\",\n    \"post_id\": \"HOSTILE1\",\n    \"user_posted\": \"=HYPERLINK(\\\"http://x\\\")\",\n    \"description\": \"+1 and a \\\"quote\\\",\\nthen a line\",\n    \"likes\": 3\n  }\n]";
    let answer = app
        .webhook()
        .header("snapshot-id", "s_export_hostile")
        .body(hostile)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    app.settle().await;
    let listed = posts(&app, "limit=500").await;
    let total = Shape::InstagramDeadPages.posts() + Shape::FacebookSnapshotNdjson.posts() + 1;
    assert_eq!(listed.len(), total);

    // NDJSON: one record per line, each equal to what was sent, in the list's order.
    let answer = export(&app, "format=ndjson").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    let text = answer.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), total);
    for (line, post) in lines.iter().zip(&listed) {
        let stored: Value = serde_json::from_str(post["record"].as_str().unwrap()).unwrap();
        assert_eq!(line, &stored);
    }
    let mut sent: Vec<Value> = Shape::InstagramDeadPages
        .records(SAMPLE_SEED)
        .into_iter()
        .chain(Shape::FacebookSnapshotNdjson.records(SAMPLE_SEED))
        .collect();
    sent.extend(serde_json::from_str::<Vec<Value>>(hostile).unwrap());
    for line in &lines {
        assert!(sent.contains(line), "not sent: {line}");
    }

    // Filtered exports hold exactly the listing's posts, in its order, whichever way they read the
    // table (on SQLite a snapshot or a platform alone reads forwards, the others newest first).
    let author = listed
        .iter()
        .find_map(|p| p["author"].as_str())
        .expect("some post has an author");
    let platform = listed[0]["platform"].as_str().unwrap();
    for query in [
        format!("author={}", urlencode(author)),
        format!("q={}", urlencode("HOSTILE1")),
        format!("platform={platform}"),
        "snapshot=s_export_fb".to_owned(),
        format!("platform={platform}&snapshot=s_export_ig"),
    ] {
        let expected = posts(&app, &format!("{query}&limit=500")).await;
        let answer = export(&app, &format!("{query}&format=ndjson")).await;
        assert_eq!(answer.status(), 200, "{query}");
        let text = answer.text().await.unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let stored: Vec<Value> = expected
            .iter()
            .map(|post| serde_json::from_str(post["record"].as_str().unwrap()).unwrap())
            .collect();
        assert!(!stored.is_empty(), "{query}");
        assert_eq!(records, stored, "{query}");
    }

    // CSV, read back by a CSV reader: a row per post, the same numbers, formulas neutralised,
    // the record's JSON intact in the last column.
    let answer = export(&app, "format=csv&snapshot=s_export_hostile&bom=true").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = answer.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFid,platform,post_id,"),
        "a BOM, then the header"
    );
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].to_owned();
    assert_eq!(cell("author"), "'=HYPERLINK(\"http://x\")");
    assert_eq!(cell("text"), "'+1 and a \"quote\",\nthen a line");
    assert_eq!(cell("likes"), "3");
    assert_eq!(cell("platform"), "instagram");
    let record: Value = serde_json::from_str(&cell("record")).unwrap();
    assert_eq!(
        record,
        serde_json::from_str::<Vec<Value>>(hostile).unwrap()[0]
    );

    let answer = export(&app, "").await;
    let body = answer.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.records().count(),
        total,
        "CSV is the default, without a BOM"
    );
    assert!(body.starts_with("id,"));

    // Parquet, read back by the Arrow reader: typed columns, one row per post in the list's order,
    // values as listed, text as sent (no spreadsheet quoting in a typed file).
    let answer = export(&app, "format=parquet").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let file = answer.bytes().await.unwrap();
    let rows = parquet_rows(file);
    assert_eq!(rows.len(), total);
    for (row, post) in rows.iter().zip(&listed) {
        for name in [
            "id",
            "platform",
            "post_id",
            "snapshot_id",
            "delivery_id",
            "url",
            "author",
            "likes",
            "comments",
            "shares",
            "views",
            "text",
            "times_delivered",
        ] {
            assert_eq!(row[name], post[name], "{name}: {row:?} vs {post}");
        }
        assert_eq!(row["posted_at"], post["posted_ms"]);
        assert_eq!(row["first_seen_at"], post["first_seen_ms"]);
        assert_eq!(row["record"], post["record"]);
    }
    let hostile_row = rows
        .iter()
        .find(|r| r["post_id"] == "HOSTILE1")
        .expect("the hostile post");
    assert_eq!(hostile_row["author"], "=HYPERLINK(\"http://x\")");

    // Compressed when asked.
    let answer = export_request(&app, "format=ndjson")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-encoding"], "gzip");
    let gzipped = answer.bytes().await.unwrap();
    let mut inflated = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, text);
    // Parquet is compressed already (Snappy): gzip would add seconds to a large export to save
    // a few percent, so it goes as it is.
    let answer = export_request(&app, "format=parquet")
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers().get("content-encoding"), None);
    assert_eq!(&answer.bytes().await.unwrap()[..4], b"PAR1");

    for (query, code) in [
        ("format=xlsx", "invalid_format"),
        ("bom=maybe", "invalid_bom"),
    ] {
        let (status, body) = read(export(&app, query).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    app.stop().await;
}
