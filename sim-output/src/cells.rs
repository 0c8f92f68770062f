//! Rows as named text cells: what `preflight replay` compares a
//! re-simulated row with the file's by.
//!
//! A row is turned into cells through its table's own builders and schema
//! ([`TableRow`]), and a file's rows are read with its own schema, so both
//! sides are formatted by the same Arrow display code: equal values give
//! equal text (floats print with every digit that tells them apart).

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, RecordBatch};
use arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{OutputError, RowBuilder, TableRow};

/// One row: `(column, value)` in schema order; a null is `null`.
pub type Cells = Vec<(String, String)>;

/// The cells of `rows`, formatted as their table writes them.
pub fn of<R: TableRow>(rows: &[R]) -> Result<Vec<Cells>, OutputError> {
    let mut b = R::Builder::default();
    for r in rows {
        b.append(r);
    }
    let batch =
        RecordBatch::try_new(R::schema(), b.finish()).map_err(|source| OutputError::Arrow {
            path: R::FILE_NAME.into(),
            source,
        })?;
    (0..batch.num_rows())
        .map(|r| row_cells(&batch, r, Path::new(R::FILE_NAME)))
        .collect()
}

/// The rows of the Parquet file `path` whose cells agree with `key` (every
/// `(column, value)` of it), in file order.
pub fn read_matching(path: &Path, key: &[(String, String)]) -> Result<Vec<Cells>, OutputError> {
    let file = File::open(path).map_err(|e| OutputError::io("open", path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| OutputError::parquet(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| OutputError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let schema = batch.schema();
        // A file without one of the key's columns has no matching row.
        let Some(cols) = key
            .iter()
            .map(|(c, _)| schema.index_of(c).ok())
            .collect::<Option<Vec<usize>>>()
        else {
            return Ok(Vec::new());
        };
        for row in 0..batch.num_rows() {
            let hit = key.iter().zip(&cols).all(|((_, v), c)| {
                cell(batch.column(*c).as_ref(), row, path).is_ok_and(|s| s == *v)
            });
            if hit {
                out.push(row_cells(&batch, row, path)?);
            }
        }
    }
    Ok(out)
}

fn row_cells(batch: &RecordBatch, row: usize, path: &Path) -> Result<Cells, OutputError> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| Ok((f.name().clone(), cell(a.as_ref(), row, path)?)))
        .collect()
}

fn cell(a: &dyn Array, row: usize, path: &Path) -> Result<String, OutputError> {
    if a.is_null(row) {
        return Ok("null".to_owned());
    }
    array_value_to_string(a, row).map_err(|source| OutputError::Arrow {
        path: path.to_owned(),
        source,
    })
}
