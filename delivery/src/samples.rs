//! BrightData-shaped deliveries generated from a seed: the test, demo and benchmark data this
//! repository ships. The records are this project's own; their shapes follow what BrightData's
//! datasets deliver (see the README's Ingestion section):
//! - Instagram posts beside `warning`/`warning_code: dead_page` reports (inputs that gave no post),
//!   and a second delivery of the same collection that carries the same posts again;
//! - Instagram posts with the fuller field set: nulls, nested objects, counters missing or null;
//! - LinkedIn posts keyed by `id` (there is no `post_id`);
//! - an Instagram and a Facebook snapshot as NDJSON;
//! - TikTok posts with an `error`/`error_code` report.
//!
//! Text is UTF-8 with emoji, accents, quotes and newlines. The same seed gives the same bytes.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// One kind of delivery. Each knows what the service must make of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON array: 4 `dead_page` warnings and 6 Instagram posts, interleaved.
    InstagramDeadPages,
    /// Another delivery of the same collection: the same 6 posts (other order, newer counters and
    /// timestamps) and the same 4 warnings.
    InstagramRedelivery,
    /// A JSON array of 5 Instagram posts with the fuller field set.
    InstagramFull,
    /// A JSON array of 3 LinkedIn posts keyed by `id`.
    LinkedinPosts,
    /// NDJSON: 10 Instagram posts of one snapshot.
    InstagramSnapshotNdjson,
    /// NDJSON: 6 Facebook posts of one snapshot.
    FacebookSnapshotNdjson,
    /// A JSON array: 4 TikTok posts and one `error`/`error_code` report.
    TiktokWithError,
}

impl Shape {
    pub const ALL: [Shape; 7] = [
        Shape::InstagramDeadPages,
        Shape::InstagramRedelivery,
        Shape::InstagramFull,
        Shape::LinkedinPosts,
        Shape::InstagramSnapshotNdjson,
        Shape::FacebookSnapshotNdjson,
        Shape::TiktokWithError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::InstagramDeadPages => "instagram_dead_pages",
            Shape::InstagramRedelivery => "instagram_redelivery",
            Shape::InstagramFull => "instagram_full",
            Shape::LinkedinPosts => "linkedin_posts",
            Shape::InstagramSnapshotNdjson => "instagram_snapshot_ndjson",
            Shape::FacebookSnapshotNdjson => "facebook_snapshot_ndjson",
            Shape::TiktokWithError => "tiktok_with_error",
        }
    }

    pub fn platform(self) -> &'static str {
        match self {
            Shape::LinkedinPosts => "linkedin",
            Shape::FacebookSnapshotNdjson => "facebook",
            Shape::TiktokWithError => "tiktok",
            _ => "instagram",
        }
    }

    /// BrightData's public dataset for the platform (the service knows these ids).
    pub fn dataset_id(self) -> &'static str {
        match self.platform() {
            "linkedin" => "gd_lyy3tktm25m4avu764",
            "facebook" => "gd_lkaxegm826bjpoo9m5",
            "tiktok" => "gd_lu702nij2f790tmv9h",
            _ => "gd_lk5ns7kz21pck8jpis",
        }
    }

    /// Records that are posts (each with its own id).
    pub fn posts(self) -> usize {
        match self {
            Shape::InstagramDeadPages | Shape::InstagramRedelivery => 6,
            Shape::InstagramFull => 5,
            Shape::LinkedinPosts => 3,
            Shape::InstagramSnapshotNdjson => 10,
            Shape::FacebookSnapshotNdjson => 6,
            Shape::TiktokWithError => 4,
        }
    }

    /// Records that report an input which produced no post (`warning` or `error`).
    pub fn input_errors(self) -> usize {
        match self {
            Shape::InstagramDeadPages | Shape::InstagramRedelivery => 4,
            Shape::TiktokWithError => 1,
            _ => 0,
        }
    }

    pub fn is_ndjson(self) -> bool {
        matches!(
            self,
            Shape::InstagramSnapshotNdjson | Shape::FacebookSnapshotNdjson
        )
    }

    /// The records, in delivery order.
    pub fn records(self, seed: u64) -> Vec<Value> {
        let mut rng = SmallRng::seed_from_u64(seed ^ ((self as u64) << 56));
        match self {
            Shape::InstagramDeadPages => collection_delivery(seed, 0),
            Shape::InstagramRedelivery => collection_delivery(seed, 1),
            Shape::InstagramFull => (0..5).map(|i| instagram_full(&mut rng, i)).collect(),
            Shape::LinkedinPosts => (0..3).map(|i| linkedin_post(&mut rng, i)).collect(),
            Shape::InstagramSnapshotNdjson => {
                let account = Account::new(&mut rng, "instagram");
                (0..10)
                    .map(|i| instagram_post(&mut rng, &account, i, "2025-10-13T13:40"))
                    .collect()
            }
            Shape::FacebookSnapshotNdjson => {
                let page = Account::new(&mut rng, "facebook");
                (0..6).map(|i| facebook_post(&mut rng, &page, i)).collect()
            }
            Shape::TiktokWithError => {
                let mut records: Vec<Value> = (0..4).map(|i| tiktok_post(&mut rng, i)).collect();
                records.insert(2, input_report(&mut rng, "tiktok", "error", 0));
                records
            }
        }
    }

    /// The body as BrightData sends it: a JSON array, or one record per line for NDJSON shapes.
    pub fn body(self, seed: u64) -> Vec<u8> {
        let records = self.records(seed);
        if self.is_ndjson() {
            ndjson(&records)
        } else {
            serde_json::to_vec(&records).expect("JSON values serialise")
        }
    }
}

