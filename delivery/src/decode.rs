//! Delivery bytes as received -> records: gzip is recognised by its magic bytes (`1f 8b`), whatever the
//! headers say, and inflated incrementally; the inflated size is counted as it is produced, so a gzip
//! bomb stops at the limit instead of after. The inflated bytes go straight into the record splitter.

use std::io::Write;

use flate2::write::MultiGzDecoder;

use crate::coverage::PlatformCoverage;
use crate::records::{Format, Mode, PayloadError, Record, RecordSplitter};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("the body inflates to more than {limit} bytes")]
    InflatedTooLarge { limit: u64 },
    #[error("the gzip data is corrupt or truncated")]
    Gzip,
    #[error("Content-Encoding says gzip but the body is not gzip")]
    NotGzip,
}

/// What the request said about its body. The bytes still decide: gzip by its magic bytes, JSON
/// by its first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    /// `Content-Encoding: gzip`: a body that is not gzip is refused.
    pub gzip: bool,
    /// CSV, by media type (`text/csv`) or file name (`.csv`, `.csv.gz`).
    pub csv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub format: Format,
    pub compressed: bool,
    pub inflated_bytes: u64,
    /// The posts' field coverage, when it was asked for.
    pub coverage: Option<Vec<PlatformCoverage>>,
}

/// Receives the inflated bytes: counts them against the limit, splits them into records.
struct Sink<F: FnMut(Record)> {
    splitter: RecordSplitter,
    emit: F,
    inflated: u64,
    limit: u64,
    /// Why the last write failed: io::Error cannot carry our error through flate2 cleanly.
    failure: Option<DecodeError>,
}

