//! The municipality's configuration as typed values: the directory and the calendar, parsed
//! and cross-checked together. Pure: callers read the files and hand in their text.

pub mod calendar;
pub mod directory;
pub mod errors;

use jiff::civil::Date;

pub use calendar::{Calendar, DueRule, Obligation, ObligationId, Recurrence};
pub use directory::{
    Assignment, Channel, Directory, Language, Person, PersonId, Role, Transport, Unit, UnitId, UnitKind,
};
pub use errors::{ConfigError, ConfigErrors, SourceFile};

/// The directory and calendar that arshjul runs with, and the templates of its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub directory: Directory,
    pub calendar: Calendar,
    /// The built-in message templates, or an operator's in their place (`files.templates`).
    pub templates: std::sync::Arc<crate::domain::templates::Templates>,
}

impl Config {
    /// Parses both files, reporting the errors of both at once.
    /// A configuration with no obligations, no units or no people is refused: it would
    /// silence every reminder (an empty file is what a failed copy or a full disk leaves).
    pub fn parse(directory: SourceFile<'_>, calendar: SourceFile<'_>) -> Result<Self, ConfigErrors> {
        let names = (directory.name, calendar.name);
        match (Directory::parse(directory), Calendar::parse(calendar)) {
            (Ok(directory), Ok(calendar)) => {
                let empty = |file: &str, key: &str, what: &str| ConfigError {
                    file: file.to_owned(),
                    line: None,
                    key: key.to_owned(),
                    reason: format!(
                        "there are no {what}: a configuration without them would remind nobody of anything"
                    ),
                };
                let errors: Vec<ConfigError> = [
                    (calendar.obligations.is_empty(), names.1, "obligations", "obligations"),
                    (directory.units.is_empty(), names.0, "units", "units"),
                    (directory.people.is_empty(), names.0, "people", "people"),
                ]
                .into_iter()
                .filter(|(is_empty, ..)| *is_empty)
                .map(|(_, file, key, what)| empty(file, key, what))
                .collect();
                if errors.is_empty() {
                    Ok(Self {
                        directory,
                        calendar,
                        templates: std::sync::Arc::new(crate::domain::templates::Templates::built_in()),
                    })
                } else {
                    Err(ConfigErrors(errors))
                }
            }
            (directory, calendar) => Err(ConfigErrors(
                directory
                    .err()
                    .into_iter()
                    .chain(calendar.err())
                    .flat_map(|errors| errors.0)
                    .collect(),
            )),
        }
    }

    /// The units an obligation applies to, in directory order.
    pub fn units_for<'a>(&'a self, obligation: &'a Obligation) -> impl Iterator<Item = &'a Unit> + 'a {
        self.directory
            .units
            .iter()
            .filter(|u| obligation.unit_kinds.contains(&u.kind))
    }

    /// Things that are allowed but probably not intended: an obligation no unit has, or a unit
    /// where nobody holds the responsible role (its manager will be asked instead).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .calendar
            .meetings
            .keys()
            .filter(|body| self.directory.unit_named(body).is_none())
            .map(|body| format!("[meetings] lists meetings of \"{body}\", which is no unit in the directory"))
            .collect();
        for goal in &self.calendar.followup.goals {
            for unit in goal.units.iter().filter(|u| self.directory.unit_named(u).is_none()) {
                warnings.push(format!(
                    "[followup] goal \"{}\" names \"{unit}\", which is no unit in the directory",
                    goal.name
                ));
            }
        }
        for obligation in &self.calendar.obligations {
            if self.units_for(obligation).next().is_none() {
                let kinds: Vec<_> = obligation.unit_kinds.iter().map(|k| k.as_str()).collect();
                warnings.push(format!(
                    "obligation \"{}\" applies to no unit (kinds: {})",
                    obligation.id,
                    kinds.join(", ")
                ));
            }
            // The strategist is a central role, held at KLK for every unit (see the planner).
            let central = obligation.responsible_role == Role::Strategist && self.directory.strategist_unit().is_some();
            for unit in self.units_for(obligation).filter(|_| !central) {
                if self.directory.holder(unit, obligation.responsible_role).is_none() {
                    warnings.push(format!(
                        "unit \"{}\" has no {} for obligation \"{}\"; its manager will be asked instead",
                        unit.id,
                        obligation.responsible_role.as_str(),
                        obligation.id
                    ));
                }
            }
        }
        warnings
    }
}

/// Ids appear in URLs, file names and calendar UIDs, so they are kept to a safe alphabet.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    if !id.is_empty() && id.chars().all(allowed) && id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "\"{id}\" is not a valid id: use lowercase letters a-z, digits, '-', '_' or '.'"
        ))
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Result<Date, String> {
    text.parse::<Date>()
        .map_err(|_| format!("\"{text}\" is not a date like 2027-03-31 (YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests;

/// The shipped configuration, for tests across the domain.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Config, SourceFile};

    pub const SHIPPED_CALENDAR: &str = include_str!("../../../config/calendar.toml");
    pub const SHIPPED_DIRECTORY: &str = include_str!("../../../config/directory.toml");

    /// Tekniska förvaltningen's follow-up of 2026, stored with id 7, due Monday 15 February
    /// 2027 at 16:00 Stockholm time.
    pub fn follow_up(state: crate::domain::occurrence::OccurrenceState) -> crate::domain::occurrence::StoredOccurrence {
        crate::domain::occurrence::StoredOccurrence {
            id: 7,
            obligation: "uppfoljning".into(),
            unit: "tekniska".into(),
            period: "2026".into(),
            due_at: "2027-02-15T15:00:00Z".parse().unwrap_or_default(),
            state,
            submitted_at: None,
            configured: true,
            paused_until: None,
            announcement_id: None,
            diarienummer: None,
        }
    }

    /// The shipped directory with `calendar` (the shipped one, or a variation of it).
    pub fn shipped_with(calendar: &str) -> Config {
        parsed(SHIPPED_DIRECTORY, calendar)
    }

    /// `directory` and `calendar` parsed, panicking with the errors if they are invalid.
    pub fn parsed(directory: &str, calendar: &str) -> Config {
        try_parse(directory, calendar).unwrap_or_else(|errors| panic!("invalid test configuration:\n{errors}"))
    }

    /// `directory` and `calendar` parsed under the names `directory.toml` and `calendar.toml`.
    pub fn try_parse(directory: &str, calendar: &str) -> Result<Config, super::ConfigErrors> {
        Config::parse(
            SourceFile {
                name: "directory.toml",
                text: directory,
            },
            SourceFile {
                name: "calendar.toml",
                text: calendar,
            },
        )
    }
}
