//! Calendar feeds: which deadlines a subscription shows — one person's, one unit's, or the
//! whole municipality's. Pure; the HTTP feed renders what this selects.

use serde::{Deserialize, Serialize};

use super::config::{Config, Role, UnitKind};
use super::occurrence::StoredOccurrence;

/// What a calendar feed covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedScope {
    /// The deadlines of every unit where the person holds a role (or deputises), and, for
    /// KLK's strategist, every deadline of the strategist's wherever it falls.
    Person(String),
    /// One unit's deadlines.
    Unit(String),
    /// Every deadline of the municipality.
    All,
}

impl FeedScope {
    /// Whether the feed shows `occurrence`. Occurrences no longer configured are never shown.
    pub fn includes(&self, config: &Config, occurrence: &StoredOccurrence) -> bool {
        if !occurrence.configured {
            return false;
        }
        match self {
            Self::All => true,
            Self::Unit(unit) => occurrence.unit == *unit,
            Self::Person(person) => {
                let in_unit = config
                    .directory
                    .unit_named(&occurrence.unit)
                    .is_some_and(|u| u.held_by(person, None));
                let strategist = config
                    .calendar
                    .obligations
                    .iter()
                    .find(|o| o.id.as_str() == occurrence.obligation)
                    .is_some_and(|o| o.responsible_role == Role::Strategist)
                    && config
                        .directory
                        .units
                        .iter()
                        .filter(|u| u.kind == UnitKind::Klk)
                        .any(|u| u.held_by(person, Some(Role::Strategist)));
                in_unit || strategist
            }
        }
    }

    /// The name its rotations are kept under: `person:ID`, `unit:ID` or `all`.
    pub fn key(&self) -> String {
        match self {
            Self::Person(person) => format!("person:{person}"),
            Self::Unit(unit) => format!("unit:{unit}"),
            Self::All => "all".to_owned(),
        }
    }

    /// What the feed is called in a calendar program.
    pub fn name(&self, config: &Config) -> String {
        match self {
            Self::All => "Årshjul – hela kommunen".to_owned(),
            Self::Unit(unit) => {
                let name = config
                    .directory
                    .unit_named(unit)
                    .map_or(unit.as_str(), |u| u.name.as_str());
                format!("Årshjul – {name}")
            }
            Self::Person(person) => {
                let name = config
                    .directory
                    .person_named(person)
                    .map_or(person.as_str(), |p| p.name.as_str());
                format!("Årshjul – {name}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, follow_up, shipped_with};
    use crate::domain::occurrence::OccurrenceState;

    #[test]
    fn a_person_sees_their_units_and_the_strategist_every_review() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let tekniska = follow_up(OccurrenceState::Open);
        let review = StoredOccurrence {
            obligation: "ansokan-granskning".into(),
            period: "call-3".into(),
            ..tekniska.clone()
        };
        let person = |id: &str| FeedScope::Person(id.into());
        assert!(
            person("linnea.dahl").includes(&config, &tekniska),
            "Tekniska's contact person"
        );
        assert!(!person("oskar.jonsson").includes(&config, &tekniska), "another unit's");
        assert!(
            person("johan.lindqvist").includes(&config, &review),
            "KLK's strategist reviews"
        );
        assert!(person("sara.nilsson").includes(&config, &review), "and the deputy");
        assert!(!person("johan.lindqvist").includes(&config, &tekniska));
        assert!(FeedScope::Unit("tekniska".into()).includes(&config, &tekniska));
        assert!(!FeedScope::Unit("klk".into()).includes(&config, &tekniska));
        let gone = StoredOccurrence {
            configured: false,
            ..tekniska
        };
        assert!(!FeedScope::All.includes(&config, &gone));
    }
}
