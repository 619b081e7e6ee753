//! Matrix over the Client-Server API: a bot account posts `m.room.message` events into direct
//! rooms with people and into the directory's rooms. Every message is sent with
//! `PUT …/send/m.room.message/{txnId}`, the transaction id being the message's stable key, so
//! a retry after a timeout or a crash returns the first event instead of posting a second one
//! (the homeserver scopes transaction ids to the bot's device, hence the fixed `device_id`).
//!
//! Rooms without a bot can be posted to through a matrix-hookshot generic webhook instead;
//! replies there cannot be followed.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell, RwLock};

use super::{Notifier, Outgoing, Receipt, SendError, check_url, describe, hook_urls, http_client, post_json};
use crate::domain::routing::{Address, hook_key};
use crate::settings::{MatrixSettings, Secret};

/// The bot: its session, and the rooms it has found or made.
pub struct MatrixNotifier {
    client: reqwest::Client,
    homeserver: reqwest::Url,
    /// The request timeout (a long-polling sync gets its wait on top).
    timeout: Duration,
    /// User and password, when the bot logs in itself.
    login: Option<(String, Secret)>,
    device_id: String,
    token: RwLock<Option<String>>,
    user_id: OnceCell<String>,
    /// Room ids by the id or alias the directory gives, once joined.
    rooms: Mutex<HashMap<String, String>>,
    /// Direct-message room ids by user id. One lock so that two sends never open two rooms.
    direct: Mutex<HashMap<String, String>>,
}

impl MatrixNotifier {
    /// The bot of `[matrix]`; `None` when no homeserver is set.
    pub fn new(settings: &MatrixSettings) -> anyhow::Result<Option<Self>> {
        if settings.homeserver_url.is_empty() {
            return Ok(None);
        }
        let homeserver = check_url("matrix.homeserver_url", &settings.homeserver_url).map_err(anyhow::Error::msg)?;
        let token = Some(settings.access_token.expose().to_owned()).filter(|t| !t.is_empty());
        let login = Some((settings.user.clone(), settings.password.clone()))
            .filter(|(user, password)| !user.is_empty() && !password.expose().is_empty());
        if token.is_none() && login.is_none() {
            anyhow::bail!("matrix: set access_token, or user and password, for the bot");
        }
        Ok(Some(Self {
            // Long enough for a slow homeserver; the dispatcher retries what times out.
            client: http_client("matrix", settings.timeout_seconds)?,
            homeserver,
            timeout: Duration::from_secs(settings.timeout_seconds),
            login,
            device_id: settings.device_id.clone(),
            token: RwLock::new(token),
            user_id: OnceCell::new(),
            rooms: Mutex::new(HashMap::new()),
            direct: Mutex::new(HashMap::new()),
        }))
    }

    /// The bot's user id, asked once.
    pub async fn user_id(&self) -> Result<&str, SendError> {
        self.user_id
            .get_or_try_init(|| async {
                let whoami = self.api(Method::GET, &["account", "whoami"], None).await?;
                text(&whoami, "user_id")
            })
            .await
            .map(String::as_str)
    }

    /// The room a message to `address` goes in: the direct room with a person, or a room of
    /// the directory, joined.
    async fn room_for(&self, address: &Address) -> Result<String, SendError> {
        match address {
            Address::MatrixUser(user) => self.direct_room(user).await,
            Address::MatrixRoom(room) => self.join(room).await,
            _ => Err(SendError::permanent("not a Matrix address")),
        }
    }

    /// Joins `room` (an id or an alias) once and returns its id.
    pub async fn join(&self, room: &str) -> Result<String, SendError> {
        if let Some(id) = self.rooms.lock().await.get(room) {
            return Ok(id.clone());
        }
        let joined = self.api(Method::POST, &["join", room], Some(&json!({}))).await?;
        let id = text(&joined, "room_id")?;
        self.rooms.lock().await.insert(room.to_owned(), id.clone());
        Ok(id)
    }

