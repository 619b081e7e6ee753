//! Parsing and validation of the directory and the calendar: the shipped example is valid, and
//! every kind of mistake is reported with its file, line, key and reason.

use super::*;

const DIRECTORY: &str = r#"
[[units]]
id = "klk"
kind = "klk"
name = "Kommunledningskontoret"
[units.roles.manager]
person = "helena"
[units.roles.strategist]
person = "johan"
deputy = "sara"

[[units]]
id = "tekniska"
kind = "forvaltning"
name = "Tekniska förvaltningen"
[units.roles.manager]
person = "helena"

[[people]]
id = "helena"
name = "Helena Åkesson"
email = "helena@example.org"

[[people]]
id = "johan"
name = "Johan Lindqvist"
email = "johan@example.org"
language = "en"
matrix_id = "@johan:example.org"
absences = [{ from = "2027-07-05", to = "2027-07-30" }]

[[people]]
id = "sara"
name = "Sara Nilsson"
email = "sara@example.org"
"#;

const CALENDAR: &str = r#"
[[obligations]]
id = "handlingsplan"
title_sv = "Handlingsplan"
title_en = "Action plan"
responsible_role = "strategist"
unit_kinds = ["klk"]
recurrence = "yearly"
due = { date = "01-31" }
basis = "Kommunledningskontoret utarbetar årligen en handlingsplan."
"#;

fn parse(directory: &str, calendar: &str) -> Result<Config, ConfigErrors> {
    fixtures::try_parse(directory, calendar)
}

/// The single error that `directory` and `calendar` produce, as the operator sees it.
fn only_error(directory: &str, calendar: &str) -> String {
    let errors = parse(directory, calendar)
        .expect_err("configuration should be refused")
        .0;
    assert_eq!(errors.len(), 1, "expected one error, got {errors:?}");
    errors[0].to_string()
}

#[test]
fn shipped_configuration_is_valid_and_complete() {
    let config = parse(fixtures::SHIPPED_DIRECTORY, fixtures::SHIPPED_CALENDAR)
        .unwrap_or_else(|e| panic!("shipped configuration is invalid:\n{e}"));
    assert_eq!(
        config
            .directory
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::Forvaltning)
            .count(),
        10
    );
    assert_eq!(
        config
            .directory
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::Bolag)
            .count(),
        4
    );
    assert!(config.calendar.obligations.len() >= 8);
    assert_eq!(config.warnings(), Vec::<String>::new());
    let strategist = config.directory.person(&PersonId::checked("johan.lindqvist")).unwrap();
    assert!(strategist.is_away(jiff::civil::date(2027, 7, 5)));
    assert!(!strategist.is_away(jiff::civil::date(2027, 8, 2)));
}

#[test]
fn a_valid_configuration_is_parsed_into_typed_values() {
    let config = parse(DIRECTORY, CALENDAR).unwrap();
    let klk = config.directory.unit(&UnitId::checked("klk")).unwrap();
    let strategist = &klk.roles[&Role::Strategist];
    assert_eq!(strategist.deputy.as_ref().map(PersonId::as_str), Some("sara"));
    assert_eq!(
        config.directory.holder(klk, Role::Strategist).unwrap().language,
        Language::En
    );
    assert_eq!(
        klk.name_en, "Kommunledningskontoret",
        "English name falls back to the Swedish"
    );
    assert_eq!(config.calendar.time_zone_name, "Europe/Stockholm");
    assert_eq!(config.calendar.due_time, jiff::civil::time(16, 0, 0, 0));
}

#[test]
fn an_unknown_role_is_refused_with_its_line() {
    let directory = DIRECTORY.replace("[units.roles.strategist]", "[units.roles.eu_kontakt]");
    let error = only_error(&directory, CALENDAR);
    assert!(error.starts_with("directory.toml:8"), "{error}");
    assert!(error.contains("unknown variant `eu_kontakt`"), "{error}");
    assert!(error.contains("eu_contact"), "lists the known roles: {error}");
}

