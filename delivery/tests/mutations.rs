//! The core against damaged bodies: every generated sample, as sent and gzipped, mutated thousands
//! of ways (bytes flipped, removed, repeated, the body cut short), and fed in pieces of random
//! sizes. Whatever the damage, decoding ends in records or an error, never a panic, and the same
//! bytes give the same answer however they are cut into pieces: the same records, or a refusal
//! both ways. What the server decides about a delivery cannot depend on how the network split it.
//! (The reason given may differ: in corrupt gzip, the garbage inflated before the checksum can
//! fail the JSON first when it arrives in pieces; both are the same 400.)
//!
//! Seeded, so a failure names the seed and the case that reproduce it.

use std::io::Write;

use delivery::decode::{Declared, DeliveryDecoder};
use delivery::records::{Mode, Record};
use delivery::samples::Shape;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Bodies mutated per sample and encoding.
const CASES: usize = 1000;
const LIMIT: u64 = 8 << 20;

/// The outcome of decoding `body` fed in `pieces`: the records in order, or the error.
fn decode(body: &[u8], pieces: &[usize], declared: Declared) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let mut decoder =
        DeliveryDecoder::new(declared, LIMIT, None, Mode::Extract, |r| records.push(r));
    let mut at: usize = 0;
    for &size in pieces.iter().chain(std::iter::once(&usize::MAX)) {
        let end = at.saturating_add(size).min(body.len());
        if let Err(error) = decoder.feed(&body[at..end]) {
            return Err(error.to_string());
        }
        at = end;
        if at == body.len() {
            break;
        }
    }
    let result = decoder.finish().map_err(|e| e.to_string());
    result.map(|_| records)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

fn mutate(body: &[u8], rng: &mut SmallRng) -> Vec<u8> {
    let mut out = body.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if out.is_empty() {
            break;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..5) {
            0 => out[at] ^= 1 << rng.random_range(0..8),
            1 => {
                out.remove(at);
            }
            2 => {
                let end = (at + rng.random_range(1..64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            3 => out.truncate(at),
            _ => {
                let special = b"[]{}\",:\\\n\r\x00\xff";
                out[at] = special[rng.random_range(0..special.len())];
            }
        }
    }
    out
}

fn pieces(len: usize, rng: &mut SmallRng) -> Vec<usize> {
    let mut out = Vec::new();
    let mut total = 0;
    while total < len {
        let size = match rng.random_range(0..3) {
            0 => 1,
            1 => rng.random_range(1..16),
            _ => rng.random_range(1..4096),
        };
        out.push(size);
        total += size;
    }
    out
}

#[test]
fn damaged_bodies_decode_the_same_however_they_are_cut_and_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x7f);
    let mut refused = 0;
    let mut decoded = 0;
    for shape in Shape::ALL {
        let plain = shape.body(7);
        for (encoding, body) in [("plain", plain.clone()), ("gzip", gzip(&plain))] {
            let declared = Declared {
                gzip: encoding == "gzip",
                csv: false,
            };
            let whole = decode(&body, &[], declared);
            assert!(whole.is_ok(), "{} {encoding}: {whole:?}", shape.name());
            for case in 0..CASES {
                let damaged = mutate(&body, &mut rng);
                let at_once = decode(&damaged, &[], declared);
                let cut = pieces(damaged.len(), &mut rng);
                let in_pieces = decode(&damaged, &cut, declared);
                assert_eq!(
                    at_once.as_ref().ok(),
                    in_pieces.as_ref().ok(),
                    "{} {encoding} case {case}: the pieces changed the answer ({at_once:?} / \
                     {in_pieces:?})",
                    shape.name()
                );
                match at_once {
                    Ok(_) => decoded += 1,
                    Err(_) => refused += 1,
                }
            }
        }
    }
    // Both answers occur: the mutations reach the checks and the records alike.
    assert!(
        refused > 100 && decoded > 100,
        "{refused} refused, {decoded} decoded"
    );
}

#[test]
fn csv_bodies_decode_the_same_however_they_are_cut() {
    let mut rng = SmallRng::seed_from_u64(0xc5);
    let body = b"url,likes,date_posted\r\n\
        https://www.instagram.com/p/A1/,12,2026-11-01T10:00:00Z\r\n\
        \"https://www.instagram.com/p/B2/\",\"3,4\",2026-11-02T10:00:00Z\r\n\
        https://www.tiktok.com/@x/video/77,,\r\n"
        .to_vec();
    let declared = Declared {
        gzip: false,
        csv: true,
    };
    assert_eq!(decode(&body, &[], declared).map(|r| r.len()), Ok(3));
    for case in 0..2000 {
        let damaged = mutate(&body, &mut rng);
        let cut = pieces(damaged.len(), &mut rng);
        let (at_once, in_pieces) = (
            decode(&damaged, &[], declared),
            decode(&damaged, &cut, declared),
        );
        assert_eq!(
            at_once.as_ref().ok(),
            in_pieces.as_ref().ok(),
            "case {case}"
        );
    }
}