    /// The direct room with `user`: the one recorded in the bot's `m.direct` account data that
    /// the bot is still in, or a new one, invited and recorded there.
    async fn direct_room(&self, user: &str) -> Result<String, SendError> {
        let mut direct = self.direct.lock().await;
        if let Some(id) = direct.get(user) {
            return Ok(id.clone());
        }
        let me = self.user_id().await?.to_owned();
        let account_data = ["user", me.as_str(), "account_data", "m.direct"];
        let mut rooms = match self.call(Method::GET, &account_data, None).await? {
            (200, body) => body,
            // No direct rooms yet.
            (404, _) => json!({}),
            (status, body) => return Err(matrix_error(status, None, &body)),
        };
        let joined = self.api(Method::GET, &["joined_rooms"], None).await?;
        let joined: Vec<&str> = joined["joined_rooms"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let known = rooms[user]
            .as_array()
            .and_then(|ids| ids.iter().filter_map(Value::as_str).find(|id| joined.contains(id)))
            .map(str::to_owned);
        let id = match known {
            Some(id) => id,
            None => {
                let created = self
                    .api(
                        Method::POST,
                        &["createRoom"],
                        Some(&json!({"preset": "trusted_private_chat", "is_direct": true, "invite": [user]})),
                    )
                    .await?;
                let id = text(&created, "room_id")?;
                if !rooms.is_object() {
                    rooms = json!({});
                }
                let ids = rooms[user].as_array().cloned().unwrap_or_default();
                rooms[user] = Value::Array(ids.into_iter().chain([Value::String(id.clone())]).collect());
                self.api(Method::PUT, &account_data, Some(&rooms)).await?;
                tracing::info!(user, room = %id, "opened a direct Matrix room");
                id
            }
        };
        direct.insert(user.to_owned(), id.clone());
        Ok(id)
    }

    /// One `/sync` from `since` (the first without: only its `next_batch` matters), waiting
    /// up to `timeout_ms` for something to happen. Only timelines, invites and the bot's
    /// account data are asked for.
    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64) -> Result<Value, SendError> {
        let filter = json!({
            "room": {
                "timeline": {"types": ["m.room.message", "m.reaction"], "limit": 100},
                "state": {"types": []},
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": ["m.direct"]},
        });
        let mut url = self.endpoint(&["sync"])?;
        url.query_pairs_mut()
            .append_pair("timeout", &timeout_ms.to_string())
            .append_pair("filter", &filter.to_string());
        if let Some(since) = since {
            url.query_pairs_mut().append_pair("since", since);
        }
        let token = self.token().await?;
        let response = self
            .client
            .get(url)
            .bearer_auth(&token)
            // The long poll itself, plus the channel's usual allowance.
            .timeout(Duration::from_millis(timeout_ms) + self.timeout)
            .send()
            .await
            .map_err(|e| SendError::retryable(describe("matrix sync", &e)))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(matrix_error(status, None, &answer))
        }
    }

    /// Posts `content` as an `m.room.message` in `room` with transaction id `txn`; the event id.
    pub async fn post(&self, room: &str, txn: &str, content: &Value) -> Result<String, SendError> {
        let sent = self
            .api(
                Method::PUT,
                &["rooms", room, "send", "m.room.message", txn],
                Some(content),
            )
            .await?;
        text(&sent, "event_id")
    }

    /// A Client-Server API call that must succeed; its JSON answer.
    async fn api(&self, method: Method, path: &[&str], body: Option<&Value>) -> Result<Value, SendError> {
        match self.call(method, path, body).await? {
            (200..=299, answer) => Ok(answer),
            (status, answer) => Err(matrix_error(status, None, &answer)),
        }
    }

