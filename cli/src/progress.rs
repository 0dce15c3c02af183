//! Progress on long inputs: a self-updating line on a terminal, silence otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use modelmon_engine::dataset::Progress;

pub struct ProgressLine {
    enabled: bool,
    started: Instant,
    last_draw: Option<Instant>,
}

impl ProgressLine {
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_draw: None,
        }
    }

    pub fn update(&mut self, progress: Progress) {
        // Only inputs that take a while get a progress line, redrawn at most 5 times a second.
        let now = Instant::now();
        if !self.enabled || now.duration_since(self.started) < Duration::from_millis(500) {
            return;
        }
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(now);
        let percent = if progress.bytes_total > 0 {
            format!(
                " ({:.0}%)",
                100.0 * progress.bytes_done as f64 / progress.bytes_total as f64
            )
        } else {
            String::new()
        };
        eprint!(
            "\r  read {} of {}{percent}, {} records   ",
            human_bytes(progress.bytes_done),
            human_bytes(progress.bytes_total),
            progress.records
        );
        let _ = std::io::stderr().flush();
    }

    pub fn finish(&mut self) {
        if self.last_draw.is_some() {
            eprint!("\r{}\r", " ".repeat(72));
        }
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
