//! `arshjul check-config`: every setting, the directory and the calendar checked, and a summary.

use std::process::ExitCode;

use crate::channels::Notifiers;
use crate::clock::Clock;
use crate::domain::config::{Config, UnitKind};
use crate::settings::Settings;

/// `arshjul check-config`: every error, or a summary of what is configured (with warnings
/// about this year's and next year's deadlines as of `clock`). Asks the identity provider for
/// a mail token when `[email.oauth2]` is set.
pub async fn check_config(settings: &Settings, clock: &dyn Clock) -> ExitCode {
    let mut failed = false;
    for (key, cron) in [
        ("jobs.materialise", &settings.jobs.materialise),
        ("delivery.plan", &settings.delivery.plan),
    ] {
        if let Err(error) = crate::jobs::validate_cron(key, cron) {
            eprintln!("settings: {error:#}");
            failed = true;
        }
    }
    let notifiers = Notifiers::new(settings);
    // The identity provider: a mail token, and the sign-in's metadata, each reached or not.
    let mut asked = Vec::new();
    if let Ok(Some(tokens)) = notifiers.as_ref().map(|n| n.email.tokens()) {
        asked.push(tokens.check().await.map_err(|e| e.to_string()));
    }
    match crate::app::oidc::OidcSignIn::from_settings(settings) {
        Ok(Some(oidc)) => asked.push(oidc.check().await.map_err(|e| e.to_string())),
        Ok(None) => {}
        Err(error) => asked.push(Err(format!("{error:#}"))),
    }
    let mut providers = Vec::new();
    for answer in asked {
        match answer {
            Ok(reached) => providers.push(reached),
            Err(error) => {
                eprintln!("settings: {error}");
                failed = true;
            }
        }
    }
    for checked in [
        notifiers.map(drop),
        settings.email.imap_account().map(drop),
        settings.check_secrets(),
    ] {
        if let Err(error) = checked {
            eprintln!("settings: {error:#}");
            failed = true;
        }
    }
    let routing = settings.routing();
    match settings.files.load() {
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{error}");
            }
            failed = true;
        }
        Ok(config) => {
            let (errors, warnings) = routing.check(&config);
            for error in &errors {
                eprintln!("settings: {error}");
            }
            failed |= !errors.is_empty();
            // Every message template, built in or the operator's, rendered with sample items.
            if let Err(broken) = crate::app::config::checked_templates(config.clone(), clock.now()) {
                for error in &broken.0 {
                    eprintln!("{error}");
                }
                failed = true;
            }
            if !failed {
                let year = config.local_date(clock.now()).year();
                let mut warnings = warnings;
                warnings.extend(config.deadline_warnings(year..=year.saturating_add(1)));
                print_summary(settings, &config, &providers, &warnings);
            }
        }
    }
    if failed {
        eprintln!("configuration refused");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_summary(settings: &Settings, config: &Config, providers: &[String], more_warnings: &[String]) {
    let directory = &config.directory;
    let count = |kind: UnitKind| directory.units.iter().filter(|u| u.kind == kind).count();
    println!("configuration OK");
    println!(
        "  directory  {}: {} units ({} committees, {} departments, {} companies), {} people, {} channels",
        settings.files.directory.display(),
        directory.units.len(),
        count(UnitKind::Namnd),
        count(UnitKind::Forvaltning),
        count(UnitKind::Bolag),
        directory.people.len(),
        directory.channels.len()
    );
    let calendar = &config.calendar;
    let half_days = calendar
        .half_days
        .as_ref()
        .map(|half| format!(" ({} on half days)", half.due_time.strftime("%H:%M")))
        .unwrap_or_default();
    let days_off = match calendar.workdays.extra_days_off().len() {
        0 => String::new(),
        n => format!(", {n} extra days off"),
    };
    println!(
        "  calendar   {}: {} obligations, deadlines at {}{half_days} {}{days_off}",
        settings.files.calendar.display(),
        calendar.obligations.len(),
        calendar.due_time.strftime("%H:%M"),
        calendar.time_zone_name
    );
    println!("  database   {}", settings.database.redacted_url());
    println!("  http       {}", settings.server.address());
    let routing = &settings.routing;
    println!(
        "  channels   {}",
        crate::domain::config::Transport::ALL
            .iter()
            .map(|t| format!("{} {}", t.as_str(), channel_state(settings, *t)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  routing    reminders → {}; escalations → {}; acknowledgements → {}; calls → {} and posted in {}; chat falls back to email after {}",
        routing.reminders.join(" + "),
        routing.escalations.join(" + "),
        routing.acknowledgements.join(" + "),
        routing.announcements.join(" + "),
        match settings.calls.network.as_slice() {
            [] => "no channel".to_owned(),
            names => names.join(" + "),
        },
        match routing.fallback_to_email_after {
            0 => "never".to_owned(),
            n => format!("{n} attempts"),
        }
    );
    for reached in providers {
        println!("  identity   {reached}");
    }
    let mut warnings = config.warnings();
    warnings.extend(more_warnings.iter().cloned());
    warnings.extend(settings.database.unencrypted_warning());
    if !warnings.is_empty() {
        println!("warnings:");
        for warning in warnings {
            println!("  - {warning}");
        }
    }
}

/// How a channel is set up, in a few words (never a URL or token).
fn channel_state(settings: &Settings, transport: crate::domain::config::Transport) -> String {
    use crate::domain::config::Transport;
    let names = |names: Vec<&String>| match names.len() {
        0 => "off".to_owned(),
        _ => format!(
            "({})",
            names.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
    };
    match transport {
        Transport::Email => match settings.email.transport {
            crate::settings::EmailTransport::File => format!("(files in {})", settings.email.file_dir.display()),
            crate::settings::EmailTransport::Smtp if settings.email.uses_oauth() => "(SMTP, OAuth 2.0)".to_owned(),
            crate::settings::EmailTransport::Smtp => "(SMTP)".to_owned(),
        },
        Transport::Matrix => {
            let bot = match settings.matrix.homeserver_url.as_str() {
                "" => "no bot".to_owned(),
                url => format!("bot at {url}"),
            };
            format!("({bot}; webhooks {})", names(settings.matrix.webhooks.keys().collect()))
        }
        Transport::Teams => names(settings.teams.webhooks.keys().collect()),
        Transport::Webhook if settings.webhook.url.expose().is_empty() => "off".to_owned(),
        Transport::Webhook => "on".to_owned(),
    }
}