    /// A Client-Server API call under `/_matrix/client/v3/`: status and JSON answer. Logs in
    /// when there is no token, and once more when the homeserver no longer knows it.
    async fn call(&self, method: Method, path: &[&str], body: Option<&Value>) -> Result<(u16, Value), SendError> {
        let url = self.endpoint(path)?;
        for attempt in 0..2 {
            let token = self.token().await?;
            let mut request = self.client.request(method.clone(), url.clone()).bearer_auth(&token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| SendError::retryable(describe("matrix", &e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if status == 401 && answer["errcode"] == "M_UNKNOWN_TOKEN" && self.login.is_some() && attempt == 0 {
                tracing::warn!("the homeserver no longer knows the bot's token; logging in again");
                *self.token.write().await = None;
                continue;
            }
            if status == 429 || status >= 500 {
                return Err(matrix_error(status, retry_after.as_deref(), &answer));
            }
            return Ok((status, answer));
        }
        Err(SendError::permanent("the homeserver refused the bot's new token"))
    }

    /// The URL of `path` under `/_matrix/client/v3/`, each part percent-encoded.
    fn endpoint(&self, path: &[&str]) -> Result<reqwest::Url, SendError> {
        let mut url = self.homeserver.clone();
        url.path_segments_mut()
            .map_err(|()| SendError::permanent("matrix.homeserver_url cannot take a path"))?
            .pop_if_empty()
            .extend(["_matrix", "client", "v3"])
            .extend(path);
        Ok(url)
    }

    /// The access token: configured, or got by logging in with the bot's fixed device.
    async fn token(&self) -> Result<String, SendError> {
        if let Some(token) = self.token.read().await.as_ref() {
            return Ok(token.clone());
        }
        let mut slot = self.token.write().await;
        if let Some(token) = slot.as_ref() {
            return Ok(token.clone());
        }
        let Some((user, password)) = &self.login else {
            return Err(SendError::permanent(
                "matrix: no access token and no password to log in with",
            ));
        };
        let url = self.endpoint(&["login"])?;
        let response = self
            .client
            .post(url)
            .json(&json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password.expose(),
                "device_id": self.device_id,
                "initial_device_display_name": "arshjul",
            }))
            .send()
            .await
            .map_err(|e| SendError::retryable(describe("matrix login", &e)))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(matrix_error(status, None, &answer));
        }
        let token = text(&answer, "access_token")?;
        tracing::info!(device = %self.device_id, "the Matrix bot logged in");
        *slot = Some(token.clone());
        Ok(token)
    }
}

impl Notifier for MatrixNotifier {
    async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let room = self.room_for(&message.address).await?;
        let event_id = self
            .post(&room, &message.message_key, &message_content(message))
            .await?;
        Ok(Receipt {
            provider_id: Some(event_id),
            destination: Some(room),
        })
    }
}

/// An `m.room.message` with a plain body, the chat HTML and, when the recipient has a Matrix
/// id, a mention of them: a pill in the HTML and `m.mentions`, which is what notifies.
pub fn message_content(message: &Outgoing) -> Value {
    let rendered = &message.rendered;
    let recipient = &message.recipient;
    let (pill, mentions) = match &recipient.matrix_id {
        Some(user) => (
            format!(
                "<p><a href=\"https://matrix.to/#/{}\">{}</a></p>\n",
                minijinja::HtmlEscape(user),
                minijinja::HtmlEscape(&recipient.name)
            ),
            json!({"user_ids": [user]}),
        ),
        None => (String::new(), json!({})),
    };
    let mut content = json!({
        "msgtype": "m.text",
        "body": rendered.text,
        "format": "org.matrix.custom.html",
        "formatted_body": format!("{pill}{}", rendered.html),
        "m.mentions": mentions,
        // An event id is the hash of the event: two messages of the same text sent to one room
        // in the same millisecond would be one event. The message's own key keeps them apart
        // (and tells which delivery a message was).
        "org.arshjul.message": message.message_key,
    });
    if let Some(event) = &message.in_reply_to {
        content["m.relates_to"] = json!({"m.in_reply_to": {"event_id": event}});
    }
    content
}