#[test]
fn an_unknown_responsible_role_in_the_calendar_is_refused() {
    let calendar = CALENDAR.replace("\"strategist\"", "\"strateg\"");
    let error = only_error(DIRECTORY, &calendar);
    assert!(error.starts_with("calendar.toml:6"), "{error}");
    assert!(error.contains("unknown variant `strateg`"), "{error}");
}

#[test]
fn a_unit_without_manager_is_refused() {
    let directory = DIRECTORY.replace(
        "[units.roles.manager]\nperson = \"helena\"\n\n[[people]]",
        "\n[[people]]",
    );
    let error = only_error(&directory, CALENDAR);
    assert_eq!(
        error,
        "directory.toml:13: units[1].roles: unit \"tekniska\" has no manager; add [units.roles.manager]"
    );
}

#[test]
fn references_to_unknown_people_and_units_are_refused() {
    let directory = DIRECTORY.replace("deputy = \"sara\"", "deputy = \"saga\"").replace(
        "name = \"Tekniska förvaltningen\"",
        "name = \"Tekniska förvaltningen\"\ngoverned_by = \"tekniska-namnden\"",
    );
    let errors = parse(&directory, CALENDAR).unwrap_err().to_string();
    assert!(
        errors.contains("directory.toml:10: units[0].roles.strategist.deputy: unknown person \"saga\""),
        "{errors}"
    );
    assert!(
        errors.contains("directory.toml:16: units[1].governed_by: unknown unit \"tekniska-namnden\""),
        "{errors}"
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let directory = DIRECTORY
        .replace("id = \"sara\"", "id = \"johan\"")
        .replace("deputy = \"sara\"", "");
    let error = only_error(&directory, CALENDAR);
    assert_eq!(error, "directory.toml:33: people[2].id: duplicate person id \"johan\"");
    let calendar = format!(
        "{CALENDAR}\n[[obligations]]{}",
        CALENDAR.split("[[obligations]]").nth(1).unwrap()
    );
    let error = only_error(DIRECTORY, &calendar);
    assert!(
        error.starts_with("calendar.toml:13: obligations[1].id: duplicate obligation id \"handlingsplan\""),
        "{error}"
    );
}

#[test]
fn bad_dates_are_refused() {
    let cases = [
        (
            "due = { date = \"01-31\" }",
            "due = { date = \"13-01\" }",
            "\"13-01\" is not a day of the year like 02-15 (MM-DD)",
        ),
        (
            "due = { date = \"01-31\" }",
            "due = { date = \"02-29\" }",
            "02-29 does not exist every year",
        ),
        (
            "due = { date = \"01-31\" }",
            "due = { date = \"31 jan\" }",
            "is not a day of the year",
        ),
    ];
    for (from, to, reason) in cases {
        let error = only_error(DIRECTORY, &CALENDAR.replace(from, to));
        assert!(error.starts_with("calendar.toml:9: obligations[0].due: "), "{error}");
        assert!(error.contains(reason), "{error}");
    }
    let directory = DIRECTORY.replace("to = \"2027-07-30\"", "to = \"2027-07-32\"");
    let error = only_error(&directory, CALENDAR);
    assert!(
        error.contains("directory.toml:30: people[1].absences[0].to: \"2027-07-32\" is not a date"),
        "{error}"
    );
    let directory = DIRECTORY.replace("to = \"2027-07-30\"", "to = \"2027-07-01\"");
    assert!(only_error(&directory, CALENDAR).contains("the absence ends before it starts"));
}

#[test]
fn an_unknown_time_zone_is_refused() {
    let calendar = format!("time_zone = \"Europe/Kristianstad\"\n{CALENDAR}");
    let error = only_error(DIRECTORY, &calendar);
    assert!(
        error.starts_with("calendar.toml:1: time_zone: unknown time zone \"Europe/Kristianstad\""),
        "{error}"
    );
}

#[test]
fn due_rules_must_point_to_an_existing_obligation() {
    let calendar = CALENDAR.replace(
        "due = { date = \"01-31\" }",
        "due = { business_days_after = 5, obligation = \"plan\" }",
    );
    let error = only_error(DIRECTORY, &calendar);
    assert_eq!(
        error,
        "calendar.toml:9: obligations[0].due: due rule refers to unknown obligation \"plan\""
    );
}

#[test]
fn cyclic_due_rules_are_refused_once() {
    let a = CALENDAR
        .replace(
            "due = { date = \"01-31\" }",
            "due = { business_days_after = 5, obligation = \"b\" }",
        )
        .replace("\"handlingsplan\"", "\"a\"");
    let b = a
        .replace("\"a\"", "\"b\"")
        .replace("obligation = \"b\"", "obligation = \"a\"");
    let error = only_error(DIRECTORY, &format!("{a}{b}"));
    assert!(
        error.starts_with("calendar.toml:9: obligations[0].due: due rules form a cycle: a → b → a"),
        "{error}"
    );
}

#[test]
fn due_rules_must_fit_the_recurrence() {
    let calendar = CALENDAR.replace("due = { date = \"01-31\" }", "due = { on = \"2027-01-31\" }");
    assert!(only_error(DIRECTORY, &calendar).contains("a fixed date suits only recurrence = \"once\""));
    let calendar = CALENDAR.replace("recurrence = \"yearly\"", "recurrence = \"once\"");
    assert!(only_error(DIRECTORY, &calendar).contains("needs a full date"));
    let calendar = CALENDAR.replace("due = { date = \"01-31\" }", "due = { business_days_after = 5 }");
    assert!(only_error(DIRECTORY, &calendar).contains("needs obligation = \"ID\""));
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let directory = DIRECTORY
        .replace("helena@example.org", "helena-at-example")
        .replace("deputy = \"sara\"", "deputy = \"saga\"");
    let calendar = format!("time_zone = \"Mars/Olympus\"\n{CALENDAR}");
    let errors = parse(&directory, &calendar).unwrap_err().0;
    let files: Vec<_> = errors.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        files,
        ["directory.toml", "directory.toml", "calendar.toml"],
        "{errors:?}"
    );
}

