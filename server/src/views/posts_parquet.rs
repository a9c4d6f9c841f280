//! The posts as Parquet, the columnar file pandas, polars, R's arrow and DuckDB read directly:
//! typed columns (numbers as 64-bit integers, times as UTC timestamps, text as UTF-8, the record
//! as its JSON text), Snappy-compressed, written page by page while the export streams. The writer
//! holds at most one row group before it goes out.
//!
//! The record column is most of a file's bytes and most of the time to write it (its encoding and
//! compression). It is encoded on a thread of its own (`RecordLane`) while the page's other
//! columns, and the next page's, are built and encoded on the export's thread: written in one
//! thread, the export was that thread's speed with a core of the machine a third idle.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::store::entities::posts;

/// A row group ends with the page that brings it to this many rows (16 pages of the export):
/// enough for readers to scan fast.
pub const ROW_GROUP: usize = 16_000;
/// Or to this many bytes (the records as stored, the other columns as encoded so far): the group
/// being built is held in memory, and records can be large.
pub const ROW_GROUP_BYTES: usize = 32 << 20;

/// The columns, in order, with their types.
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let number = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    let time = |name: &str, nullable: bool| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            nullable,
        )
    };
    Arc::new(Schema::new(vec![
        number("id", false),
        text("platform", false),
        text("post_id", false),
        text("snapshot_id", true),
        number("delivery_id", false),
        text("url", true),
        text("author", true),
        time("posted_at", true),
        number("likes", true),
        number("comments", true),
        number("shares", true),
        number("views", true),
        text("text", true),
        number("times_delivered", false),
        time("first_seen_at", false),
        time("updated_at", false),
        text("record", false),
    ]))
}

/// Where the writer writes: taken out after each page.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Parquet file being written page by page.
pub struct PostsParquet {
    schema: SchemaRef,
    /// `None` once the file is closed.
    file: Option<SerializedFileWriter<Sink>>,
    groups: ArrowRowGroupWriterFactory,
    /// The row group being built, if any.
    group: Option<Group>,
    /// Row groups written so far.
    written: usize,
    record: RecordLane,
    sink: Sink,
}

/// A row group being built: the writers of every column but the record (that one is on the
/// record's lane), and how much it holds.
struct Group {
    writers: Vec<ArrowColumnWriter>,
    rows: usize,
    record_bytes: usize,
}

/// The record column: the schema's last.
const RECORD: usize = 16;

impl PostsParquet {
    pub fn new() -> Result<Self, ParquetError> {
        let schema = schema();
        debug_assert_eq!(schema.field(RECORD).name(), "record");
        let sink = Sink::default();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Dictionaries only where values repeat: building one for each record's text (all
            // different) cost time and memory, then was dropped.
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("platform"), true)
            .set_column_dictionary_enabled(ColumnPath::from("snapshot_id"), true)
            .set_column_dictionary_enabled(ColumnPath::from("author"), true)
            .set_created_by(format!(
                "track-futura webhook {}",
                env!("CARGO_PKG_VERSION")
            ))
            .build();
        // Arrow's own writer sets the file up (the schema and its Arrow form in the metadata);
        // its parts then write the columns apart.
        let (file, groups) = ArrowWriter::try_new(sink.clone(), schema.clone(), Some(properties))?
            .into_serialized_writer()?;
        Ok(Self {
            schema,
            file: Some(file),
            groups,
            group: None,
            written: 0,
            record: RecordLane::start()?,
            sink,
        })
    }

    /// Adds `rows`; on the `last` page, ends the file. The bytes ready to send (none while a row
    /// group is still being filled).
    pub fn page(&mut self, rows: &[posts::Model], last: bool) -> Result<Vec<u8>, ParquetError> {
        if self.file.is_none() {
            return Err(ParquetError::General("the file is already closed".into()));
        }
        if !rows.is_empty() {
            self.add(rows)?;
        }
        if last {
            self.end_group()?;
            if let Some(file) = self.file.take() {
                file.close()?;
            }
        }
        Ok(self.sink.take())
    }

    fn add(&mut self, rows: &[posts::Model]) -> Result<(), ParquetError> {
        if self.group.is_none() {
            let mut writers = self.groups.create_column_writers(self.written)?;
            let record = writers
                .pop()
                .ok_or_else(|| ParquetError::General("no column writers".into()))?;
            self.record.begin(record)?;
            self.group = Some(Group {
                writers,
                rows: 0,
                record_bytes: 0,
            });
        }
        let group = self.group.as_mut().expect("a group was just begun");

        // The records go to their lane first, to be encoded while the rest is built here.
        let records: ArrayRef = Arc::new(StringArray::from_iter_values(
            rows.iter().map(|p| p.data.as_str()),
        ));
        self.record
            .write(leaf(self.schema.field(RECORD), &records)?)?;
        for ((writer, field), column) in group
            .writers
            .iter_mut()
            .zip(self.schema.fields().iter())
            .zip(columns(rows))
        {
            writer.write(&leaf(field, &column)?)?;
        }

        group.rows += rows.len();
        group.record_bytes += rows.iter().map(|p| p.data.len()).sum::<usize>();
        // The records' size as stored stands for their encoded size (Snappy makes JSON smaller).
        let others: usize = group
            .writers
            .iter()
            .map(ArrowColumnWriter::get_estimated_total_bytes)
            .sum();
        if group.rows >= ROW_GROUP || group.record_bytes + others >= ROW_GROUP_BYTES {
            self.end_group()?;
        }
        Ok(())
    }

    /// Writes the row group being built, if any, to the file.
    fn end_group(&mut self) -> Result<(), ParquetError> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let record = self.record.end()?;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| ParquetError::General("the file is already closed".into()))?;
        let mut row_group = file.next_row_group()?;
        for writer in group.writers {
            writer.close()?.append_to_row_group(&mut row_group)?;
        }
        record.append_to_row_group(&mut row_group)?;
        row_group.close()?;
        self.written += 1;
        Ok(())
    }
}

