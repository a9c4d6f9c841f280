//! The posts as Parquet, the columnar file pandas, polars, R's arrow and DuckDB read directly:
//! typed columns (numbers as 64-bit integers, times as UTC timestamps, text as UTF-8, the record
//! as its JSON text), Snappy-compressed, written page by page while the export streams. The writer
//! holds at most one row group before it goes out.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::post_rows::PostRow;

/// Rows per row group at most: enough for readers to scan fast.
pub const ROW_GROUP: usize = 16_384;
/// And bytes per row group at most (estimated, encoded): the group being built is held in memory,
/// and records can be large.
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
    writer: Option<ArrowWriter<Sink>>,
    sink: Sink,
}

impl PostsParquet {
    pub fn new() -> Result<Self, ParquetError> {
        let schema = schema();
        let sink = Sink::default();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Dictionaries only where values repeat: building one for each record's text (all
            // different) cost time and memory, then was dropped.
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("platform"), true)
            .set_column_dictionary_enabled(ColumnPath::from("snapshot_id"), true)
            .set_column_dictionary_enabled(ColumnPath::from("author"), true)
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_created_by(format!(
                "track-futura webhook {}",
                env!("CARGO_PKG_VERSION")
            ))
            .build();
        let writer = ArrowWriter::try_new(sink.clone(), schema.clone(), Some(properties))?;
        Ok(Self {
            schema,
            writer: Some(writer),
            sink,
        })
    }

    /// Adds `rows`; on the `last` page, ends the file. The bytes ready to send (none while a row
    /// group is still being filled).
    pub fn page(&mut self, rows: &[PostRow], last: bool) -> Result<Vec<u8>, ParquetError> {
        let batch = (!rows.is_empty()).then(|| self.batch(rows)).transpose()?;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| ParquetError::General("the file is already closed".into()))?;
        if let Some(batch) = batch {
            writer.write(&batch)?;
        }
        if last && let Some(writer) = self.writer.take() {
            writer.close()?;
        }
        Ok(self.sink.take())
    }

    fn batch<'r>(&self, rows: &[PostRow<'r>]) -> Result<RecordBatch, ParquetError> {
        let numbers = |value: fn(&PostRow<'r>) -> Option<i64>| -> ArrayRef {
            Arc::new(rows.iter().map(value).collect::<Int64Array>())
        };
        // Sized before it is filled: grown as it went, a page's records were copied once more.
        let texts = |value: fn(&PostRow<'r>) -> Option<&'r str>| -> ArrayRef {
            let bytes = rows.iter().filter_map(value).map(str::len).sum();
            let mut column = StringBuilder::with_capacity(rows.len(), bytes);
            column.extend(rows.iter().map(value));
            Arc::new(column.finish())
        };
        let times = |value: fn(&PostRow<'r>) -> Option<i64>| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(value)
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone("UTC"),
            )
        };
        let text: ArrayRef = Arc::new(
            rows.iter()
                .map(|p| delivery::records::post_text(p.data))
                .collect::<StringArray>(),
        );
        let columns = vec![
            numbers(|p| Some(p.id)),
            texts(|p| Some(p.platform)),
            texts(|p| Some(p.post_id)),
            texts(|p| p.snapshot_id),
            numbers(|p| Some(p.delivery_id)),
            texts(|p| p.url),
            texts(|p| p.author),
            times(|p| p.posted_ms),
            numbers(|p| p.likes),
            numbers(|p| p.comments),
            numbers(|p| p.shares),
            numbers(|p| p.views),
            text,
            numbers(|p| Some(i64::from(p.times_delivered))),
            times(|p| Some(p.first_seen_ms)),
            times(|p| Some(p.updated_ms)),
            texts(|p| Some(p.data)),
        ];
        RecordBatch::try_new(self.schema.clone(), columns).map_err(ParquetError::from)
    }
}
