//! `modelmon report DIR`: report.html again from a report folder's JSON files, a run's
//! (report.json) or a baseline's (statistics.json, constraints.json and its report.json).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use modelmon_report::{render_folder, FolderFiles};

use crate::{write_file, CliError};

#[derive(Args)]
pub struct ReportArgs {
    /// The report folder.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Where to write the page (default: DIR/report.html).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: ReportArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let read = |name: &str| -> Result<Option<Vec<u8>>, CliError> {
        let path = args.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CliError::Read { path, source }),
        }
    };
    let files = FolderFiles {
        folder: args.dir.display().to_string(),
        report: read("report.json")?,
        statistics: read("statistics.json")?,
        constraints: read("constraints.json")?,
    };
    let read_time = started.elapsed();
    let page = render_folder(&files)?;
    let render_time = started.elapsed() - read_time;
    let output = args.output.unwrap_or_else(|| args.dir.join(page.name));
    write_file(&output, &page.bytes)?;
    if !args.quiet {
        println!(
            "Wrote {} ({} bytes; read {:.1} ms, parsed and rendered {:.1} ms)",
            output.display(),
            page.bytes.len(),
            read_time.as_secs_f64() * 1e3,
            render_time.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