impl<F: FnMut(Record)> Write for Sink<F> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inflated += buf.len() as u64;
        if self.inflated > self.limit {
            self.failure = Some(DecodeError::InflatedTooLarge { limit: self.limit });
            return Err(std::io::Error::other("inflated size limit"));
        }
        if let Err(error) = self.splitter.feed(buf, &mut self.emit) {
            self.failure = Some(error.into());
            return Err(std::io::Error::other("payload error"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Stage<F: FnMut(Record)> {
    /// Fewer than two bytes seen: cannot tell gzip yet.
    Sniffing(Sink<F>, Vec<u8>),
    Plain(Sink<F>),
    Gzip(Box<MultiGzDecoder<Sink<F>>>),
    /// After an error: nothing more is accepted.
    Failed,
}

pub struct DeliveryDecoder<F: FnMut(Record)> {
    stage: Stage<F>,
    declared_gzip: bool,
}

impl<F: FnMut(Record)> DeliveryDecoder<F> {
    /// `emit` receives each record.
    pub fn new(
        declared: Declared,
        max_inflated: u64,
        default_platform: Option<String>,
        mode: Mode,
        emit: F,
    ) -> Self {
        let sink = Sink {
            splitter: RecordSplitter::new(default_platform, mode, declared.csv),
            emit,
            inflated: 0,
            limit: max_inflated,
            failure: None,
        };
        Self {
            stage: Stage::Sniffing(sink, Vec::with_capacity(2)),
            declared_gzip: declared.gzip,
        }
    }

    /// Tallies the posts' field coverage (see `coverage`); `Extract` mode only.
    pub fn count_coverage(mut self) -> Self {
        if let Stage::Sniffing(sink, _) = &mut self.stage {
            sink.splitter.count_coverage();
        }
        self
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        if let Stage::Sniffing(_, head) = &mut self.stage {
            let take = (2 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() < 2 {
                return Ok(());
            }
            let head = head.clone();
            self.decide(&head)?;
            return self.feed(&chunk[take..]);
        }
        let result = match &mut self.stage {
            Stage::Plain(sink) => sink.write_all(chunk).map_err(|_| ()),
            Stage::Gzip(decoder) => decoder.write_all(chunk).map_err(|_| ()),
            Stage::Failed => return Err(DecodeError::Gzip),
            Stage::Sniffing(..) => unreachable!("handled above"),
        };
        result.map_err(|()| self.fail())
    }

    /// Chooses plain or gzip from the first two bytes and replays them.
    fn decide(&mut self, head: &[u8]) -> Result<(), DecodeError> {
        let Stage::Sniffing(sink, _) = std::mem::replace(&mut self.stage, Stage::Failed) else {
            unreachable!("only called while sniffing")
        };
        if head == GZIP_MAGIC {
            self.stage = Stage::Gzip(Box::new(MultiGzDecoder::new(sink)));
        } else if self.declared_gzip {
            return Err(DecodeError::NotGzip);
        } else {
            self.stage = Stage::Plain(sink);
        }
        self.feed(head)
    }

    fn fail(&mut self) -> DecodeError {
        let stage = std::mem::replace(&mut self.stage, Stage::Failed);
        let failure = match stage {
            Stage::Plain(mut sink) => sink.failure.take(),
            Stage::Gzip(mut decoder) => decoder.get_mut().failure.take(),
            _ => None,
        };
        failure.unwrap_or(DecodeError::Gzip)
    }

    pub fn finish(mut self) -> Result<Decoded, DecodeError> {
        if let Stage::Sniffing(_, head) = &self.stage {
            // A body shorter than two bytes.
            let head = head.clone();
            if head.is_empty() {
                if self.declared_gzip {
                    return Err(DecodeError::NotGzip);
                }
                let Stage::Sniffing(sink, _) = std::mem::replace(&mut self.stage, Stage::Failed)
                else {
                    unreachable!()
                };
                self.stage = Stage::Plain(sink);
            } else if self.declared_gzip {
                return Err(DecodeError::NotGzip);
            } else {
                let Stage::Sniffing(sink, _) = std::mem::replace(&mut self.stage, Stage::Failed)
                else {
                    unreachable!()
                };
                self.stage = Stage::Plain(sink);
                self.feed(&head)?;
            }
        }
        let (sink, compressed) = match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Plain(sink) => (sink, false),
            Stage::Gzip(mut decoder) => {
                if decoder.try_finish().is_err() {
                    let failure = decoder.get_mut().failure.take();
                    return Err(failure.unwrap_or(DecodeError::Gzip));
                }
                match decoder.finish() {
                    Ok(sink) => (sink, true),
                    Err(_) => return Err(DecodeError::Gzip),
                }
            }
            Stage::Failed | Stage::Sniffing(..) => return Err(DecodeError::Gzip),
        };
        let Sink {
            mut splitter,
            mut emit,
            inflated,
            ..
        } = sink;
        let format = splitter.finish(&mut emit)?;
        Ok(Decoded {
            format,
            compressed,
            inflated_bytes: inflated,
            coverage: splitter.coverage(),
        })
    }
}

/// Decodes a whole body held in memory; with `coverage`, its posts' field coverage is tallied.
pub fn decode_all(
    body: &[u8],
    declared: Declared,
    max_inflated: u64,
    default_platform: Option<String>,
    coverage: bool,
    emit: impl FnMut(Record),
) -> Result<Decoded, DecodeError> {
    let mut decoder = DeliveryDecoder::new(
        declared,
        max_inflated,
        default_platform,
        Mode::Extract,
        emit,
    );
    if coverage {
        decoder = decoder.count_coverage();
    }
    decoder.feed(body)?;
    decoder.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn records(
        body: &[u8],
        declared: bool,
        limit: u64,
        piece: usize,
    ) -> Result<(Decoded, usize), DecodeError> {
        let mut count = 0;
        let declared = Declared {
            gzip: declared,
            csv: false,
        };
        let mut decoder =
            DeliveryDecoder::new(declared, limit, None, Mode::Extract, |_| count += 1);
        for chunk in body.chunks(piece.max(1)) {
            decoder.feed(chunk)?;
        }
        let decoded = decoder.finish()?;
        Ok((decoded, count))
    }

    const BODY: &[u8] = br#"[{"post_id":"1","url":"https://www.instagram.com/p/1/"},{"post_id":"2","url":"https://www.instagram.com/p/2/"}]"#;

    #[test]
    fn plain_and_gzip_give_the_same_records_in_any_piece_size() {
        let zipped = gzip(BODY);
        for piece in [1, 2, 5, 4096] {
            let (plain, n) = records(BODY, false, u64::MAX, piece).unwrap();
            assert_eq!(
                (plain.compressed, n, plain.format),
                (false, 2, Format::JsonArray)
            );
            let (gz, n) = records(&zipped, false, u64::MAX, piece).unwrap();
            assert_eq!((gz.compressed, n), (true, 2));
            assert_eq!(gz.inflated_bytes, BODY.len() as u64);
            assert!(
                records(&zipped, true, u64::MAX, piece)
                    .unwrap()
                    .0
                    .compressed
            );
        }
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut two = gzip(b"{\"post_id\":\"1\",\"url\":\"https://www.tiktok.com/v/1\"}\n");
        two.extend(gzip(
            b"{\"post_id\":\"2\",\"url\":\"https://www.tiktok.com/v/2\"}\n",
        ));
        let (decoded, n) = records(&two, true, u64::MAX, 7).unwrap();
        assert_eq!((decoded.format, n), (Format::Ndjson, 2));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 1 GiB of zeros compresses to about 1 MB: never inflate it all.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..1024 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 2 << 20);
        let limit = 8 << 20;
        let started = std::time::Instant::now();
        let error = records(&bomb, true, limit, 64 * 1024).unwrap_err();
        assert_eq!(error, DecodeError::InflatedTooLarge { limit });
        // Stopping at 8 MiB of a 1 GiB bomb takes a tiny fraction of inflating it all.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn truncated_or_corrupt_gzip_and_false_claims() {
        let zipped = gzip(BODY);
        let truncated = &zipped[..zipped.len() - 10];
        assert!(records(truncated, true, u64::MAX, 16).is_err());
        let mut corrupt = zipped.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        assert!(records(&corrupt, true, u64::MAX, 16).is_err());
        assert_eq!(
            records(BODY, true, u64::MAX, 16).unwrap_err(),
            DecodeError::NotGzip
        );
        assert_eq!(
            records(b"", true, u64::MAX, 16).unwrap_err(),
            DecodeError::NotGzip
        );
    }

    #[test]
    fn tiny_bodies() {
        assert_eq!(records(b"", false, 10, 1).unwrap().1, 0);
        assert_eq!(
            records(b"x", false, 10, 1).unwrap().1,
            1,
            "one malformed NDJSON line"
        );
        assert_eq!(records(b"[]", false, 10, 1).unwrap().1, 0);
    }

    #[test]
    fn the_plain_size_limit_applies_too() {
        assert_eq!(
            records(BODY, false, 10, 4).unwrap_err(),
            DecodeError::InflatedTooLarge { limit: 10 }
        );
    }
}
