//! Running the `modelmon` binary as a user does, shared by the CLI tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn modelmon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelmon"))
        .args(args)
        .output()
        .expect("the modelmon binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Exit status 0; returns stdout.
pub fn assert_success(result: &Output) -> String {
    assert!(
        result.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        result.status.code(),
        text(&result.stdout),
        text(&result.stderr)
    );
    text(&result.stdout)
}

/// Exit status 1 and an `error: ` message on stderr; returns the message.
pub fn assert_failure(result: &Output) -> String {
    assert_eq!(
        result.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    let stderr = text(&result.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// Writes `contents` to `path`, creating its folder.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).unwrap();
    std::fs::write(path, contents).unwrap();
    path.to_path_buf()
}
