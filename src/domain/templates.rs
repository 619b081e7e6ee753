//! The message templates: the built-in ones, each of which an operator may replace with a file
//! of the same name in a directory of their own (`files.templates`), read with the rest of the
//! configuration — a new wording, signature or logo takes effect on reload, without a rebuild.

use std::collections::BTreeMap;

use minijinja::Environment;

use super::config::{ConfigError, ConfigErrors};

/// Every message template: its name in the environment, its file (under `templates/` in the
/// source and under an override directory) and its built-in text.
const BUILT_IN: [(&str, &str, &str); 17] = [
    // The page every HTML mail is set in (head, width, footer): a logo goes here.
    (
        "mail_layout.html",
        "mail_layout.html",
        include_str!("../../templates/mail_layout.html"),
    ),
    ("sv.txt", "email/sv.txt", include_str!("../../templates/email/sv.txt")),
    ("en.txt", "email/en.txt", include_str!("../../templates/email/en.txt")),
    (
        "sv.html",
        "email/sv.html",
        include_str!("../../templates/email/sv.html"),
    ),
    (
        "en.html",
        "email/en.html",
        include_str!("../../templates/email/en.html"),
    ),
    (
        "sv.chat.html",
        "chat/sv.html",
        include_str!("../../templates/chat/sv.html"),
    ),
    (
        "en.chat.html",
        "chat/en.html",
        include_str!("../../templates/chat/en.html"),
    ),
    (
        "calls.sv.txt",
        "calls/sv.txt",
        include_str!("../../templates/calls/sv.txt"),
    ),
    (
        "calls.en.txt",
        "calls/en.txt",
        include_str!("../../templates/calls/en.txt"),
    ),
    (
        "calls.sv.html",
        "calls/sv.html",
        include_str!("../../templates/calls/sv.html"),
    ),
    (
        "calls.en.html",
        "calls/en.html",
        include_str!("../../templates/calls/en.html"),
    ),
    (
        "calls.sv.chat.html",
        "calls/sv.chat.html",
        include_str!("../../templates/calls/sv.chat.html"),
    ),
    (
        "calls.en.chat.html",
        "calls/en.chat.html",
        include_str!("../../templates/calls/en.chat.html"),
    ),
    (
        "sign_in.sv.txt",
        "sign_in/sv.txt",
        include_str!("../../templates/sign_in/sv.txt"),
    ),
    (
        "sign_in.en.txt",
        "sign_in/en.txt",
        include_str!("../../templates/sign_in/en.txt"),
    ),
    (
        "sign_in.sv.html",
        "sign_in/sv.html",
        include_str!("../../templates/sign_in/sv.html"),
    ),
    (
        "sign_in.en.html",
        "sign_in/en.html",
        include_str!("../../templates/sign_in/en.html"),
    ),
];

/// The files an override directory may hold, relative to it.
pub fn file_names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(_, file, _)| *file)
}

/// The templates messages are rendered with.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Each template's origin (its override file, or the built-in one) and text, by its name
    /// in the environment.
    sources: BTreeMap<&'static str, (String, String)>,
}

/// HTML escaping as minijinja's, except that '/' stays itself: links in mails then read as
/// links in every client ("https://…", not "https:&#x2f;&#x2f;…"). Inside quoted attributes and
/// text, '/' opens nothing.
fn mail_formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match (state.auto_escape(), value.as_str()) {
        (minijinja::AutoEscape::Html, Some(text)) if !value.is_safe() => {
            for part in text.split('/').enumerate() {
                if part.0 > 0 {
                    out.write_str("/")?;
                }
                minijinja::escape_formatter(out, state, &minijinja::Value::from(part.1))?;
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

impl PartialEq for Templates {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

impl Templates {
    /// The built-in templates.
    pub fn built_in() -> Self {
        // The built-in templates parse: the tests render every one of them.
        Self::with_overrides(Vec::new()).unwrap_or_else(|_| Self {
            env: Environment::new(),
            sources: BTreeMap::new(),
        })
    }

    /// The built-in templates with `overrides` — (file relative to the directory, its path
    /// for messages, its text) — in their place; a template that does not parse is an error
    /// naming its file and line, and so is a file that replaces no template.
    pub fn with_overrides(overrides: Vec<(String, String, String)>) -> Result<Self, ConfigErrors> {
        let mut env = Environment::new();
        env.set_formatter(mail_formatter);
        let mut sources = BTreeMap::new();
        let mut errors = Vec::new();
        let mut overrides: BTreeMap<String, (String, String)> = overrides
            .into_iter()
            .map(|(file, path, text)| (file, (path, text)))
            .collect();
        for (name, file, built_in) in BUILT_IN {
            let (origin, text) = overrides
                .remove(file)
                .unwrap_or_else(|| (format!("templates/{file} (built in)"), built_in.to_owned()));
            if let Err(error) = env.add_template_owned(name, text.clone()) {
                errors.push(template_error(&origin, &error));
            }
            sources.insert(name, (origin, text));
        }
        for (file, (path, _)) in overrides {
            errors.push(ConfigError {
                file: path,
                line: None,
                key: String::new(),
                reason: format!(
                    "\"{file}\" replaces no message template; the templates are {}",
                    file_names().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if errors.is_empty() {
            Ok(Self { env, sources })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Renders the template `name` with `context`.
    pub(crate) fn render(&self, name: &str, context: &minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }

    /// Where the template `name` comes from, for error messages: its override file, or the
    /// built-in one.
    pub(crate) fn origin(&self, name: &str) -> String {
        self.sources
            .get(name)
            .map_or_else(|| name.to_owned(), |(origin, _)| origin.clone())
    }
}

/// A template's error as a configuration error: its file, line and what is wrong.
pub(crate) fn template_error(origin: &str, error: &minijinja::Error) -> ConfigError {
    ConfigError {
        file: origin.to_owned(),
        line: error.line(),
        key: String::new(),
        reason: match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mails_keep_slashes_and_escape_everything_else() {
        let mut env = Environment::new();
        env.set_formatter(mail_formatter);
        env.add_template("x.html", "<a href=\"{{ url }}\">{{ text }}</a>")
            .unwrap();
        let context = minijinja::context! { url => "https://a.example/b?c=1&d=\"e\"", text => "<b>1/2</b>" };
        assert_eq!(
            env.get_template("x.html").unwrap().render(context).unwrap(),
            "<a href=\"https://a.example/b?c=1&amp;d=&quot;e&quot;\">&lt;b&gt;1/2&lt;/b&gt;</a>"
        );
    }
}
