//! Who may see and do what on the dashboard, from the roles in the directory. Pure.
//!
//! - KLK (anyone holding a role in the central office) and the strategist: everything.
//! - A manager or a chair: the units they manage or chair and the units those govern.
//! - Anyone else with a role (an EU contact person, a registrar): the units they hold it in.
//!
//! A deputy sees what the person they stand in for sees. People without a role see nothing
//! and cannot sign in.
//!
//! Who may act on an occurrence is decided here too, by [`may`].

use std::collections::BTreeSet;

use super::config::{Config, Language, Role, UnitKind};
use super::occurrence::{Action, StoredOccurrence};

/// What a signed-in person may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sees {
    Everything,
    Units(BTreeSet<String>),
}

/// A person on the dashboard and what the directory lets them see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub person: String,
    pub sees: Sees,
}

impl Viewer {
    /// `person`'s view, or `None` when they are not in the directory or hold no role.
    pub fn of(config: &Config, person: &str) -> Option<Self> {
        config.directory.person_named(person)?;
        let units = &config.directory.units;
        let central = units
            .iter()
            .any(|u| (u.kind == UnitKind::Klk && u.held_by(person, None)) || u.held_by(person, Some(Role::Strategist)));
        if central {
            return Some(Self {
                person: person.to_owned(),
                sees: Sees::Everything,
            });
        }
        let managed: BTreeSet<&str> = units
            .iter()
            .filter(|u| u.held_by(person, Some(Role::Manager)) || u.held_by(person, Some(Role::Chair)))
            .map(|u| u.id.as_str())
            .collect();
        let seen: BTreeSet<String> = units
            .iter()
            .filter(|u| u.held_by(person, None) || u.governed_by.as_ref().is_some_and(|g| managed.contains(g.as_str())))
            .map(|u| u.id.to_string())
            .collect();
        (!seen.is_empty()).then(|| Self {
            person: person.to_owned(),
            sees: Sees::Units(seen),
        })
    }

    /// Whether the viewer sees everything: KLK and the strategist.
    pub fn is_central(&self) -> bool {
        self.sees == Sees::Everything
    }

    /// Whether the viewer may see the details of `unit`.
    pub fn sees_unit(&self, unit: &str) -> bool {
        match &self.sees {
            Sees::Everything => true,
            Sees::Units(units) => units.contains(unit),
        }
    }
}

/// Whether `person` may start an on-demand item (a revision "vid behov"): KLK, those who see
/// everything.
pub fn may_start(config: &Config, person: &str) -> bool {
    Viewer::of(config, person).is_some_and(|viewer| viewer.is_central())
}

/// Why the directory in force does not let a person act on an occurrence. Its text is wholly
/// in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAllowed {
    /// The person is not (or no longer) in the directory.
    Unknown,
    /// Submitting is for the holder of the responsible role, their deputy, the manager and the
    /// unit's registrar.
    Submit { unit: String, unit_en: String },
    /// Acknowledging is for the unit's manager (or deputy) and KLK's strategist.
    Acknowledge { unit: String, unit_en: String },
    /// Waiving is for the unit's registrar (or deputy) and KLK's strategist.
    Waive { unit: String, unit_en: String },
}

impl NotAllowed {
    /// Why not, in `language`.
    pub fn text(&self, language: Language) -> String {
        let sv = language == Language::Sv;
        match (self, sv) {
            (Self::Unknown, true) => "du finns inte i årshjulets katalog över kommunens personer".to_owned(),
            (Self::Unknown, false) => "you are not in the governance calendar's directory of people".to_owned(),
            (Self::Submit { unit, .. }, true) => {
                format!("du är inte (längre) ansvarig för den här uppgiften i {unit}")
            }
            (Self::Submit { unit_en, .. }, false) => {
                format!("you are not (or no longer) responsible for this item in {unit_en}")
            }
            (Self::Acknowledge { unit, .. }, true) => {
                format!("bara chefen för {unit} eller kommunledningskontorets planeringsstrateg kvitterar")
            }
            (Self::Acknowledge { unit_en, .. }, false) => {
                format!("only the manager of {unit_en} or the Municipal Executive Office's strategist acknowledges")
            }
            (Self::Waive { unit, .. }, true) => {
                format!(
                    "bara registratorn för {unit} eller kommunledningskontorets planeringsstrateg kan stryka uppgiften"
                )
            }
            (Self::Waive { unit_en, .. }, false) => {
                format!(
                    "only the registrar of {unit_en} or the Municipal Executive Office's strategist can waive the item"
                )
            }
        }
    }
}

