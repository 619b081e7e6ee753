//! Microsoft Teams through incoming webhooks: a Power Automate Workflows URL takes an Adaptive
//! Card in a message envelope; a legacy Office 365 connector URL takes a MessageCard. Cards
//! only open links (`Action.OpenUrl`): acting on an item happens on arshjul's signed pages.

use std::collections::HashMap;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{Notifier, Outgoing, Receipt, SendError, hook_urls, http_client, post_json};
use crate::domain::messages::{Item, Labels, Rendered};
use crate::domain::routing::{Address, hook_key};
use crate::settings::{CardFormat, TeamsSettings};

/// Teams refuses messages over 28 KiB after it has added its own properties; stay below.
pub const MAX_CARD_BYTES: usize = 24 * 1024;

/// The Adaptive Card version: 1.4 renders on every Teams client that Workflows posts to.
pub const CARD_VERSION: &str = "1.4";

/// Posts cards to the configured Teams webhooks.
pub struct TeamsNotifier {
    client: reqwest::Client,
    hooks: HashMap<String, reqwest::Url>,
    formats: HashMap<String, CardFormat>,
}

impl TeamsNotifier {
    /// A notifier for every webhook under `[teams.webhooks]`; `None` when there are none.
    pub fn new(settings: &TeamsSettings) -> anyhow::Result<Option<Self>> {
        if settings.webhooks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            client: http_client("teams", settings.timeout_seconds)?,
            hooks: hook_urls("teams.webhooks", settings.webhooks.iter().map(|(n, h)| (n, &h.url)))?,
            formats: settings.webhooks.iter().map(|(n, h)| (hook_key(n), h.format)).collect(),
        }))
    }
}

impl Notifier for TeamsNotifier {
    async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let Address::Teams(name) = &message.address else {
            return Err(SendError::permanent("not a Teams address"));
        };
        let key = hook_key(name);
        let (Some(url), Some(format)) = (self.hooks.get(&key), self.formats.get(&key)) else {
            return Err(SendError::permanent(format!(
                "the Teams webhook \"{name}\" is not set up"
            )));
        };
        let body = match format {
            CardFormat::AdaptiveCard => fitting(|detailed| adaptive_card(&message.rendered, detailed))?,
            CardFormat::MessageCard => fitting(|detailed| message_card(&message.rendered, detailed))?,
        };
        let response = post_json(&self.client, url, HeaderMap::new(), body, "teams").await?;
        // Legacy connectors answer throttling with 200 and the error in the body.
        if *format == CardFormat::MessageCard {
            let text = response.text().await.unwrap_or_default();
            if text.contains("429") {
                return Err(SendError::retryable(
                    "teams throttled the connector (HTTP 429 in the body)",
                ));
            }
        }
        Ok(Receipt::default())
    }
}

/// The card as JSON, in full if it fits Teams' size limit, else without the guideline's text
/// and notes; an error if even that is too large (the dispatcher may then fall back to email).
fn fitting(card: impl Fn(bool) -> Value) -> Result<Vec<u8>, SendError> {
    for detailed in [true, false] {
        let body = serde_json::to_vec(&card(detailed)).map_err(|e| SendError::permanent(format!("encoding: {e}")))?;
        if body.len() <= MAX_CARD_BYTES {
            return Ok(body);
        }
    }
    Err(SendError::permanent(format!(
        "the Teams card is larger than {MAX_CARD_BYTES} bytes even without details"
    )))
}

/// A Workflows message: an envelope with one Adaptive Card listing every item, each with its
/// facts and a button that opens its signed link.
pub fn adaptive_card(rendered: &Rendered, detailed: bool) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": rendered.subject, "size": "Large", "weight": "Bolder", "wrap": true,
    })];
    if rendered.items.is_empty() {
        body.push(json!({"type": "TextBlock", "text": rendered.text, "wrap": true}));
    }
    for item in &rendered.items {
        body.push(item_container(item, &rendered.labels, detailed));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": CARD_VERSION,
                "body": body,
                "msteams": {"width": "Full"},
            },
        }],
    })
}

