//! Routing: which channels a delivery goes out on. A person names the channels they prefer in
//! the directory; the routing rules say, per kind of step, whether to use those, a particular
//! channel, or a named channel of the directory (a shared Matrix room or Teams channel). Every
//! route is one delivery; a person always has email, so nothing is ever routed nowhere.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::config::{Config, Person, Transport};
use super::steps::Ask;

/// One entry of a routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The recipient's preferred channels (`prefers` in the directory), email when none.
    Preferred,
    /// One transport, to the recipient's own address on it.
    Transport(Transport),
    /// A named channel of the directory: its Matrix room or webhook and its Teams webhook.
    Channel(String),
}

impl Target {
    /// Reads a routing entry: `preferred`, a transport name, or a directory channel's name.
    pub fn parse(text: &str) -> Self {
        match text {
            "preferred" => Self::Preferred,
            _ => Transport::named(text).map_or_else(|| Self::Channel(text.to_owned()), Self::Transport),
        }
    }
}

/// Where one delivery goes: a transport, to the recipient's own address or to a named channel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub transport: Transport,
    /// The directory channel, when the delivery is posted there rather than to the person.
    pub channel: Option<String>,
}

impl Route {
    /// The recipient's own address on `transport`.
    pub fn personal(transport: Transport) -> Self {
        Self {
            transport,
            channel: None,
        }
    }
}

impl fmt::Display for Route {
    /// `email`, `matrix`, … or `matrix:eu-network`: the channel column of the outbox.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.channel {
            None => f.write_str(self.transport.as_str()),
            Some(channel) => write!(f, "{}:{channel}", self.transport.as_str()),
        }
    }
}

impl FromStr for Route {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (transport, channel) = match text.split_once(':') {
            Some((transport, channel)) => (transport, Some(channel.to_owned())),
            None => (text, None),
        };
        let transport = Transport::named(transport).ok_or_else(|| format!("unknown channel \"{text}\""))?;
        Ok(Self { transport, channel })
    }
}

/// The concrete address a message is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Email(String),
    /// The configured signed webhook.
    Webhook,
    /// A direct-message room with this Matrix user, opened by the bot.
    MatrixUser(String),
    /// A Matrix room (id or alias) the bot posts in.
    MatrixRoom(String),
    /// A Matrix webhook (matrix-hookshot), by its name in the settings.
    MatrixHook(String),
    /// A Teams Workflows (or legacy connector) webhook, by its name in the settings.
    Teams(String),
}

/// What is set up in the settings, as routing needs to know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Available {
    /// A Matrix bot account is configured.
    pub matrix_bot: bool,
    /// The signed webhook is configured.
    pub webhook: bool,
    /// Names of the configured Teams webhooks, as [`hook_key`] gives them.
    pub teams_webhooks: BTreeSet<String>,
    /// Names of the configured Matrix webhooks, as [`hook_key`] gives them.
    pub matrix_webhooks: BTreeSet<String>,
}

/// A webhook name as looked up: lower case, `-` read as `_` (environment variables, which can
/// set webhooks, cannot contain `-`).
pub fn hook_key(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// `None` when the directory has a channel `name`; else the names it has, for the error.
fn unknown_channel(config: &Config, name: &str) -> Option<String> {
    let channels = &config.directory.channels;
    (!channels.iter().any(|c| c.name == name))
        .then(|| channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))
}

/// The routing rules, per kind of step, and what they can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Reminders to the responsible person (before, on and after the due date).
    pub reminders: Vec<Target>,
    /// Escalations to the manager and to KLK.
    pub escalations: Vec<Target>,
    /// Requests to acknowledge a submission.
    pub acknowledgements: Vec<Target>,
    /// EU funding calls to the EU contact persons (the network channels get them besides).
    pub announcements: Vec<Target>,
    /// The directory channels every EU funding call is posted in (`calls.network`).
    pub network: Vec<String>,
    /// A chat delivery that fails this many attempts (or fails for good) is sent by email
    /// instead; 0 never falls back.
    pub fallback_to_email_after: u32,
    pub available: Available,
}

impl Default for Routing {
    /// Everything to the recipients' preferred channels, with email as the only one set up.
    fn default() -> Self {
        Self {
            reminders: vec![Target::Preferred],
            escalations: vec![Target::Preferred],
            acknowledgements: vec![Target::Preferred],
            announcements: vec![Target::Preferred],
            network: Vec::new(),
            fallback_to_email_after: 0,
            available: Available::default(),
        }
    }
}