#[test]
fn malformed_toml_names_file_and_line() {
    let error = only_error("[[units]\nid = 1", CALENDAR);
    assert!(error.starts_with("directory.toml:1: "), "{error}");
    let error = only_error(
        DIRECTORY,
        &CALENDAR.replace("recurrence = \"yearly\"", "recurrence = \"weekly\""),
    );
    assert!(
        error.starts_with("calendar.toml:8: ") && error.contains("unknown variant `weekly`"),
        "{error}"
    );
}

#[test]
fn a_unit_without_the_responsible_role_is_a_warning() {
    let calendar = CALENDAR.replace("unit_kinds = [\"klk\"]", "unit_kinds = [\"klk\", \"forvaltning\"]");
    // The strategist is central: KLK's strategist serves every unit, so no warning.
    assert_eq!(parse(DIRECTORY, &calendar).unwrap().warnings(), Vec::<String>::new());
    let calendar = calendar.replace("responsible_role = \"strategist\"", "responsible_role = \"eu_contact\"");
    let config = parse(DIRECTORY, &calendar).unwrap();
    assert_eq!(
        config.warnings(),
        [
            "unit \"klk\" has no eu_contact for obligation \"handlingsplan\"; its manager will be asked instead",
            "unit \"tekniska\" has no eu_contact for obligation \"handlingsplan\"; its manager will be asked instead"
        ]
    );
}

#[test]
fn reminder_policies_inherit_and_are_checked() {
    let calendar = format!("[reminders]\noverdue_every = 5\n\n{CALENDAR}\nreminders = {{ before = [7, 20, 7] }}\n");
    let config = parse(DIRECTORY, &calendar).unwrap();
    let policy = &config.calendar.obligations[0].policy;
    assert_eq!(policy.before, [20, 7], "sorted, duplicates dropped");
    assert_eq!(policy.overdue_every, 5, "inherited from [reminders]");
    assert_eq!(policy.escalate_manager_after, 5, "built-in default");

    let zero = format!("{CALENDAR}\nreminders = {{ overdue_every = 0 }}\n");
    let error = only_error(DIRECTORY, &zero);
    assert!(
        error.starts_with("calendar.toml:12: obligations[0].reminders: overdue_every: must be 1..=250"),
        "{error}"
    );
    let window = format!("[send_window]\nopens = \"17:00\"\ncloses = \"08:00\"\n{CALENDAR}");
    let error = only_error(DIRECTORY, &window);
    assert!(
        error.starts_with("calendar.toml:1: send_window: the window must open before it closes"),
        "{error}"
    );
}