/// Whether the person `person_id` may take `action` on `occurrence` under the directory in
/// `config`, or why not: the holder of the responsible role (or their deputy), the unit's
/// manager and its registrar (for paper submissions) submit, and so pause or ask to waive; the
/// unit's manager (or deputy) and KLK's strategist acknowledge; the unit's registrar (or
/// deputy) and KLK's strategist waive. Every entry point asks this at the moment of acting.
pub fn may(config: &Config, person_id: &str, occurrence: &StoredOccurrence, action: Action) -> Result<(), NotAllowed> {
    let directory = &config.directory;
    if directory.person_named(person_id).is_none() {
        return Err(NotAllowed::Unknown);
    }
    let unit_id = occurrence.unit.as_str();
    let holds = |role: Role| {
        directory
            .unit_named(unit_id)
            .is_some_and(|unit| unit.held_by(person_id, Some(role)))
    };
    let klk = |role: Role| {
        directory
            .units
            .iter()
            .any(|u| u.kind == UnitKind::Klk && u.held_by(person_id, Some(role)))
    };
    let responsible = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation)
        .map(|o| o.responsible_role);
    let allowed = match action {
        Action::Submit => {
            holds(Role::Manager)
                // The unit's registrar records its paper submissions.
                || holds(Role::Registrar)
                || responsible.is_some_and(holds)
                // The strategist is a central role (see the planner).
                || responsible == Some(Role::Strategist) && klk(Role::Strategist)
        }
        Action::Acknowledge => holds(Role::Manager) || klk(Role::Strategist),
        Action::Waive => holds(Role::Registrar) || klk(Role::Strategist),
    };
    if allowed {
        return Ok(());
    }
    let (unit, unit_en) = directory.unit_named(unit_id).map_or_else(
        || (unit_id.to_owned(), unit_id.to_owned()),
        |u| (u.name.clone(), u.name_en.clone()),
    );
    Err(match action {
        Action::Submit => NotAllowed::Submit { unit, unit_en },
        Action::Acknowledge => NotAllowed::Acknowledge { unit, unit_en },
        Action::Waive => NotAllowed::Waive { unit, unit_en },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, follow_up, shipped_with};
    use crate::domain::occurrence::OccurrenceState;

    #[test]
    fn one_rule_decides_who_may_submit_acknowledge_and_waive_each_units_items() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let tekniska = follow_up(OccurrenceState::Open);
        let klk = StoredOccurrence {
            unit: "klk".into(),
            obligation: "eu-kontaktperson".into(),
            ..follow_up(OccurrenceState::Open)
        };
        let allowed = |person: &str, occurrence: &StoredOccurrence, action| may(&config, person, occurrence, action);
        assert_eq!(
            allowed("linnea.dahl", &tekniska, Action::Submit),
            Ok(()),
            "the contact person"
        );
        assert_eq!(allowed("magnus.berg", &tekniska, Action::Submit), Ok(()), "the manager");
        assert_eq!(allowed("magnus.berg", &tekniska, Action::Acknowledge), Ok(()));
        assert_eq!(
            allowed("sara.nilsson", &tekniska, Action::Acknowledge),
            Ok(()),
            "the strategist's deputy"
        );
        assert_eq!(
            allowed("johan.lindqvist", &tekniska, Action::Waive),
            Ok(()),
            "KLK's strategist"
        );
        assert_eq!(
            allowed("eva.persson", &klk, Action::Submit),
            Ok(()),
            "KLK's registrar, for KLK"
        );
        assert_eq!(allowed("eva.persson", &klk, Action::Waive), Ok(()));
        assert!(matches!(
            allowed("eva.persson", &tekniska, Action::Submit),
            Err(NotAllowed::Submit { .. })
        ));
        assert!(matches!(
            allowed("eva.persson", &tekniska, Action::Waive),
            Err(NotAllowed::Waive { .. })
        ));
        assert!(matches!(
            allowed("linnea.dahl", &tekniska, Action::Acknowledge),
            Err(NotAllowed::Acknowledge { .. })
        ));
        assert_eq!(allowed("nobody", &tekniska, Action::Submit), Err(NotAllowed::Unknown));

        let why = allowed("eva.persson", &tekniska, Action::Waive).unwrap_err();
        assert_eq!(
            why.text(Language::Sv),
            "bara registratorn för Tekniska förvaltningen eller kommunledningskontorets planeringsstrateg kan stryka uppgiften"
        );
        assert_eq!(
            why.text(Language::En),
            "only the registrar of Technical Services Department or the Municipal Executive Office's strategist can waive the item"
        );
    }

    #[test]
    fn klk_and_the_strategist_see_everything_a_manager_their_units_a_contact_person_theirs() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let unit_of = |role: Role, kind: UnitKind| {
            let unit = config
                .directory
                .units
                .iter()
                .find(|u| u.kind == kind && u.roles.contains_key(&role));
            let unit = unit.expect("the example directory has one");
            (unit.id.to_string(), unit.roles[&role].person.to_string())
        };
        let (_, klk_manager) = unit_of(Role::Manager, UnitKind::Klk);
        assert!(Viewer::of(&config, &klk_manager).unwrap().is_central());
        let (_, strategist) = unit_of(Role::Strategist, UnitKind::Klk);
        assert!(Viewer::of(&config, &strategist).unwrap().is_central());

        let (department, contact) = unit_of(Role::EuContact, UnitKind::Forvaltning);
        let viewer = Viewer::of(&config, &contact).unwrap();
        assert!(viewer.sees_unit(&department));
        assert!(!viewer.is_central());
        let other = config
            .directory
            .units
            .iter()
            .find(|u| !u.held_by(&contact, None))
            .unwrap();
        assert!(!viewer.sees_unit(other.id.as_str()));

        let committee = config
            .directory
            .units
            .iter()
            .find(|u| {
                u.kind == UnitKind::Namnd
                    && config
                        .directory
                        .units
                        .iter()
                        .any(|d| d.governed_by.as_ref() == Some(&u.id))
            })
            .unwrap();
        let chair = committee.roles[&Role::Manager].person.to_string();
        let governed = config
            .directory
            .units
            .iter()
            .find(|d| d.governed_by.as_ref() == Some(&committee.id))
            .unwrap();
        let viewer = Viewer::of(&config, &chair).unwrap();
        assert!(viewer.sees_unit(committee.id.as_str()) && viewer.sees_unit(governed.id.as_str()));

        assert_eq!(Viewer::of(&config, "nobody.at.all"), None);
    }
}