/// `n` Instagram posts of one collection from a few accounts, as a snapshot's files hold them (the
/// like count hidden on every fourth post, as Instagram does). Another seed gives other posts.
pub fn instagram_snapshot(seed: u64, n: usize) -> Vec<Value> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x005E_ED0F_1A57);
    let accounts: Vec<Account> = (0..3)
        .map(|_| Account::new(&mut rng, "instagram"))
        .collect();
    (0..n)
        .map(|i| instagram_post(&mut rng, &accounts[i % 3], i, "2025-06-16T03:20"))
        .collect()
}

/// Records as NDJSON: one per line, each line ending in `\n`.
pub fn ndjson(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        serde_json::to_writer(&mut out, record).expect("JSON values serialise");
        out.push(b'\n');
    }
    out
}

const WORDS: [&str; 32] = [
    "summer",
    "launch",
    "coffee",
    "city",
    "studio",
    "travel",
    "morning",
    "design",
    "friends",
    "weekend",
    "sunset",
    "music",
    "new",
    "collection",
    "today",
    "behind",
    "the",
    "scenes",
    "thank",
    "you",
    "love",
    "this",
    "team",
    "story",
    "live",
    "café",
    "naïve",
    "Zürich",
    "✨",
    "🎉",
    "🙌🏽",
    "\"quoted\"",
];

/// Words joined by spaces, with a line break now and then (captions have them).
fn text(rng: &mut SmallRng, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(if rng.random_bool(0.1) { '\n' } else { ' ' });
        }
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out
}