/// `column` as the one leaf its flat field makes.
fn leaf(field: &Field, column: &ArrayRef) -> Result<ArrowLeafColumn, ParquetError> {
    compute_leaves(field, column)?
        .pop()
        .ok_or_else(|| ParquetError::General(format!("no leaf for {}", field.name())))
}

/// Every column of `rows` but the record, in the schema's order.
fn columns(rows: &[posts::Model]) -> Vec<ArrayRef> {
    let numbers = |value: fn(&posts::Model) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<Int64Array>())
    };
    let texts = |value: fn(&posts::Model) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<StringArray>())
    };
    let times = |value: fn(&posts::Model) -> Option<i64>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(value)
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        )
    };
    let text: ArrayRef = Arc::new(
        rows.iter()
            .map(|p| delivery::records::post_text(&p.data))
            .collect::<StringArray>(),
    );
    vec![
        numbers(|p| Some(p.id)),
        texts(|p| Some(&p.platform)),
        texts(|p| Some(&p.post_id)),
        texts(|p| p.snapshot_id.as_deref()),
        numbers(|p| Some(p.delivery_id)),
        texts(|p| p.url.as_deref()),
        texts(|p| p.author.as_deref()),
        times(|p| p.posted_ms),
        numbers(|p| p.likes),
        numbers(|p| p.comments),
        numbers(|p| p.shares),
        numbers(|p| p.views),
        text,
        numbers(|p| Some(i64::from(p.times_delivered))),
        times(|p| Some(p.first_seen_ms)),
        times(|p| Some(p.updated_ms)),
    ]
}

/// The record column's writer, on a thread of its own. Pages' records queue to it (two at most:
/// memory stays bounded); a row group's column is taken back when the group ends. The thread
/// ends when the file is dropped, finished or not.
struct RecordLane {
    jobs: SyncSender<Job>,
}

enum Job {
    /// A row group begins: its record column's writer.
    Begin(ArrowColumnWriter),
    Write(ArrowLeafColumn),
    /// The row group ends: its column, encoded, or the first error writing it.
    End(SyncSender<Result<ArrowColumnChunk, ParquetError>>),
}

impl RecordLane {
    fn start() -> Result<Self, ParquetError> {
        let (jobs, queue) = sync_channel(2);
        std::thread::Builder::new()
            .name("parquet-records".into())
            .spawn(move || Self::run(queue))
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Self { jobs })
    }

    fn run(queue: Receiver<Job>) {
        let mut writer = None;
        let mut failed = None;
        for job in queue {
            match job {
                Job::Begin(next) => {
                    writer = Some(next);
                    failed = None;
                }
                Job::Write(column) => {
                    if failed.is_none()
                        && let Some(writer) = writer.as_mut()
                        && let Err(e) = writer.write(&column)
                    {
                        failed = Some(e);
                    }
                }
                Job::End(reply) => {
                    let chunk = match (failed.take(), writer.take()) {
                        (Some(e), _) => Err(e),
                        (None, Some(writer)) => writer.close(),
                        (None, None) => Err(ParquetError::General("no row group begun".into())),
                    };
                    let _ = reply.send(chunk);
                }
            }
        }
    }

    fn send(&self, job: Job) -> Result<(), ParquetError> {
        self.jobs.send(job).map_err(|_| Self::stopped())
    }

    fn begin(&self, writer: ArrowColumnWriter) -> Result<(), ParquetError> {
        self.send(Job::Begin(writer))
    }

    fn write(&self, column: ArrowLeafColumn) -> Result<(), ParquetError> {
        self.send(Job::Write(column))
    }

    /// The row group's record column, once every page sent is encoded.
    fn end(&self) -> Result<ArrowColumnChunk, ParquetError> {
        let (reply, chunk) = sync_channel(1);
        self.send(Job::End(reply))?;
        chunk.recv().map_err(|_| Self::stopped())?
    }

    fn stopped() -> ParquetError {
        ParquetError::General("the record column's writer stopped".into())
    }
}
