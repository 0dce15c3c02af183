//! Parquet files, read one row group at a time with polars so memory stays bounded by the
//! largest row group, not the file.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::Reading;
use crate::profile::{ColumnProfile, DatasetProfile};
use crate::types::ValueKind;
use crate::EngineError;

pub(crate) fn profile_parquet_file(
    path: &Path,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    let open = || File::open(path).map_err(|e| EngineError::io(path, e));
    let parquet_error = |err: PolarsError| EngineError::Parquet {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    let file = open()?;
    if file.metadata().map_err(|e| EngineError::io(path, e))?.len() == 0 {
        profile.records.empty_files.push(path.display().to_string());
        return Ok(());
    }
    let metadata = ParquetReader::new(file).get_metadata().map_err(parquet_error)?.clone();
    let mut offset = 0usize;
    for row_group in &metadata.row_groups {
        let rows = row_group.num_rows();
        let mut reader = ParquetReader::new(open()?);
        reader.set_metadata(metadata.clone());
        let frame = reader
            .with_slice(Some((offset, rows)))
            .finish()
            .map_err(parquet_error)?;
        offset += rows;
        observe_frame(&frame, profile).map_err(parquet_error)?;
        reading.report(0, profile.records.read);
    }
    if metadata.row_groups.is_empty() {
        // A file with a schema and no rows still names its columns.
        let frame = ParquetReader::new(open()?).finish().map_err(parquet_error)?;
        observe_frame(&frame, profile).map_err(parquet_error)?;
    }
    Ok(())
}

fn observe_frame(frame: &DataFrame, profile: &mut DatasetProfile) -> PolarsResult<()> {
    for column in frame.columns() {
        let i = profile.column_index(column.name().as_str());
        observe_series(column.as_materialized_series(), &mut profile.columns[i])?;
    }
    profile.records.analysed_many(frame.height() as u64);
    Ok(())
}

fn observe_series(series: &Series, column: &mut ColumnProfile) -> PolarsResult<()> {
    let dtype = series.dtype();
    if dtype.is_float() || dtype.is_integer() {
        let kind = if dtype.is_float() {
            ValueKind::Fractional
        } else {
            ValueKind::Integral
        };
        let values = series.cast(&DataType::Float64)?;
        // NaN and infinities cannot enter moments or sketches: they count as missing.
        for value in values.f64()?.iter().flatten().filter(|v| v.is_finite()) {
            column.observe_number(value, kind);
        }
    } else if dtype == &DataType::Boolean {
        for value in series.bool()?.iter().flatten() {
            column.observe_bool(value);
        }
    } else {
        // Strings are typed by their text, as Deequ does; other types (dates...) by their text form.
        let text = series.cast(&DataType::String)?;
        for value in text.str()?.iter().flatten() {
            column.observe_text(value);
        }
    }
    Ok(())
}
