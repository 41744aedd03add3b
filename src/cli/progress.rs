//! Terminal progress: an indicatif spinner that shows the current stage and
//! download bytes, adapting the library's `Progress` trait.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zk_chaos::dist::Progress;

/// A spinner on stderr (hidden when stderr is not a terminal; stages are
/// then printed as lines so CI logs still show them).
pub struct Spinner {
    bar: ProgressBar,
    start: Instant,
    tty: bool,
}

impl Spinner {
    /// A new spinner.
    pub fn new() -> Self {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = if tty { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}").expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, start: Instant::now(), tty }
    }

    /// Print a line above the spinner.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.tty {
            self.bar.println(line.as_ref());
        } else {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Stop and clear the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Spinner {
    fn stage(&self, msg: &str) {
        if !self.tty {
            eprintln!("[{:>5.1}s] {msg}", self.start.elapsed().as_secs_f64());
        }
        self.bar.set_message(msg.to_string());
    }

    fn bytes(&self, done: u64, total: Option<u64>) {
        let mb = |b: u64| b as f64 / 1_048_576.0;
        let msg = match total {
            Some(t) => format!("downloading {:.1}/{:.1} MiB", mb(done), mb(t)),
            None => format!("downloading {:.1} MiB", mb(done)),
        };
        self.bar.set_message(msg);
    }
}
