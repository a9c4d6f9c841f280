//! Every fixture delivered plain, gzip, NDJSON and CSV: counts, platforms, input errors, and dedup
//! on re-delivery. Run on SQLite and on PostgreSQL.

use serde_json::Value;

use crate::helpers::{
    PgDatabase, TestApp, fixture, gzip, json, spawn, to_array, to_csv, to_ndjson,
};

struct Expect {
    file: &'static str,
    platform: &'static str,
    posts: i64,
    input_errors: i64,
}

const FIXTURES: [Expect; 7] = [
    Expect {
        file: "bd_20250616_032051_0_instagram.json",
        platform: "instagram",
        posts: 6,
        input_errors: 4,
    },
    Expect {
        file: "bd_20250616_040447_0_instagram.json",
        platform: "instagram",
        posts: 6,
        input_errors: 4,
    },
    Expect {
        file: "instagram_posts_brightdata_2025-06.json",
        platform: "instagram",
        posts: 5,
        input_errors: 0,
    },
    Expect {
        file: "linkedin_posts_sample.json",
        platform: "linkedin",
        posts: 3,
        input_errors: 0,
    },
    Expect {
        file: "snapshot_s_mgp6kclbi353dgcjk_instagram_data.ndjson",
        platform: "instagram",
        posts: 10,
        input_errors: 0,
    },
    Expect {
        file: "snapshot_s_mgp6kcyu28lbyl8rx9_facebook_data.ndjson",
        platform: "facebook",
        posts: 6,
        input_errors: 0,
    },
    Expect {
        file: "tiktok_posts_synthetic.json",
        platform: "tiktok",
        posts: 4,
        input_errors: 1,
    },
];

/// The fixture as a JSON array and as NDJSON, whatever its own format.
fn both_formats(file: &str) -> (Vec<u8>, Vec<u8>) {
    let body = fixture(file);
    if file.ends_with(".ndjson") {
        (to_array(&body), body)
    } else {
        let ndjson = to_ndjson(&body);
        (body, ndjson)
    }
}