fn digits(rng: &mut SmallRng, n: usize) -> String {
    let mut out = String::with_capacity(n);
    out.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..n {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    out
}

fn token(rng: &mut SmallRng, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// `2025-06-DDTHH:MM:SS.000Z` in June 2025.
fn june_time(rng: &mut SmallRng) -> String {
    format!(
        "2025-06-{:02}T{:02}:{:02}:{:02}.000Z",
        rng.random_range(1..16),
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60)
    )
}

/// A profile or page that posts.
struct Account {
    handle: String,
    id: String,
    url: String,
    followers: u64,
    posts_count: u64,
    verified: bool,
}

impl Account {
    fn new(rng: &mut SmallRng, platform: &str) -> Self {
        let handle = format!("acct_{}", token(rng, 8));
        let url = format!("https://www.{platform}.com/{handle}");
        Self {
            id: digits(rng, 10),
            url,
            handle,
            followers: rng.random_range(100..40_000_000),
            posts_count: rng.random_range(10..8_000),
            verified: rng.random_bool(0.3),
        }
    }
}

fn instagram_post(rng: &mut SmallRng, account: &Account, index: usize, scraped: &str) -> Value {
    let post_id = format!("{}{index:02}", digits(rng, 17));
    let shortcode = token(rng, 11);
    let photos: Vec<String> = (0..rng.random_range(1..4))
        .map(|_| {
            format!(
                "https://scontent.cdninstagram.com/v/t51/{}_n.jpg",
                digits(rng, 12)
            )
        })
        .collect();
    let mut post = json!({
        "url": format!("https://www.instagram.com/p/{shortcode}"),
        "user_posted": account.handle,
        "description": text(rng, 14),
        "hashtags": [format!("#{}", WORDS[rng.random_range(0..9)])],
        "num_comments": rng.random_range(0..600),
        "date_posted": june_time(rng),
        "likes": rng.random_range(0..300_000),
        "photos": photos,
        "latest_comments": [{
            "comments": text(rng, 5),
            "user_commenting": format!("fan_{}", token(rng, 6)),
            "likes": rng.random_range(0..50),
        }],
        "post_id": post_id,
        "shortcode": shortcode,
        "content_type": (["Carousel", "Image", "Reel"][index % 3]),
        "pk": post_id,
        "content_id": shortcode,
        "followers": account.followers,
        "posts_count": account.posts_count,
        "is_verified": account.verified,
        "is_paid_partnership": false,
        "partnership_details": {"profile_id": null, "username": null, "profile_url": null},
        "user_posted_id": account.id,
        "post_content": [{"index": 0, "type": "Photo", "id": digits(rng, 19)}],
        "audio": {"audio_asset_id": null, "original_audio_title": null},
        "profile_url": account.url,
        "alt_text": text(rng, 6),
        "photos_number": rng.random_range(0..10),
        "timestamp": format!("{scraped}:{:02}.{:03}Z", index * 3 % 60, rng.random_range(0..1000)),
        "input": {"url": account.url, "num_of_posts": 10, "start_date": "06-01-2025", "end_date": "06-16-2025"},
        "discovery_input": {"url": account.url},
    });
    // Instagram hides like counts on some posts: the field is absent, not zero.
    if index % 4 == 1 {
        post.as_object_mut().expect("an object").remove("likes");
    }
    post
}

/// A report about an input that produced no post: `warning` (Instagram's dead pages) or `error`.
fn input_report(rng: &mut SmallRng, platform: &str, kind: &str, index: usize) -> Value {
    let input = format!("https://www.{platform}.com/gone_{}", token(rng, 8));
    let (message, code) = match kind {
        "warning" => (
            "no posts found, please check pinned posts detection",
            "dead_page",
        ),
        _ => ("Profile not found", "dead_page"),
    };
    json!({
        "timestamp": format!("2025-06-16T03:20:{:02}.{:03}Z", 50 + index, rng.random_range(0..1000)),
        "input": {"url": input, "num_of_posts": 2, "posts_to_not_include": [], "post_type": "Post"},
        kind: message,
        format!("{kind}_code"): code,
    })
}

/// One delivery (`part` 0 or 1) of a collection of six posts from three accounts and four dead
/// pages. Both parts carry the same posts and reports: a collection delivered twice.
fn collection_delivery(seed: u64, part: u64) -> Vec<Value> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x1057);
    let accounts: Vec<Account> = (0..3)
        .map(|_| Account::new(&mut rng, "instagram"))
        .collect();
    let mut posts: Vec<Value> = (0..6)
        .map(|i| instagram_post(&mut rng, &accounts[i / 2], i, "2025-06-16T03:21"))
        .collect();
    let reports: Vec<Value> = (0..4)
        .map(|i| input_report(&mut rng, "instagram", "warning", i))
        .collect();
    if part == 1 {
        // The later delivery: counters moved on, scraped again an hour later, another order.
        let mut later = SmallRng::seed_from_u64(seed ^ 0x2057);
        for post in &mut posts {
            if let Some(followers) = post["followers"].as_u64() {
                post["followers"] = (followers + later.random_range(0..5)).into();
            }
            post["timestamp"] =
                format!("2025-06-16T04:05:{:02}.000Z", later.random_range(0..60)).into();
        }
        posts.rotate_left(2);
    }
    // Reports come first, then posts, as BrightData writes them while it works through the inputs.
    let mut records = Vec::with_capacity(10);
    records.extend(reports);
    records.extend(posts);
    records
}

