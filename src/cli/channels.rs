//! `arshjul channels test`: one test message through a channel, and what it answered.

use std::process::ExitCode;

use clap::Subcommand;

use crate::channels::Notifiers;
use crate::clock::Clock;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Send one test message and report what the channel answered. NAME is a channel of the
    /// directory (e.g. eu-network: its Matrix room and Teams webhook), or email, matrix, teams
    /// or webhook with --to.
    Test {
        name: String,
        /// The person to send to, by directory id (for email, matrix, teams, webhook).
        #[arg(long, value_name = "PERSON")]
        to: Option<String>,
    },
}

/// Sends a test message to the directory channel `name` (every transport it has), or to the
/// person `to` on the transport `name`, and prints each answer.
pub async fn test_channel(
    settings: &Settings,
    name: &str,
    to: Option<&str>,
    clock: &dyn Clock,
) -> anyhow::Result<ExitCode> {
    use crate::channels::{Outgoing, Recipient};
    use crate::domain::config::Transport;
    let config = settings
        .files
        .load()
        .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
    let routing = settings.routing();
    let notifiers = Notifiers::new(settings)?;
    let attempts: Vec<(String, Result<crate::domain::routing::Address, String>, Recipient)> =
        match (Transport::named(name), to) {
            (Some(transport), Some(person)) => {
                let person = config
                    .directory
                    .person_named(person)
                    .ok_or_else(|| anyhow::anyhow!("unknown person \"{person}\""))?;
                vec![(
                    format!("{name} to {}", person.id),
                    routing.personal_address(person, transport),
                    Recipient::from(person),
                )]
            }
            (Some(_), None) => anyhow::bail!("say who to send the test to: --to PERSON"),
            (None, _) => {
                let channel = config
                    .directory
                    .channels
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = config.directory.channels.iter().map(|c| c.name.as_str()).collect();
                        anyhow::anyhow!(
                            "unknown channel \"{name}\"; use email, matrix, teams or webhook with --to PERSON, or \
                             one of the directory's channels: {}",
                            known.join(", ")
                        )
                    })?;
                let recipient = Recipient::channel(channel);
                [Transport::Matrix, Transport::Teams]
                    .into_iter()
                    .map(|t| {
                        (
                            format!("{}:{name}", t.as_str()),
                            routing.channel_address(&config, name, t),
                            recipient.clone(),
                        )
                    })
                    .collect()
            }
        };
    let now = clock.now();
    let mut failed = false;
    if Transport::named(name) == Some(Transport::Email)
        && let Some(tokens) = notifiers.email.tokens()
    {
        match tokens.check().await {
            Ok(reached) => println!("{reached}"),
            Err(error) => {
                failed = true;
                println!("email.oauth2: FAILED: {error}");
            }
        }
    }
    for (label, address, recipient) in attempts {
        let result = match address {
            Ok(address) => {
                let message = Outgoing {
                    message_key: format!("test-{}", now.as_nanosecond()),
                    rendered: crate::domain::messages::test_message(recipient.language, &label),
                    recipient,
                    address,
                    tokens: None,
                    in_reply_to: None,
                    thread: Vec::new(),
                    auto_reply: false,
                    items: Vec::new(),
                    composed_at: now,
                };
                notifiers.send(&message).await.map_err(|e| e.to_string())
            }
            Err(reason) => Err(format!("not set up: {reason}")),
        };
        match result {
            Ok(receipt) => {
                let detail = receipt
                    .provider_id
                    .map(|id| {
                        format!(
                            " (id {id}{})",
                            receipt.destination.map(|d| format!(" in {d}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                println!("{label}: sent{detail}");
            }
            Err(reason) => {
                failed = true;
                println!("{label}: FAILED: {reason}");
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
