//! The extraction's parse alone, in this process (no HTTP, no database): the `large` body inflated,
//! split, classified and each post built, with and without the field coverage tally (scraper
//! drift), in alternating rounds so a machine that speeds up or slows down moves both alike.

use std::time::{Duration, Instant};

use delivery::decode::{Declared, DeliveryDecoder};
use delivery::records::{Mode, Record};

use crate::generate;

/// Decodes `body` once; the posts and how long it took.
fn decode(body: &[u8], coverage: bool) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut posts = 0u64;
    let mut decoder =
        DeliveryDecoder::new(Declared::default(), u64::MAX, None, Mode::Extract, |r| {
            if let Record::Post(post) = r {
                posts += 1;
                std::hint::black_box(post);
            }
        });
    if coverage {
        decoder = decoder.count_coverage();
    }
    for piece in body.chunks(1 << 20) {
        decoder.feed(piece)?;
    }
    let decoded = decoder.finish()?;
    anyhow::ensure!(
        decoded.coverage.is_some() == coverage,
        "the coverage was not tallied as asked"
    );
    let elapsed = started.elapsed();
    Ok((posts, elapsed))
}

/// Which decodes a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tally {
    /// Without, then with the tally: the rates and the ratio.
    Both,
    /// Only with it (one mode per process: for an instruction count of each under callgrind).
    On,
    /// Only without it.
    Off,
}

pub fn run(
    mb: usize,
    rounds: usize,
    tally: Tally,
    save: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let (body, records, inflated) = generate::large_gzip_delivery(mb << 20);
    if let Some(path) = save {
        // The same body for a whole-server measurement (e.g. the server under callgrind).
        std::fs::write(path, &body)?;
    }
    println!(
        "extract: {records} records, {:.1} MB JSON -> {:.1} MB gzip; {rounds} rounds of (off, on)",
        inflated as f64 / 1e6,
        body.len() as f64 / 1e6
    );
    if tally != Tally::Both {
        for round in 1..=rounds {
            let (posts, took) = decode(&body, tally == Tally::On)?;
            println!(
                "round {round}: coverage {tally:?} {:.0} posts/s",
                posts as f64 / took.as_secs_f64()
            );
        }
        return Ok(());
    }
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let (posts, off) = decode(&body, false)?;
        let (_, on) = decode(&body, true)?;
        let rate = |d: Duration| posts as f64 / d.as_secs_f64();
        let ratio = on.as_secs_f64() / off.as_secs_f64();
        println!(
            "round {round}: coverage off {:.0} posts/s, on {:.0} posts/s, time on/off {ratio:.3}",
            rate(off),
            rate(on)
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median time on/off: {:.3} (the tally's cost on the parse: {:+.1}%)",
        ratios[ratios.len() / 2],
        (ratios[ratios.len() / 2] - 1.0) * 100.0
    );
    Ok(())
}