/// An Instagram post with every field BrightData may send, many of them null.
fn instagram_full(rng: &mut SmallRng, index: usize) -> Value {
    let account = Account::new(rng, "instagram");
    let mut post = instagram_post(rng, &account, index, "2025-06-20T10:00");
    let extra = json!({
        "videos": if index.is_multiple_of(2) { json!([format!("https://scontent.cdninstagram.com/o1/v/{}.mp4", digits(rng, 12))]) } else { json!([]) },
        "location": if index == 0 { json!({"name": "Zürich, Switzerland", "id": digits(rng, 9)}) } else { Value::Null },
        "has_handshake": null,
        "engagement_score_view": rng.random_range(0..100),
        "video_view_count": if index.is_multiple_of(2) { json!(rng.random_range(0..1_000_000)) } else { Value::Null },
        "video_play_count": null,
        "product_type": (["feed", "clips", "carousel_container"][index % 3]),
        "coauthor_producers": [],
        "tagged_users": [{"full_name": text(rng, 2), "id": digits(rng, 10), "is_verified": false, "username": format!("tag_{}", token(rng, 5))}],
        "thumbnail": null,
        "profile_image_link": null,
        "videos_duration": null,
        "images": null,
        "date_posted": format!("2019-01-{:02}T21:25:17.000Z", index + 10),
    });
    let object = post.as_object_mut().expect("an object");
    for (key, value) in extra.as_object().expect("an object") {
        object.insert(key.clone(), value.clone());
    }
    // Counters: one null, one absent.
    if index == 2 {
        object.insert("num_comments".into(), Value::Null);
    }
    if index == 3 {
        object.remove("num_comments");
        object.insert("user_posted_id".into(), Value::Null);
    }
    post
}

fn linkedin_post(rng: &mut SmallRng, index: usize) -> Value {
    let company = format!("company_{}", token(rng, 6));
    json!({
        "id": format!("75362{}{index}", digits(rng, 13)),
        "url": format!("https://www.linkedin.com/posts/{company}_{}-activity", token(rng, 10)),
        "user_id": company,
        "use_url": format!("https://www.linkedin.com/company/{company}"),
        "post_type": (["post", "repost", "article"][index % 3]),
        "date_posted": format!("2025-06-0{}T06:22:04.869Z", index + 5),
        "title": text(rng, 7),
        "headline": text(rng, 4),
        "post_text": text(rng, 20),
        "post_text_html": format!("<p>{}</p>", text(rng, 6)),
        "hashtags": if index == 1 { json!(["#hiring", "#café"]) } else { Value::Null },
        "embedded_links": [format!("https://lnkd.in/{}", token(rng, 8))],
        "images": null,
        "videos": null,
        "video_duration": null,
        "repost": {"repost_attachments": null, "repost_date": null, "repost_hangtag": null},
        "num_likes": rng.random_range(0..4_000),
        "num_comments": if index == 2 { Value::Null } else { json!(rng.random_range(0..200)) },
        "top_visible_comments": null,
        "user_title": null,
        "author_profile_pic": format!("https://media.licdn.com/dms/image/{}", token(rng, 12)),
        "num_connections": null,
        "user_followers": rng.random_range(0..100_000),
        "account_type": null,
        "user_posts": 0,
        "user_articles": 0,
        "tagged_companies": [],
        "tagged_people": [],
        "external_link_data": [],
    })
}

fn facebook_post(rng: &mut SmallRng, page: &Account, index: usize) -> Value {
    let post_id = format!("{}{index}", digits(rng, 15));
    let likes = rng.random_range(0..50_000);
    json!({
        "url": format!("https://www.facebook.com/reel/{}/", digits(rng, 15)),
        "post_id": post_id,
        "user_url": page.url,
        "user_username_raw": page.handle,
        "content": text(rng, 12),
        "date_posted": format!("2025-09-{:02}T16:01:59.000Z", index + 7),
        "hashtags": [format!("#{}", WORDS[rng.random_range(0..9)])],
        "num_comments": rng.random_range(0..400),
        "num_shares": if index == 4 { Value::Null } else { json!(rng.random_range(0..300)) },
        "num_likes_type": {"type": "Like", "num": likes},
        "page_name": page.handle,
        "profile_id": page.id,
        "page_intro": "Sportswear ✨ café",
        "page_category": "Sportswear Store",
        "page_followers": page.followers,
        "page_is_verified": page.verified,
        "original_post": {"url": null, "user_url": null},
        "attachments": [{"id": digits(rng, 16), "type": "Video", "url": null}],
        "post_external_image": null,
        "page_url": page.url,
        "profile_handle": page.handle,
        "is_sponsored": false,
        "shortcode": post_id,
        "video_view_count": rng.random_range(0..1_000_000),
        "likes": likes,
        "post_type": "Reel",
        "count_reactions_type": [{"type": "Like", "reaction_count": likes}],
        "page_email": null,
        "page_creation_time": "2008-05-21T00:00:00.000Z",
        "timestamp": "2025-10-13T13:43:21.917Z",
        "input": {"url": page.url, "num_of_posts": 6},
    })
}