#[test]
fn quiet_periods_are_weeks_or_days_of_the_year_and_checked() {
    let calendar =
        format!("quiet_periods = [{{ weeks = [28, 31] }}, {{ from = \"12-27\", to = \"01-02\" }}]\n{CALENDAR}");
    let config = parse(DIRECTORY, &calendar).unwrap();
    let quiet = |y, m, d| config.calendar.is_quiet(jiff::civil::date(y, m, d));
    assert!(quiet(2027, 7, 12) && quiet(2027, 8, 8), "weeks 28 to 31 of 2027");
    assert!(!quiet(2027, 7, 11) && !quiet(2027, 8, 9));
    assert!(quiet(2027, 12, 30) && quiet(2028, 1, 2), "over the new year");
    assert!(!quiet(2028, 1, 3) && !quiet(2027, 12, 26));

    for (bad, reason) in [
        (
            "{ weeks = [31, 28] }",
            "weeks = [31, 28]: give the first and last ISO week",
        ),
        (
            "{ from = \"13-01\", to = \"12-31\" }",
            "\"13-01\" is not a day of the year",
        ),
        ("{ from = \"12-27\" }", "write a quiet period as"),
    ] {
        let error = only_error(DIRECTORY, &format!("quiet_periods = [{bad}]\n{CALENDAR}"));
        assert!(
            error.starts_with(&format!("calendar.toml:1: quiet_periods[0]: {reason}")),
            "{error}"
        );
    }
    let always = only_error(
        DIRECTORY,
        &format!("quiet_periods = [{{ weeks = [1, 53] }}]\n{CALENDAR}"),
    );
    assert!(
        always.starts_with("calendar.toml:1: quiet_periods: the quiet periods cover the whole year"),
        "{always}"
    );
}

#[test]
fn an_empty_calendar_or_directory_is_refused_for_it_would_silence_everything() {
    let errors = parse("", "").unwrap_err().to_string();
    for (file, key) in [
        ("calendar.toml", "obligations"),
        ("directory.toml", "units"),
        ("directory.toml", "people"),
    ] {
        assert!(
            errors.contains(file) && errors.contains(key),
            "{file} {key} in {errors}"
        );
    }
    assert!(errors.contains("would remind nobody"), "{errors}");
    let errors = parse(DIRECTORY, "").unwrap_err().to_string();
    assert!(errors.contains("obligations") && !errors.contains("units"), "{errors}");
}

#[test]
fn meeting_plans_and_deadlines_at_meetings_are_checked() {
    let at_meeting = |due: &str| {
        let anchor = CALENDAR.replace("\"handlingsplan\"", "\"b\"");
        format!(
            "{}{anchor}",
            CALENDAR.replace("due = { date = \"01-31\" }", &format!("due = {due}"))
        )
    };
    let plan = "[meetings]\nklk = [\"2027-03-03\", \"2027-02-03\"]\n";
    let config = parse(
        DIRECTORY,
        &format!("{plan}{}", at_meeting("{ meeting = \"klk\", obligation = \"b\" }")),
    )
    .unwrap();
    assert_eq!(
        config.calendar.meetings["klk"],
        [jiff::civil::date(2027, 2, 3), jiff::civil::date(2027, 3, 3)],
        "in order"
    );
    assert_eq!(config.warnings(), Vec::<String>::new());
    let error = only_error(DIRECTORY, &at_meeting("{ meeting = \"ks\", obligation = \"b\" }"));
    assert!(
        error.ends_with(
            "obligations[0].due: no meetings of \"ks\" are listed; add ks = [\"YYYY-MM-DD\", …] under [meetings]"
        ),
        "{error}"
    );
    let error = only_error(DIRECTORY, &format!("{plan}{}", at_meeting("{ meeting = \"klk\" }")));
    assert!(
        error.contains("a meeting rule is { meeting = \"BODY\", obligation = \"ID\" }"),
        "{error}"
    );
    let error = only_error(
        DIRECTORY,
        &format!("{plan}{}", at_meeting("{ meeting = \"klk\", obligation = \"x\" }")),
    );
    assert!(
        error.ends_with("due rule refers to unknown obligation \"x\""),
        "{error}"
    );
    let bad_day = format!("[meetings]\nklk = [\"2027-02-30\"]\n{CALENDAR}");
    assert!(
        only_error(DIRECTORY, &bad_day).starts_with("calendar.toml:2: meetings.klk: "),
        "the key and its line"
    );
    let elsewhere = format!("[meetings]\nnamnden = [\"2027-02-03\"]\n{CALENDAR}");
    assert_eq!(
        parse(DIRECTORY, &elsewhere).unwrap().warnings(),
        ["[meetings] lists meetings of \"namnden\", which is no unit in the directory"]
    );
}