impl Routing {
    /// Every route a step asking `ask` of `person` goes out on, in order, without repeats;
    /// email when nothing else can reach them.
    pub fn routes(&self, config: &Config, person: &Person, ask: Ask) -> Vec<Route> {
        let targets = match ask {
            // What is done is told where the reminders went.
            Ask::Submit | Ask::Nothing => &self.reminders,
            // Decisions for KLK go where escalations go.
            Ask::FollowUp | Ask::Decide => &self.escalations,
            Ask::Acknowledge => &self.acknowledgements,
            Ask::Interest => &self.announcements,
        };
        let mut routes: Vec<Route> = Vec::new();
        for target in targets {
            let wanted: Vec<Route> = match target {
                Target::Preferred => {
                    let preferred: Vec<Route> = person
                        .prefers
                        .iter()
                        .map(|t| Route::personal(*t))
                        .filter(|r| self.personal_address(person, r.transport).is_ok())
                        .collect();
                    if preferred.is_empty() {
                        vec![Route::personal(Transport::Email)]
                    } else {
                        preferred
                    }
                }
                Target::Transport(transport) => vec![Route::personal(*transport)],
                Target::Channel(name) => [Transport::Matrix, Transport::Teams]
                    .into_iter()
                    .map(|transport| Route {
                        transport,
                        channel: Some(name.clone()),
                    })
                    .collect(),
            };
            for route in wanted {
                if !routes.contains(&route) && self.address(config, person, &route).is_ok() {
                    routes.push(route);
                }
            }
        }
        if routes.is_empty() {
            routes.push(Route::personal(Transport::Email));
        }
        routes
    }

    /// Where `route` reaches `person`, or why it cannot.
    pub fn address(&self, config: &Config, person: &Person, route: &Route) -> Result<Address, String> {
        match &route.channel {
            None => self.personal_address(person, route.transport),
            Some(name) => self.channel_address(config, name, route.transport),
        }
    }

    /// Where `transport` reaches `person` on their own address, or why it cannot.
    pub fn personal_address(&self, person: &Person, transport: Transport) -> Result<Address, String> {
        let available = &self.available;
        match transport {
            Transport::Email => Ok(Address::Email(person.email.clone())),
            Transport::Webhook if available.webhook => Ok(Address::Webhook),
            Transport::Webhook => Err("the webhook channel is not set up".into()),
            Transport::Matrix => match &person.matrix_id {
                Some(user) if available.matrix_bot => Ok(Address::MatrixUser(user.clone())),
                Some(_) => Err("the Matrix bot is not set up".into()),
                None => Err(format!("{} has no matrix_id", person.id)),
            },
            Transport::Teams => match &person.teams {
                Some(hook) if available.teams_webhooks.contains(&hook_key(hook)) => Ok(Address::Teams(hook.clone())),
                Some(hook) => Err(format!("the Teams webhook \"{hook}\" is not set up")),
                None => Err(format!("{} has no Teams webhook", person.id)),
            },
        }
    }

