//! The `modelmon` binary run as a user runs it: one test binary, one module per command.

mod analyze_cli;
mod baseline_cli;
mod common;
mod demo_cli;
mod report_page;