/// A homeserver's refusal as a send error: 429 (`M_LIMIT_EXCEEDED`), 408 and 5xx are
/// retryable, after `Retry-After` or `retry_after_ms` when given; everything else is permanent.
pub fn matrix_error(status: u16, retry_after: Option<&str>, answer: &Value) -> SendError {
    let code = answer["errcode"].as_str().unwrap_or("no errcode");
    let reason = match answer["error"].as_str() {
        Some(text) => format!("matrix: HTTP {status} {code}: {text}"),
        None => format!("matrix: HTTP {status} {code}"),
    };
    let after = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .or_else(|| answer["retry_after_ms"].as_u64().map(Duration::from_millis));
    match status {
        408 | 429 | 500..=599 => SendError::Retryable {
            reason,
            retry_after: after,
        },
        _ => SendError::permanent(reason),
    }
}

/// A string field of a homeserver's answer.
fn text(answer: &Value, field: &str) -> Result<String, SendError> {
    answer[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SendError::permanent(format!("matrix: the answer has no {field}")))
}

/// Posts to Matrix rooms through matrix-hookshot generic webhooks (`text` and `html`).
pub struct MatrixHookNotifier {
    client: reqwest::Client,
    hooks: HashMap<String, reqwest::Url>,
}

impl MatrixHookNotifier {
    /// A notifier for every webhook under `[matrix.webhooks]`; `None` when there are none.
    pub fn new(settings: &MatrixSettings) -> anyhow::Result<Option<Self>> {
        if settings.webhooks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            client: http_client("matrix webhook", settings.timeout_seconds)?,
            hooks: hook_urls("matrix.webhooks", settings.webhooks.iter().map(|(n, h)| (n, &h.url)))?,
        }))
    }
}

impl Notifier for MatrixHookNotifier {
    async fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let Address::MatrixHook(name) = &message.address else {
            return Err(SendError::permanent("not a Matrix webhook address"));
        };
        let url = self
            .hooks
            .get(&hook_key(name))
            .ok_or_else(|| SendError::permanent(format!("the Matrix webhook \"{name}\" is not set up")))?;
        let body = json!({"text": message.rendered.text, "html": message.rendered.html, "username": "arshjul"});
        let body = serde_json::to_vec(&body).map_err(|e| SendError::permanent(format!("encoding: {e}")))?;
        post_json(&self.client, url, HeaderMap::new(), body, "matrix webhook").await?;
        Ok(Receipt::default())
    }
}

/// Registers a user with Synapse's shared-secret admin API (as `register_new_matrix_user`
/// does): for test set-ups and `arshjul bench`. Returns the user id and an access token.
pub async fn register_with_shared_secret(
    client: &reqwest::Client,
    homeserver: &str,
    shared_secret: &str,
    localpart: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let endpoint = format!("{}/_synapse/admin/v1/register", homeserver.trim_end_matches('/'));
    let nonce: Value = client.get(&endpoint).send().await?.error_for_status()?.json().await?;
    let nonce = nonce["nonce"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no nonce from {endpoint}"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, shared_secret.as_bytes());
    let mac = ring::hmac::sign(&key, format!("{nonce}\0{localpart}\0{password}\0notadmin").as_bytes());
    let mac: String = mac.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let body = json!({"nonce": nonce, "username": localpart, "password": password, "admin": false, "mac": mac});
    let registered: Value = client
        .post(&endpoint)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    match (registered["user_id"].as_str(), registered["access_token"].as_str()) {
        (Some(user), Some(token)) => Ok((user.to_owned(), token.to_owned())),
        _ => anyhow::bail!("registration answered without a user id and token: {registered}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_wait_as_long_as_the_homeserver_asks() {
        let limited = json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2500});
        assert_eq!(
            matrix_error(429, None, &limited),
            SendError::Retryable {
                reason: "matrix: HTTP 429 M_LIMIT_EXCEEDED: Too many requests".into(),
                retry_after: Some(Duration::from_millis(2500)),
            }
        );
        // The standard header wins over the body's field.
        assert!(matches!(
            matrix_error(429, Some("7"), &limited),
            SendError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            matrix_error(403, None, &json!({"errcode": "M_FORBIDDEN"})),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            matrix_error(502, None, &Value::Null),
            SendError::Retryable { .. }
        ));
    }
}