    /// Where `transport` reaches the directory's channel `name`, or why it cannot.
    pub fn channel_address(&self, config: &Config, name: &str, transport: Transport) -> Result<Address, String> {
        let available = &self.available;
        let channel = config
            .directory
            .channels
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("the directory has no channel \"{name}\""))?;
        let configured = |names: &BTreeSet<String>, hook: &str| names.contains(&hook_key(hook));
        match transport {
            Transport::Matrix => match (&channel.matrix_room, &channel.matrix_webhook) {
                (Some(room), _) if available.matrix_bot => Ok(Address::MatrixRoom(room.clone())),
                (_, Some(hook)) if configured(&available.matrix_webhooks, hook) => {
                    Ok(Address::MatrixHook(hook.clone()))
                }
                _ => Err(format!(
                    "channel \"{name}\" has no Matrix room or webhook that is set up"
                )),
            },
            Transport::Teams => match &channel.teams {
                Some(hook) if configured(&available.teams_webhooks, hook) => Ok(Address::Teams(hook.clone())),
                _ => Err(format!("channel \"{name}\" has no Teams webhook that is set up")),
            },
            Transport::Email | Transport::Webhook => Err(format!(
                "channel \"{name}\" is reached by Matrix or Teams, not {}",
                transport.as_str()
            )),
        }
    }

    /// What is wrong with these rules for `config` (errors), and what will not reach people
    /// as they asked (warnings).
    pub fn check(&self, config: &Config) -> (Vec<String>, Vec<String>) {
        let mut errors = Vec::new();
        let available = &self.available;
        for (key, targets) in [
            ("routing.reminders", &self.reminders),
            ("routing.escalations", &self.escalations),
            ("routing.acknowledgements", &self.acknowledgements),
            ("routing.announcements", &self.announcements),
        ] {
            if targets.is_empty() {
                errors.push(format!("{key}: name at least one channel, e.g. \"preferred\""));
            }
            for target in targets {
                let problem = match target {
                    Target::Preferred | Target::Transport(Transport::Email) => None,
                    Target::Transport(Transport::Matrix) if !available.matrix_bot => {
                        Some("\"matrix\" needs the Matrix bot: set matrix.homeserver_url".to_owned())
                    }
                    Target::Transport(Transport::Teams) if available.teams_webhooks.is_empty() => {
                        Some("\"teams\" needs at least one [teams.webhooks.NAME]".to_owned())
                    }
                    Target::Transport(Transport::Webhook) if !available.webhook => {
                        Some("\"webhook\" needs webhook.url".to_owned())
                    }
                    Target::Transport(_) => None,
                    Target::Channel(name) => unknown_channel(config, name).map(|known| {
                        format!(
                            "unknown channel \"{name}\"; use preferred, email, matrix, teams, webhook or a channel \
                             of the directory ({known})"
                        )
                    }),
                };
                errors.extend(problem.map(|p| format!("{key}: {p}")));
            }
        }
        for name in &self.network {
            if let Some(known) = unknown_channel(config, name) {
                errors.push(format!(
                    "calls.network: unknown channel \"{name}\"; use a channel of the directory ({known})"
                ));
            }
        }
        (errors, self.warnings(config))
    }

    /// Preferences and channels in the directory that the settings cannot serve.
    fn warnings(&self, config: &Config) -> Vec<String> {
        let mut warnings = Vec::new();
        for transport in [Transport::Matrix, Transport::Teams] {
            let unreachable: Vec<&str> = config
                .directory
                .people
                .iter()
                .filter(|p| p.prefers.contains(&transport))
                .filter(|p| self.personal_address(p, transport).is_err())
                .map(|p| p.id.as_str())
                .collect();
            if !unreachable.is_empty() {
                let more = unreachable.len().saturating_sub(5);
                warnings.push(format!(
                    "{} people prefer {} but cannot be reached there with these settings; they get their other \
                     channels or email: {}{}",
                    unreachable.len(),
                    transport.as_str(),
                    unreachable[..unreachable.len() - more].join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        for channel in &config.directory.channels {
            let wants = [
                (
                    Transport::Matrix,
                    channel.matrix_room.is_some() || channel.matrix_webhook.is_some(),
                ),
                (Transport::Teams, channel.teams.is_some()),
            ];
            for (transport, wanted) in wants {
                if let (true, Err(reason)) = (wanted, self.channel_address(config, &channel.name, transport)) {
                    warnings.push(format!("channels.{}: {reason}; nothing is posted there", channel.name));
                }
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};

    fn everything() -> Available {
        Available {
            matrix_bot: true,
            webhook: true,
            teams_webhooks: ["eu_network", "klk_international", "anna"].map(String::from).into(),
            matrix_webhooks: BTreeSet::new(),
        }
    }

    fn person(config: &Config, prefers: &[Transport], teams: Option<&str>) -> Person {
        let mut person = config.directory.people[0].clone();
        person.matrix_id = Some("@anna:example.org".into());
        person.prefers = prefers.to_vec();
        person.teams = teams.map(String::from);
        person
    }

    fn names(routes: &[Route]) -> Vec<String> {
        routes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn routes_follow_preferences_and_escalations_also_go_by_email() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let routing = Routing {
            escalations: vec![
                Target::Preferred,
                Target::parse("email"),
                Target::parse("klk-international"),
            ],
            available: everything(),
            ..Routing::default()
        };
        let anna = person(&config, &[Transport::Matrix, Transport::Teams], Some("anna"));
        assert_eq!(names(&routing.routes(&config, &anna, Ask::Submit)), ["matrix", "teams"]);
        assert_eq!(
            names(&routing.routes(&config, &anna, Ask::FollowUp)),
            ["matrix", "teams", "email", "teams:klk-international"]
        );
    }

    #[test]
    fn what_is_not_set_up_is_skipped_and_email_is_the_last_resort() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let routing = Routing {
            reminders: vec![Target::Preferred, Target::parse("eu-network")],
            ..Routing::default()
        };
        let anna = person(&config, &[Transport::Matrix, Transport::Teams], Some("anna"));
        assert_eq!(names(&routing.routes(&config, &anna, Ask::Submit)), ["email"]);
        let mut nobody = anna.clone();
        nobody.matrix_id = None;
        let routing = Routing {
            available: everything(),
            ..Routing::default()
        };
        assert_eq!(
            routing.personal_address(&nobody, Transport::Matrix),
            Err(format!("{} has no matrix_id", nobody.id))
        );
        assert_eq!(names(&routing.routes(&config, &nobody, Ask::Submit)), ["teams"]);
    }

    #[test]
    fn routes_read_back_from_the_outbox() {
        for text in ["email", "matrix", "teams:eu-network", "webhook"] {
            assert_eq!(text.parse::<Route>().unwrap().to_string(), text);
        }
        assert_eq!("pigeon".parse::<Route>(), Err("unknown channel \"pigeon\"".into()));
    }

    #[test]
    fn unknown_channels_and_missing_setup_are_errors() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let routing = Routing {
            reminders: vec![Target::parse("matrix")],
            escalations: vec![Target::parse("eu-netwrok")],
            acknowledgements: vec![],
            network: vec!["eu-network".into(), "eu-natverk".into()],
            ..Routing::default()
        };
        let (errors, _) = routing.check(&config);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("routing.reminders: \"matrix\" needs the Matrix bot"));
        assert!(errors[1].starts_with("routing.escalations: unknown channel \"eu-netwrok\""));
        assert!(errors[1].contains("eu-network"));
        assert!(errors[2].starts_with("routing.acknowledgements: name at least one channel"));
        assert!(
            errors[3].starts_with("calls.network: unknown channel \"eu-natverk\""),
            "{errors:?}"
        );
    }
}