fn item_container(item: &Item, labels: &Labels, detailed: bool) -> Value {
    let mut items = vec![
        json!({"type": "TextBlock", "text": item.title, "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "FactSet", "facts": facts(item, labels)}),
        json!({"type": "TextBlock", "text": item.ask, "wrap": true}),
    ];
    if detailed {
        if let Some(note) = &item.note {
            items.push(json!({"type": "TextBlock", "text": note, "wrap": true, "isSubtle": true}));
        }
        // A call without a description has nothing to show here.
        if !item.basis.trim().is_empty() {
            items.push(json!({
                "type": "TextBlock", "text": format!("{}: ”{}”", labels.basis, item.basis),
                "wrap": true, "isSubtle": true, "size": "Small",
            }));
        }
    }
    let actions: Vec<Value> = item
        .links
        .iter()
        .map(|link| json!({"type": "Action.OpenUrl", "title": link.label, "url": link.url}))
        .collect();
    // Teams puts the actions of one set in a row and cuts their titles short on a phone; more
    // than two go one under the other, each in its own set.
    match actions.len() {
        0 => {}
        1 | 2 => items.push(json!({"type": "ActionSet", "actions": actions})),
        _ => items.extend(
            actions
                .into_iter()
                .map(|action| json!({"type": "ActionSet", "actions": [action]})),
        ),
    }
    json!({"type": "Container", "separator": true, "spacing": "Medium", "items": items})
}

fn facts(item: &Item, labels: &Labels) -> Vec<Value> {
    [
        (labels.unit, Some(&item.unit)),
        (labels.period, item.period.as_ref()),
        (labels.due, Some(&item.due)),
        (labels.status, Some(&item.status)),
    ]
    .into_iter()
    .filter_map(|(title, value)| Some(json!({"title": title, "value": value?})))
    .collect()
}

/// A legacy connector's MessageCard: one section per item, one link button per action.
pub fn message_card(rendered: &Rendered, detailed: bool) -> Value {
    let labels = &rendered.labels;
    let sections: Vec<Value> = rendered
        .items
        .iter()
        .map(|item| {
            let facts: Vec<Value> = facts(item, labels)
                .into_iter()
                .map(|f| json!({"name": f["title"], "value": f["value"]}))
                .collect();
            let mut text = item.ask.to_owned();
            if detailed {
                text = format!("{text}\n\n{}: ”{}”", labels.basis, item.basis);
            }
            let actions: Vec<Value> = item
                .links
                .iter()
                .map(|link| json!({"@type": "OpenUri", "name": link.label, "targets": [{"os": "default", "uri": link.url}]}))
                .collect();
            json!({"activityTitle": item.title, "facts": facts, "text": text, "potentialAction": actions})
        })
        .collect();
    json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": rendered.subject,
        "themeColor": "005A9C",
        "title": rendered.subject,
        "text": if rendered.items.is_empty() { rendered.text.as_str() } else { "" },
        "sections": sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::Language;
    use crate::domain::messages::ItemLink;

    fn rendered(items: usize, basis_len: usize) -> Rendered {
        let item = Item {
            title: "Uppföljning".into(),
            unit: "Tekniska förvaltningen".into(),
            period: Some("2026".into()),
            due: "måndag 15 februari 2027 kl. 16.00".into(),
            status: "Sista dag i dag".into(),
            ask: "Gör klart.",
            note: None,
            basis: "x".repeat(basis_len),
            basis_html: None,
            links: vec![ItemLink {
                label: "Markera som inlämnad".into(),
                url: "https://arshjul.example.org/ack/v2.a.b".into(),
            }],
        };
        Rendered {
            subject: "Påminnelse".into(),
            text: String::new(),
            html: String::new(),
            items: vec![item; items],
            labels: Labels::new(Language::Sv),
        }
    }

    #[test]
    fn a_card_too_large_for_teams_drops_details_then_gives_up() {
        let full = |r: &Rendered| serde_json::to_vec(&adaptive_card(r, true)).unwrap().len();
        let large = rendered(10, 3000);
        assert!(full(&large) > MAX_CARD_BYTES);
        let fitted = fitting(|d| adaptive_card(&large, d)).unwrap();
        assert!(fitted.len() <= MAX_CARD_BYTES);
        assert!(!String::from_utf8(fitted).unwrap().contains("Ur riktlinjerna"));
        let small = rendered(1, 100);
        let fitted = fitting(|d| adaptive_card(&small, d)).unwrap();
        assert!(String::from_utf8(fitted).unwrap().contains("Ur riktlinjerna"));
        assert!(matches!(
            fitting(|d| adaptive_card(&rendered(200, 10), d)),
            Err(SendError::Permanent { .. })
        ));
    }

    #[test]
    fn many_buttons_stack_one_under_the_other_and_an_empty_description_is_left_out() {
        let mut call = rendered(1, 0);
        call.labels = Labels::for_calls(Language::Sv);
        call.items[0].links = ["Läs utlysningen", "Intresserade", "Ansöker", "Inte aktuellt"]
            .iter()
            .map(|label| ItemLink {
                label: (*label).into(),
                url: "https://arshjul.example.org/calls/answer/v2.a.b".into(),
            })
            .collect();
        let card = adaptive_card(&call, true);
        let items = card["attachments"][0]["content"]["body"][1]["items"]
            .as_array()
            .unwrap();
        let sets: Vec<usize> = items
            .iter()
            .filter(|i| i["type"] == "ActionSet")
            .map(|i| i["actions"].as_array().unwrap().len())
            .collect();
        assert_eq!(sets, [1, 1, 1, 1], "four buttons, each on its own row");
        assert!(!card.to_string().contains("Om utlysningen"), "{card}");
        // Two fit side by side.
        call.items[0].links.truncate(2);
        let card = adaptive_card(&call, true);
        let items = card["attachments"][0]["content"]["body"][1]["items"]
            .as_array()
            .unwrap();
        assert_eq!(items.iter().filter(|i| i["type"] == "ActionSet").count(), 1);
    }

    #[test]
    fn a_message_card_has_facts_and_link_buttons() {
        let card = message_card(&rendered(1, 10), true);
        assert_eq!(card["@type"], "MessageCard");
        let section = &card["sections"][0];
        assert_eq!(section["facts"][0]["name"], "Enhet");
        assert_eq!(section["facts"][0]["value"], "Tekniska förvaltningen");
        assert_eq!(section["potentialAction"][0]["@type"], "OpenUri");
        assert_eq!(
            section["potentialAction"][0]["targets"][0]["uri"],
            "https://arshjul.example.org/ack/v2.a.b"
        );
    }
}
