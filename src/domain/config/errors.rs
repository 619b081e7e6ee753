//! Configuration errors that say where (file, line, key) and what is wrong.

use std::fmt;
use std::ops::Range;

/// The text of one configuration file and the name it is reported under.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    /// The path as the operator wrote it, e.g. `config/calendar.toml`.
    pub name: &'a str,
    /// The whole file.
    pub text: &'a str,
}

impl SourceFile<'_> {
    /// The 1-based line on which the byte `span` starts.
    pub fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    /// An error at `span` about `key`.
    pub fn error_at(&self, span: Range<usize>, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.name.to_owned(),
            line: Some(self.line_of(&span)),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The file could not be read as TOML or does not have the expected shape.
    pub fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        ConfigError {
            file: self.name.to_owned(),
            line: error.span().map(|span| self.line_of(&span)),
            key: String::new(),
            reason: error.message().trim().to_owned(),
        }
    }
}

/// One thing wrong in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as named by the operator.
    pub file: String,
    /// The 1-based line, where it is known.
    pub line: Option<usize>,
    /// The dotted key, e.g. `units[3].roles.manager.person`; empty when the file as a whole is at fault.
    pub key: String,
    /// What is wrong, in a sentence an operator can act on.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every error found in one validation pass, so the operator can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_file_line_key_reason() {
        let source = SourceFile {
            name: "config/x.toml",
            text: "a = 1\nb = 2\n",
        };
        let error = source.error_at(6..7, "b", "must be a date");
        assert_eq!(error.to_string(), "config/x.toml:2: b: must be a date");
    }
}
