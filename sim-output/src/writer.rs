//! Streaming Parquet writers: [`BatchWriter`] for record batches of any
//! schema, [`TableWriter`] for the rows of one [`TableRow`] table, and the
//! one-shot helpers [`write_table`] and [`write_rows`].
//!
//! Memory is bounded whatever the number of rows: a [`TableWriter`] holds at
//! most [`WriteOptions::batch_rows`] rows in its Arrow builders, and the
//! Parquet writer at most one row group of [`WriteOptions::row_group_rows`]
//! rows (or [`WriteOptions::row_group_bytes`] bytes, whichever comes first).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::error::OutputError;
use super::tables::{RowBuilder, TableRow};

/// Key of the Parquet key-value metadata entry holding the preflight version.
pub const VERSION_METADATA_KEY: &str = "preflight.version";

/// Tuning of the Parquet writers. The defaults suit runs of any size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Rows buffered in Arrow builders before a record batch is handed to the
    /// Parquet writer (default 65,536). Values below 1 count as 1.
    pub batch_rows: usize,
    /// Largest row group, in rows (default 262,144). Values below 1 count as 1.
    pub row_group_rows: usize,
    /// Largest row group, in estimated encoded bytes (default 128 MiB).
    /// Values below 1 count as 1.
    pub row_group_bytes: usize,
}

impl WriteOptions {
    /// Default [`batch_rows`](Self::batch_rows): 64 Ki rows.
    pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;
    /// Default [`row_group_rows`](Self::row_group_rows): 256 Ki rows.
    pub const DEFAULT_ROW_GROUP_ROWS: usize = 256 * 1024;
    /// Default [`row_group_bytes`](Self::row_group_bytes): 128 MiB.
    pub const DEFAULT_ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;

    /// The Parquet writer properties every file of a run directory is written
    /// with: snappy compression, dictionary encoding (which gives readers plain
    /// strings, unlike an Arrow `Dictionary` type), bounded row groups, and
    /// the preflight version in the key-value metadata.
    ///
    /// `created_by` stays parquet-rs's own: readers use it to work around
    /// known bugs of the library that wrote a file.
    pub fn writer_properties(&self) -> WriterProperties {
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(true)
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(self.row_group_bytes.max(1)))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                VERSION_METADATA_KEY.to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]))
            .build()
    }
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            batch_rows: Self::DEFAULT_BATCH_ROWS,
            row_group_rows: Self::DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: Self::DEFAULT_ROW_GROUP_BYTES,
        }
    }
}

/// Writes record batches of one schema to one Parquet file.
///
/// [`finish`](Self::finish) must be called: it writes the footer, without
/// which the file is unreadable, and syncs the file to disk. A writer dropped
/// unfinished leaves a truncated file behind (the run directory's staging
/// directory, where these files live, is then removed as a whole).
pub struct BatchWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl BatchWriter {
    /// Creates (or truncates) the file at `path` and starts a Parquet file of
    /// `schema` in it.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        options: &WriteOptions,
    ) -> Result<Self, OutputError> {
        let file = File::create(path).map_err(|e| OutputError::io("create", path, e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(options.writer_properties()))
            .map_err(|e| OutputError::parquet(path, e))?;
        Ok(BatchWriter {
            path: path.to_owned(),
            schema,
            writer,
            rows: 0,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema of the file.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one record batch; it must have the writer's schema. Row groups
    /// are closed as they reach their limits, so memory stays bounded.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), OutputError> {
        if batch.schema() != self.schema {
            return Err(OutputError::Arrow {
                path: self.path.clone(),
                source: arrow::error::ArrowError::SchemaError(format!(
                    "batch schema {:?} differs from the file's schema {:?}",
                    batch.schema(),
                    self.schema
                )),
            });
        }
        self.writer
            .write(batch)
            .map_err(|e| OutputError::parquet(&self.path, e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Flushes the last row group, writes the footer and syncs the file to
    /// disk. Returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, OutputError> {
        // `finish` (not `into_inner`) writes the footer exactly once and
        // flushes the buffered writer, after which the file can be synced.
        self.writer
            .finish()
            .map_err(|e| OutputError::parquet(&self.path, e))?;
        self.writer
            .inner()
            .sync_all()
            .map_err(|e| OutputError::io("sync", &self.path, e))?;
        Ok(self.rows)
    }
}

/// Streams the rows of one table to its Parquet file, a batch at a time.
pub struct TableWriter<R: TableRow> {
    builder: R::Builder,
    batch_rows: usize,
    file: BatchWriter,
}

impl<R: TableRow> std::fmt::Debug for TableWriter<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("table", &R::NAME)
            .field("file", &self.file)
            .field("buffered", &self.builder.len())
            .finish_non_exhaustive()
    }
}

impl<R: TableRow> TableWriter<R> {
    /// Creates `dir/{R::FILE_NAME}` and starts writing the table there.
    pub fn create(dir: &Path, options: &WriteOptions) -> Result<Self, OutputError> {
        let file = BatchWriter::create(&dir.join(R::FILE_NAME), R::schema(), options)?;
        Ok(TableWriter {
            builder: R::Builder::default(),
            batch_rows: options.batch_rows.max(1),
            file,
        })
    }

    /// Changes how many rows are buffered before a batch is written (at least 1).
    pub fn set_batch_rows(&mut self, rows: usize) {
        self.batch_rows = rows.max(1);
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Rows appended so far (written or still buffered).
    pub fn rows(&self) -> u64 {
        self.file.rows() + self.builder.len() as u64
    }

    /// Appends one row; writes a batch when [`WriteOptions::batch_rows`] rows
    /// are buffered.
    pub fn push(&mut self, row: &R) -> Result<(), OutputError> {
        self.builder.append(row);
        if self.builder.len() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one batch.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let columns = self.builder.finish();
        let batch =
            RecordBatch::try_new(self.file.schema().clone(), columns).map_err(|source| {
                OutputError::Arrow {
                    path: self.file.path().to_owned(),
                    source,
                }
            })?;
        self.file.write(&batch)
    }

    /// Writes the buffered rows, the footer, and syncs the file. Returns the
    /// number of rows written.
    pub fn finish(mut self) -> Result<u64, OutputError> {
        self.flush()?;
        self.file.finish()
    }
}

/// Writes a whole Parquet file of `schema` from `batches` (each of that
/// schema) with the run directory's [`WriteOptions::default`] properties,
/// and syncs it. Returns the number of rows written.
///
/// For later tables that build their own record batches; tables with a
/// [`TableRow`] type use [`write_rows`] or [`TableWriter`].
pub fn write_table<I>(path: &Path, schema: SchemaRef, batches: I) -> Result<u64, OutputError>
where
    I: IntoIterator<Item = RecordBatch>,
{
    let mut file = BatchWriter::create(path, schema, &WriteOptions::default())?;
    for batch in batches {
        file.write(&batch)?;
    }
    file.finish()
}

/// Writes `rows` as table `R` to `dir/{R::FILE_NAME}` and syncs it. Returns
/// the number of rows written.
pub fn write_rows<R: TableRow>(
    dir: &Path,
    rows: &[R],
    options: &WriteOptions,
) -> Result<u64, OutputError> {
    let mut table = TableWriter::<R>::create(dir, options)?;
    for row in rows {
        table.push(row)?;
    }
    table.finish()
}