#[test]
fn an_obligation_for_a_chair_is_refused_for_politicians_decide_and_officials_prepare() {
    let calendar = CALENDAR.replace("responsible_role = \"strategist\"", "responsible_role = \"chair\"");
    let error = only_error(DIRECTORY, &calendar);
    assert!(
        error.starts_with("calendar.toml:6: obligations[0].responsible_role: a chair decides"),
        "{error}"
    );
}

#[test]
fn months_after_a_grant_or_a_start_suit_only_their_recurrence() {
    let with = |recurrence: &str, due: &str| {
        CALENDAR
            .replace("recurrence = \"yearly\"", &format!("recurrence = \"{recurrence}\""))
            .replace("due = { date = \"01-31\" }", &format!("due = {due}"))
    };
    assert!(parse(DIRECTORY, &with("on_demand", "{ months_after_start = 3 }")).is_ok());
    assert!(parse(DIRECTORY, &with("per_project", "{ months_after_grant = 6 }")).is_ok());
    for (recurrence, due, expected) in [
        (
            "yearly",
            "{ months_after_start = 3 }",
            "months_after_start suits only recurrence = \"on_demand\"",
        ),
        (
            "on_demand",
            "{ months_after_grant = 3 }",
            "months_after_grant suits only recurrence = \"per_project\"",
        ),
        (
            "on_demand",
            "{ date = \"01-31\" }",
            "an on-demand obligation is due { months_after_start = N }",
        ),
        (
            "per_project",
            "{ months_after_grant = 6, date = \"01-31\" }",
            "give only months_after_grant for a per-project obligation",
        ),
        (
            "per_project",
            "{ months_after_grant = 0 }",
            "months_after_grant is 1 to 84",
        ),
    ] {
        let error = only_error(DIRECTORY, &with(recurrence, due));
        assert!(error.ends_with(expected), "{recurrence} {due}: {error}");
    }
}

#[test]
fn the_follow_up_choices_are_checked() {
    let with = |followup: &str| format!("[followup]\n{followup}\n{CALENDAR}");
    let config = parse(
        DIRECTORY,
        &with(
            "priority_areas = [\"Friska ekosystem\"]\ngoals = [{ name = \" Mål 1 \", kind = \"kommunovergripande\" }]",
        ),
    )
    .unwrap();
    assert_eq!(config.calendar.followup.goals[0].name, "Mål 1");
    let twice = with("priority_areas = [\"A\", \"A\"]");
    assert_eq!(
        only_error(DIRECTORY, &twice),
        "calendar.toml:1: followup: \"A\" is listed twice"
    );
    let unknown_kind = with("goals = [{ name = \"x\", kind = \"lokal\" }]");
    assert!(only_error(DIRECTORY, &unknown_kind).contains("unknown variant `lokal`"));
    let elsewhere = with("goals = [{ name = \"x\", kind = \"verksamhetsspecifikt\", units = [\"bun\"] }]");
    assert_eq!(
        parse(DIRECTORY, &elsewhere).unwrap().warnings(),
        ["[followup] goal \"x\" names \"bun\", which is no unit in the directory"]
    );
}
