//! Who may see and do what on the dashboard, from the roles in the directory. Pure.
//!
//! - KLK (anyone holding a role in the central office) and the strategist: everything.
//! - A manager: the units they manage and the units those govern.
//! - Anyone else with a role (an EU contact person, a registrar): the units they hold it in.
//!
//! A deputy sees what the person they stand in for sees. People without a role see nothing
//! and cannot sign in.

use std::collections::BTreeSet;

use super::config::{Config, Role, UnitKind};

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
