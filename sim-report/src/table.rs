//! A run directory's Parquet tables, read whole and column by column.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::Error;

/// One table of a run directory.
pub struct Table {
    name: String,
    batch: RecordBatch,
}

impl Table {
    /// Reads `dir/name`; `None` when the run has no such file.
    pub fn read(dir: &Path, name: &str) -> Result<Option<Table>, Error> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let bad = |e: String| Error::Input(format!("preflight: report: {}: {e}", path.display()));
        let file = std::fs::File::open(&path).map_err(|e| bad(e.to_string()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| bad(format!("not a Parquet table: {e}")))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        let batch = arrow::compute::concat_batches(&first.schema(), &batches)
            .map_err(|e| bad(e.to_string()))?;
        Ok(Some(Table {
            name: name.to_owned(),
            batch,
        }))
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    fn column(&self, col: &str, to: &DataType) -> Result<arrow::array::ArrayRef, Error> {
        let c = self.batch.column_by_name(col).ok_or_else(|| {
            Error::Input(format!(
                "preflight: report: {} has no column `{col}`: not a table this version writes",
                self.name
            ))
        })?;
        arrow::compute::cast(c, to).map_err(|e| {
            Error::Input(format!(
                "preflight: report: {}: column `{col}`: {e}",
                self.name
            ))
        })
    }

    /// A text column (null as empty).
    pub fn str(&self, col: &str) -> Result<Vec<String>, Error> {
        let a = self.column(col, &DataType::Utf8)?;
        let a = a.as_string::<i32>();
        Ok((0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    String::new()
                } else {
                    a.value(i).to_owned()
                }
            })
            .collect())
    }

    /// A numeric column (`None` for null or a missing column).
    pub fn f64(&self, col: &str) -> Result<Vec<Option<f64>>, Error> {
        if self.batch.column_by_name(col).is_none() {
            return Ok(vec![None; self.rows()]);
        }
        let a = self.column(col, &DataType::Float64)?;
        let a = a.as_primitive::<Float64Type>();
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i)))
            .collect())
    }

    /// A boolean column (null as false).
    pub fn bool(&self, col: &str) -> Result<Vec<bool>, Error> {
        let a = self.column(col, &DataType::Boolean)?;
        let a = a.as_boolean();
        Ok((0..a.len()).map(|i| !a.is_null(i) && a.value(i)).collect())
    }
}
