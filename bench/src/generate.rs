//! BrightData-shaped Instagram records, generated (the repository ships no copies of real data).

use std::io::Write;

use rand::{Rng, SeedableRng};

const WORDS: [&str; 24] = [
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
    "scenes",
    "thank",
    "you",
    "love",
    "this",
    "team",
    "story",
    "live",
];

fn sentence(rng: &mut impl Rng, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out
}

/// One post as BrightData's Instagram dataset delivers it (field names and types of the fixtures).
pub fn instagram_post(rng: &mut impl Rng, id: &str) -> serde_json::Value {
    let user = format!("user_{}", rng.random_range(0..50_000));
    let shortcode: String = (0..11)
        .map(|_| {
            let chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
            chars[rng.random_range(0..chars.len())] as char
        })
        .collect();
    serde_json::json!({
        "url": format!("https://www.instagram.com/p/{shortcode}/"),
        "user_posted": user,
        "description": sentence(rng, 30),
        "num_comments": rng.random_range(0..5_000),
        "date_posted": format!("2025-06-{:02}T{:02}:{:02}:00.000Z", rng.random_range(1..29), rng.random_range(0..24), rng.random_range(0..60)),
        "likes": rng.random_range(0..200_000),
        "photos": [format!("https://scontent.cdninstagram.com/v/t51/{}_n.jpg", rng.random::<u64>())],
        "latest_comments": [{"comments": sentence(rng, 8), "user_commenting": format!("fan_{}", rng.random_range(0..1_000_000)), "likes": rng.random_range(0..100)}],
        "post_id": id,
        "shortcode": shortcode,
        "content_type": "Image",
        "pk": id,
        "content_id": id,
        "thumbnail": format!("https://scontent.cdninstagram.com/v/t51/{}_t.jpg", rng.random::<u64>()),
        "followers": rng.random_range(0..2_000_000),
        "posts_count": rng.random_range(0..5_000),
        "profile_image_link": format!("https://scontent.cdninstagram.com/v/p/{}.jpg", rng.random::<u64>()),
        "is_verified": rng.random_bool(0.1),
        "is_paid_partnership": false,
        "user_posted_id": rng.random_range(1_000_000u64..9_999_999_999).to_string(),
        "profile_url": format!("https://www.instagram.com/{user}"),
        "hashtags": [format!("#{}", WORDS[rng.random_range(0..WORDS.len())])],
        "timestamp": "2025-06-16T03:20:51.000Z",
        "input": {"url": format!("https://www.instagram.com/{user}"), "num_of_posts": 10},
    })
}

/// A ~1 KB delivery: a JSON array with one post, unique per (worker, sequence).
pub fn small_delivery(worker: usize, sequence: u64) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64((worker as u64) << 40 | sequence);
    let id = format!("bench_{worker}_{sequence}");
    let record = instagram_post(&mut rng, &id);
    serde_json::to_vec(&[record]).expect("serialisable")
}

/// A gzip JSON array of about `compressed_target` bytes. Returns (body, records, inflated bytes).
pub fn large_gzip_delivery(compressed_target: usize) -> (Vec<u8>, usize, usize) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(compressed_target + (1 << 20)),
        flate2::Compression::fast(),
    );
    let mut records = 0;
    let mut inflated = 0;
    encoder.write_all(b"[").expect("in memory");
    while encoder.get_ref().len() < compressed_target {
        let mut chunk = Vec::with_capacity(1 << 20);
        for _ in 0..500 {
            if records > 0 {
                chunk.push(b',');
            }
            let id = format!("large_{records}");
            serde_json::to_writer(&mut chunk, &instagram_post(&mut rng, &id)).expect("in memory");
            records += 1;
        }
        inflated += chunk.len();
        encoder.write_all(&chunk).expect("in memory");
    }
    encoder.write_all(b"]").expect("in memory");
    (encoder.finish().expect("in memory"), records, inflated + 2)
}
