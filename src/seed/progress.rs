//! Progress of the seed: bars on a terminal (several at once while the
//! connections work side by side), one line per finished step otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Progress {
    terminal: bool,
    bars: MultiProgress,
}

/// A step under way.
pub struct Step<'a> {
    pub bar: ProgressBar,
    name: String,
    started: Instant,
    progress: &'a Progress,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            bars: MultiProgress::new(),
        }
    }

    /// A bar over `total` rows, or a spinner when `total` is 0.
    pub fn step(&self, name: String, total: usize) -> Step<'_> {
        let bar = if !self.terminal {
            ProgressBar::hidden()
        } else if total == 0 {
            let bar = ProgressBar::new_spinner().with_prefix(name.clone());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>36} {spinner} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bars.add(bar)
        } else {
            let bar = ProgressBar::new(total as u64).with_prefix(name.clone());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>36} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.bars.add(bar)
        };
        Step {
            bar,
            name,
            started: Instant::now(),
            progress: self,
        }
    }

    /// Reports a step that ran without a bar, started at `started`.
    pub fn done(&self, name: &str, started: Instant) {
        self.line(&format!(
            "{name:>36} in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
    }

    fn line(&self, line: &str) {
        if self.terminal {
            let _ = self.bars.println(line);
        } else {
            eprintln!("seed: {}", line.trim_start());
        }
    }
}

impl Step<'_> {
    pub fn finish(self, what: &str) {
        self.bar.finish_and_clear();
        self.progress.bars.remove(&self.bar);
        self.progress.line(&format!(
            "{:>36} {what} in {:.1}s",
            self.name,
            self.started.elapsed().as_secs_f64()
        ));
    }
}
