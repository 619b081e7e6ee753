//! `arshjul report --year Y --format md|csv|html`: KLK's compilation of the units' yearly
//! follow-ups, ready to paste into the verksamhetsberättelse.

use std::process::ExitCode;

use clap::ValueEnum;

use crate::clock::Clock;
use crate::domain::config::Language;
use crate::domain::report;
use crate::settings::Settings;
use crate::storage::Store;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The year the follow-ups concern (the work of that year, reported early the next).
    #[arg(long)]
    pub year: i16,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// The report's language: sv or en.
    #[arg(long, default_value = "sv")]
    pub language: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Md,
    Csv,
    Html,
}

/// `arshjul report`.
pub async fn report(settings: &Settings, args: &ReportArgs, clock: &dyn Clock) -> anyhow::Result<ExitCode> {
    let language = match args.language.as_str() {
        "sv" => Language::Sv,
        "en" => Language::En,
        other => {
            eprintln!("--language: \"{other}\" is not sv or en");
            return Ok(ExitCode::FAILURE);
        }
    };
    let config = match settings.files.load() {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let (occurrences, followups) = tokio::try_join!(store.occurrences(), store.followups())?;
    let compiled = report::compile(&config, args.year, &occurrences, &followups, clock.now(), language);
    let text = match args.format {
        ReportFormat::Md => report::markdown(&compiled, language),
        ReportFormat::Csv => report::csv(&compiled),
        ReportFormat::Html => report::html_document(&compiled, language)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
