//! Parquet files, read one row group at a time with polars so memory stays bounded by the
//! largest row group, not the file.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::parts::{Part, PartContext, PartReader, PartResult};
use crate::profile::{ColumnProfile, DatasetProfile};
use crate::types::ValueKind;
use crate::EngineError;

/// Reads Parquet sources, one part each. polars reads a Parquet file with random access, so a
/// source that is not a local file is copied to one first (see [`super::Source::local_file`]).
pub(crate) struct ParquetParts;

impl PartReader for ParquetParts {
    type Extra = ();

    fn read(
        &self,
        part: &Part,
        mut profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<()>, EngineError> {
        let source = &context.sources[part.source];
        let name = source.name();
        if source.size() == 0 {
            profile.records.empty_files.push(name.to_string());
            return Ok(PartResult::new(profile, 0, ()));
        }
        let file = source.local_file().map_err(|e| EngineError::io(name, e))?;
        profile_parquet_file((*file).as_ref(), name, &mut profile, &|rows| {
            context.progress(0, rows);
        })?;
        Ok(PartResult::new(profile, 0, ()))
    }
}

/// Profiles the Parquet file at `path` (named `name` in errors), a row group at a time.
fn profile_parquet_file(
    path: &Path,
    name: &str,
    profile: &mut DatasetProfile,
    progress: &dyn Fn(u64),
) -> Result<(), EngineError> {
    let open = || File::open(path).map_err(|e| EngineError::io(name, e));
    let parquet_error = |err: PolarsError| EngineError::Parquet {
        path: name.into(),
        message: err.to_string(),
    };
    let file = open()?;
    let file_len = file.metadata().map_err(|e| EngineError::io(name, e))?.len();
    if file_len == 0 {
        profile.records.empty_files.push(name.to_string());
        return Ok(());
    }
    let metadata = ParquetReader::new(file).get_metadata().map_err(parquet_error)?.clone();
    // polars trusts the footer's offsets; a truncated file would make it index out of bounds.
    for row_group in &metadata.row_groups {
        if let Some(range) = row_group.byte_ranges_iter().find(|r| r.end > file_len) {
            return Err(EngineError::Parquet {
                path: name.into(),
                message: format!(
                    "the file is truncated: a column chunk ends at byte {} but the file has {file_len} bytes",
                    range.end
                ),
            });
        }
    }
    let read_frame = |slice: Option<(usize, usize)>| -> Result<DataFrame, EngineError> {
        let mut reader = ParquetReader::new(open()?);
        reader.set_metadata(metadata.clone());
        // Backstop for corrupt pages polars does not validate: an error naming the file, not a crash.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.with_slice(slice).finish()))
            .map_err(|_| EngineError::Parquet {
                path: name.into(),
                message: "the file is corrupt".to_string(),
            })?
            .map_err(parquet_error)
    };
    let frame_error = |message| EngineError::Parquet {
        path: name.into(),
        message,
    };
    let mut offset = 0usize;
    for row_group in &metadata.row_groups {
        let rows = row_group.num_rows();
        let frame = read_frame(Some((offset, rows)))?;
        offset += rows;
        observe_frame(&frame, profile).map_err(frame_error)?;
        progress(profile.records.read);
    }
    if metadata.row_groups.is_empty() {
        // A file with a schema and no rows still names its columns.
        let frame = read_frame(None)?;
        observe_frame(&frame, profile).map_err(frame_error)?;
    }
    Ok(())
}

fn observe_frame(frame: &DataFrame, profile: &mut DatasetProfile) -> Result<(), String> {
    for column in frame.columns() {
        let name = column.name().as_str();
        let i = profile.column_index(name);
        observe_series(column.as_materialized_series(), &mut profile.columns[i]).map_err(|err| {
            format!("column `{name}`: {err} (only flat columns are profiled: flatten nested ones first)")
        })?;
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