fn tiktok_post(rng: &mut SmallRng, index: usize) -> Value {
    let handle = format!("creator_{}", token(rng, 6));
    let post_id = format!("730441{}{index}", digits(rng, 12));
    json!({
        "url": format!("https://www.tiktok.com/@{handle}/video/{post_id}"),
        "post_id": post_id,
        "description": format!("{} #fyp 🎉", text(rng, 8)),
        "create_time": format!("2025-06-1{index}T08:10:00.000Z"),
        "digg_count": rng.random_range(0..100_000),
        "share_count": rng.random_range(0..500),
        "collect_count": rng.random_range(0..500),
        "comment_count": if index == 3 { Value::Null } else { json!(rng.random_range(0..900)) },
        "play_count": rng.random_range(1_000..5_000_000),
        "video_duration": rng.random_range(5..90),
        "hashtags": ["fyp", WORDS[rng.random_range(0..9)]],
        "original_sound": format!("original sound - {handle}"),
        "profile_id": digits(rng, 16),
        "profile_username": handle,
        "profile_url": format!("https://www.tiktok.com/@{handle}"),
        "profile_followers": rng.random_range(0..1_000_000),
        "is_verified": false,
        "post_type": "video",
        "timestamp": "2025-06-16T09:00:12.345Z",
        "input": {"url": format!("https://www.tiktok.com/@{handle}"), "num_of_posts": 4},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(shape: Shape) -> (usize, usize, Vec<String>) {
        let records = shape.records(7);
        let reports = records
            .iter()
            .filter(|r| r.get("warning").is_some() || r.get("error").is_some())
            .count();
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| r.get("post_id").or_else(|| r.get("id")))
            .map(|id| id.as_str().expect("ids are text").to_owned())
            .collect();
        (records.len() - reports, reports, ids)
    }

    #[test]
    fn every_shape_has_the_posts_and_reports_it_promises_with_distinct_ids() {
        for shape in Shape::ALL {
            let (posts, reports, mut ids) = kinds(shape);
            assert_eq!(posts, shape.posts(), "{shape:?}");
            assert_eq!(reports, shape.input_errors(), "{shape:?}");
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), shape.posts(), "{shape:?}: ids repeat");
            for record in shape.records(7) {
                if let Some(url) = record.get("url").and_then(Value::as_str) {
                    assert!(url.contains(shape.platform()), "{shape:?}: {url}");
                }
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_other_ones() {
        for shape in Shape::ALL {
            assert_eq!(shape.body(1), shape.body(1), "{shape:?}");
            assert_ne!(shape.body(1), shape.body(2), "{shape:?}");
        }
    }

    #[test]
    fn a_redelivery_carries_the_same_posts_in_another_order() {
        let (_, _, mut first) = kinds(Shape::InstagramDeadPages);
        let (_, _, mut second) = kinds(Shape::InstagramRedelivery);
        assert_ne!(first, second);
        first.sort();
        second.sort();
        assert_eq!(first, second);
    }

    #[test]
    fn bodies_carry_the_hard_parts_of_real_text_and_counters() {
        let all: Vec<u8> = Shape::ALL.iter().flat_map(|s| s.body(3)).collect();
        let text = String::from_utf8(all).expect("UTF-8");
        for needle in ["\\n", "café", "\\\"quoted\\\"", "null"] {
            assert!(text.contains(needle), "{needle}");
        }
        assert!(text.chars().any(|c| c as u32 > 0x1F000), "emoji");
        // Some posts have no like counter at all.
        let records = Shape::InstagramDeadPages.records(3);
        assert!(
            records
                .iter()
                .any(|r| r.get("post_id").is_some() && r.get("likes").is_none())
        );
        // NDJSON shapes are one record per line.
        let body = Shape::FacebookSnapshotNdjson.body(3);
        assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), 6);
    }
}
