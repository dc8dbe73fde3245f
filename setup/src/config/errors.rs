//! What is wrong with a configuration file: the [`ConfigError`]s a caller sees, the
//! [`Problem`]s the lexer and the value parsers return before a problem has a line, and the
//! [`Report`] that collects them while the file is read.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in the configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line number; `None` for problems of the file as a whole (a missing key).
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is an obvious way.
    pub fix: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " (fix: {fix})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// All the problems found in a configuration file, in line order (file-level ones last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A problem with a line or a value, before it gets its file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Problem {
    pub message: String,
    pub fix: String,
    /// The message goes on a sentence about the key (`HA_STATE_MOUNT cannot be /`) instead
    /// of following it as a label (`HA_STATE_MOUNT: ...`).
    pub about_key: bool,
}

impl Problem {
    pub fn new(message: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            fix: fix.into(),
            about_key: false,
        }
    }

    /// A problem whose message is said of the key: `cannot be /`.
    pub fn about_key(message: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            about_key: true,
            ..Problem::new(message, fix)
        }
    }

    /// The message as reported for a value of `key`.
    pub fn of(&self, key: &str) -> String {
        let joint = if self.about_key { " " } else { ": " };
        format!("{key}{joint}{}", self.message)
    }
}

/// The problems found so far in one file.
pub(super) struct Report<'a> {
    file: &'a Path,
    errors: Vec<ConfigError>,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a Path) -> Report<'a> {
        Report {
            file,
            errors: Vec::new(),
        }
    }

    pub fn err(&mut self, line: Option<usize>, message: impl Into<String>, fix: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
            fix: Some(fix.into()),
        });
    }

    /// A problem of a line as a whole (its message says which key, if any).
    pub fn line(&mut self, line: usize, problem: Problem) {
        self.err(Some(line), problem.message, problem.fix);
    }

    /// A problem with the value of `key` on `line`.
    pub fn value(&mut self, line: usize, key: &str, problem: Problem) {
        self.err(Some(line), problem.of(key), problem.fix);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems in line order, those of the whole file last.
    pub fn into_errors(self) -> ConfigErrors {
        let mut errors = self.errors;
        errors.sort_by_key(|e| (e.line.is_none(), e.line));
        ConfigErrors(errors)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use crate::config::test_support::{errs, find, FILE};
    use crate::config::{parse, ConfigError, ConfigErrors};
    use std::path::Path;

    #[test]
    fn config_error_display() {
        let err = parse("HA_NAME=c\n", Path::new(FILE)).unwrap_err();
        let shown = err.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), err.0.len());
        assert_eq!(
            lines[0],
            "/etc/ganesha/ganesha-ha.conf: HA_CLUSTER_NODES is missing (fix: add \
             HA_CLUSTER_NODES=\"node1,node2,...\" (host names, not IP addresses))"
        );
        let e = ConfigError {
            file: FILE.into(),
            line: Some(4),
            message: "m".into(),
            fix: None,
        };
        assert_eq!(e.to_string(), "/etc/ganesha/ganesha-ha.conf:4: m");
    }

    #[test]
    fn config_all_errors_reported_in_line_order() {
        let text = "HA_NAME=\"this-name-is-far-too-long\"\n\
                    HA_CLUSTER_NODES=\"a,b,c\"\n\
                    VIP_a=10.0.2.1\n\
                    VIP_b=10.0.2.1\n\
                    bogus line\n\
                    HA_MON_INTERVAL=5y\n\
                    VIP_d=10.0.2.4\n";
        let e = errs(text);
        let lines: Vec<Option<usize>> = e.iter().map(|e| e.line).collect();
        assert_eq!(
            lines,
            [Some(1), Some(2), Some(4), Some(5), Some(6), Some(7), None],
            "{}",
            ConfigErrors(e.clone())
        );
        find(&e, Some(1), "longer than 15");
        find(&e, Some(2), "node c has no VIP");
        find(&e, Some(4), "also the VIP of node a");
        find(&e, Some(5), "not a KEY=value line");
        find(&e, Some(6), "unknown unit");
        find(&e, Some(7), "unknown node d");
        find(&e, None, "no fence device");
    }
}
