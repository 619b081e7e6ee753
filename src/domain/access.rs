//! Who may see and do what on the dashboard, from the roles in the directory. Pure.
//!
//! - KLK (anyone holding a role in the central office) and the strategist: everything.
//! - A manager: the units they manage and the units those govern.
//! - Anyone else with a role (an EU contact person, a registrar): the units they hold it in.
//!
//! A deputy sees what the person they stand in for sees. People without a role see nothing
//! and cannot sign in.
//!
//! Who may act on an occurrence is decided here too, by [`may`].

use std::collections::BTreeSet;

use super::config::{Config, Person, Role, UnitKind};
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
            .filter(|u| u.held_by(person, Some(Role::Manager)))
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

/// Whether `person` may take `action` on `occurrence`, or why not: the holder of the
/// responsible role (or their deputy) and the unit's manager submit; the unit's manager (or
/// deputy) and KLK's strategist acknowledge; a registrar waives.
pub fn may(config: &Config, person: &Person, occurrence: &StoredOccurrence, action: Action) -> Result<(), String> {
    let directory = &config.directory;
    let holds = |unit_id: &str, role: Role| {
        directory.unit_named(unit_id).is_some_and(|unit| {
            unit.roles
                .get(&role)
                .is_some_and(|a| a.person == person.id || a.deputy.as_ref() == Some(&person.id))
        })
    };
    let klk = |role: Role| {
        directory
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::Klk)
            .any(|u| holds(u.id.as_str(), role))
    };
    let responsible = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation)
        .map(|o| o.responsible_role);
    let unit = occurrence.unit.as_str();
    let allowed = match action {
        Action::Submit => {
            holds(unit, Role::Manager)
                || responsible.is_some_and(|role| holds(unit, role))
                // The strategist is a central role (see the planner).
                || responsible == Some(Role::Strategist) && klk(Role::Strategist)
        }
        Action::Acknowledge => holds(unit, Role::Manager) || klk(Role::Strategist),
        // KLK grants the units' requests to waive; the registrar records paper decisions.
        Action::Waive => klk(Role::Strategist) || directory.units.iter().any(|u| holds(u.id.as_str(), Role::Registrar)),
    };
    if allowed {
        Ok(())
    } else {
        Err(match action {
            Action::Submit => format!("{} is not responsible for this in {unit}", person.name),
            Action::Acknowledge => format!("{} is neither the manager of {unit} nor KLK's strategist", person.name),
            Action::Waive => format!(
                "only KLK's strategist or a registrar may waive; {} is neither",
                person.name
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};

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