/// (name, body, Content-Encoding, Content-Type, the file name's extension).
type Way = (
    &'static str,
    Vec<u8>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

async fn deliver_every_way(app: &TestApp, expect: &Expect) {
    let (array, ndjson) = both_formats(expect.file);
    let snapshot = "s_fixture01";
    let csv = to_csv(&array);
    // A gzip CSV is known by its file name alone, as BrightData sends it.
    let ways: [Way; 5] = [
        ("plain", array.clone(), None, "application/json", "json"),
        (
            "gzip",
            gzip(&array),
            Some("gzip"),
            "application/json",
            "json.gz",
        ),
        ("ndjson", ndjson, None, "application/x-ndjson", "json"),
        ("csv", csv.clone(), None, "text/csv", "csv"),
        (
            "csv_gzip",
            gzip(&csv),
            Some("gzip"),
            "application/gzip",
            "csv.gz",
        ),
    ];
    let deliveries = ways.len() as i64;
    for (round, (way, body, encoding, content_type, extension)) in ways.into_iter().enumerate() {
        let mut request = app
            .webhook_as(content_type)
            .header("snapshot-id", snapshot)
            .header("dca-filename", format!("{snapshot}_{way}.{extension}"))
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let (status, answer) = json(request.send().await.unwrap()).await;
        assert_eq!(status, 200, "{} {way}: {answer}", expect.file);
        assert_eq!(answer["status"], "ok");
        assert_eq!(answer["records"], expect.posts, "{} {way}", expect.file);
        assert_eq!(
            answer["input_errors"], expect.input_errors,
            "{} {way}",
            expect.file
        );
        assert_eq!(answer["malformed"], 0);
        assert_eq!(answer["snapshot_id"], snapshot);
        assert_eq!(answer["compressed"], encoding.is_some());
        // The first delivery stores; the same posts again update, never duplicate.
        let expected_duplicates = if round == 0 { 0 } else { expect.posts };
        assert_eq!(
            answer["duplicates"], expected_duplicates,
            "{} {way}",
            expect.file
        );
    }

    assert_eq!(app.number("SELECT count(*) FROM posts").await, expect.posts);
    assert_eq!(
        app.number(&format!(
            "SELECT count(*) FROM posts WHERE platform = '{}' AND snapshot_id = '{snapshot}'",
            expect.platform
        ))
        .await,
        expect.posts
    );
    assert_eq!(
        app.number("SELECT count(*) FROM deliveries").await,
        deliveries
    );
    assert_eq!(
        app.number("SELECT count(*) FROM deliveries WHERE format = 'csv'")
            .await,
        2
    );
    // Input errors belong to the delivery that reported them: each delivery has its reports.
    assert_eq!(
        app.number("SELECT count(*) FROM input_errors").await,
        deliveries * expect.input_errors
    );
    assert_eq!(
        app.number("SELECT max(times_delivered) FROM posts").await,
        if expect.posts > 0 { deliveries } else { 0 }
    );
    let snapshot_row = app
        .number(&format!(
            "SELECT count(*) FROM snapshots WHERE id = '{snapshot}' AND status = 'delivered' AND deliveries = {deliveries} AND posts = {}",
            deliveries * expect.posts
        ))
        .await;
    assert_eq!(snapshot_row, 1, "{}", expect.file);

    // Each stored post keeps its full record and the id it came with.
    let records: Vec<Value> = serde_json::from_slice(&array).unwrap();
    for record in records
        .iter()
        .filter(|r| r.get("warning").is_none() && r.get("error").is_none())
    {
        let id = record
            .get("post_id")
            .or_else(|| record.get("id"))
            .and_then(Value::as_str)
            .unwrap();
        let url = record["url"].as_str().unwrap();
        let found = app
            .number(&format!(
                "SELECT count(*) FROM posts WHERE post_id = '{id}' AND url = '{}'",
                url.replace('\'', "''")
            ))
            .await;
        assert_eq!(found, 1, "{} post {id}", expect.file);
    }
}

async fn every_fixture(start: impl AsyncFn() -> (TestApp, Option<PgDatabase>)) {
    for expect in &FIXTURES {
        let (app, pg) = start().await;
        deliver_every_way(&app, expect).await;
        app.stop().await;
        if let Some(pg) = pg {
            pg.drop_database().await;
        }
    }
}

#[tokio::test]
async fn every_fixture_plain_gzip_ndjson_and_csv_on_sqlite() {
    every_fixture(async || (spawn().start().await, None)).await;
}

#[tokio::test]
async fn every_fixture_plain_gzip_ndjson_and_csv_on_postgresql() {
    every_fixture(async || {
        let pg = PgDatabase::create().await;
        (spawn().database(&pg.url()).start().await, Some(pg))
    })
    .await;
}

#[tokio::test]
async fn linkedin_posts_use_id_and_counters_are_extracted() {
    let app = spawn().start().await;
    let (status, _) = json(
        app.webhook()
            .body(fixture("linkedin_posts_sample.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let records: Vec<Value> =
        serde_json::from_slice(&fixture("linkedin_posts_sample.json")).unwrap();
    let first = &records[0];
    let id = first["id"].as_str().unwrap();
    let likes = first["num_likes"].as_i64().unwrap();
    assert_eq!(
        app.number(&format!(
            "SELECT count(*) FROM posts WHERE platform = 'linkedin' AND post_id = '{id}' AND likes = {likes} AND posted_ms IS NOT NULL"
        ))
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn an_empty_array_and_an_empty_body_are_valid_deliveries() {
    let app = spawn().start().await;
    for body in [&b"[]"[..], b"", b" \n"] {
        let (status, answer) = json(app.webhook().body(body.to_vec()).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body:?}");
        assert_eq!(answer["records"], 0);
    }
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 3);
    app.stop().await;
}

#[tokio::test]
async fn malformed_records_are_counted_and_the_rest_stored() {
    let app = spawn().start().await;
    let mut body = fixture("snapshot_s_mgp6kcyu28lbyl8rx9_facebook_data.ndjson");
    body.extend_from_slice(b"{not json}\n[1,2]\n{\"no_id\": true}\n");
    let (status, answer) = json(app.webhook().body(body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["records"], 6);
    assert_eq!(answer["malformed"], 3);
    assert_eq!(answer["malformed_examples"].as_array().unwrap().len(), 3);
    assert_eq!(app.number("SELECT count(*) FROM posts").await, 6);
    app.stop().await;
}

#[tokio::test]
async fn the_snapshot_comes_from_headers_never_from_record_ids() {
    let app = spawn().start().await;
    // LinkedIn ids look nothing like snapshots; with no snapshot header there is no snapshot.
    let (status, answer) = json(
        app.webhook()
            .body(fixture("linkedin_posts_sample.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["snapshot_id"], Value::Null);
    assert_eq!(app.number("SELECT count(*) FROM snapshots").await, 0);
    for header in ["snapshot-id", "dca-collection-id", "x-snapshot-id"] {
        let (status, answer) = json(
            app.webhook()
                .header(header, "s_fromheader")
                .body("[]")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["snapshot_id"], "s_fromheader", "{header}");
    }
    app.stop().await;
}
