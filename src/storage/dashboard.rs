//! What the dashboard keeps: single-use sign-in links, sessions, and the follow-up forms.

use std::collections::HashMap;

use anyhow::Context as _;
use jiff::Timestamp;
use sqlx::Row as _;

use super::{SIGN_IN_LOCK, Store, timestamp};
use crate::domain::dashboard::LastAction;
use crate::domain::followup::ActivityInput;
use crate::domain::report::StoredFollowUp;
use crate::settings::SignInSettings;

/// A signed-in person's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub person: String,
    /// The token every form of this session posts back.
    pub csrf: String,
}

impl Store {
    /// Marks the sign-in link with `nonce`, issued at `issued`, used; false if it was used
    /// before, or a newer link was mailed to the person since (it revokes this one). Forgets
    /// links that have expired, which cannot be used again anyway.
    pub async fn use_sign_in(
        &self,
        nonce: &str,
        person: &str,
        issued: Timestamp,
        expires: Timestamp,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        sqlx::query("DELETE FROM sign_ins_used WHERE expires_at < $1")
            .bind(now.as_second())
            .execute(&self.pool)
            .await
            .context("forgetting expired sign-in links")?;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(issued_at) FROM sign_in_links WHERE person = $1")
            .bind(person)
            .fetch_one(&self.pool)
            .await
            .context("finding a person's newest sign-in link")?;
        if newest.is_some_and(|newest| newest > issued.as_second()) {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO sign_ins_used (nonce, person, used_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(person)
        .bind(now.as_second())
        .bind(expires.as_second())
        .execute(&self.pool)
        .await
        .context("recording a sign-in")?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Records a sign-in link for `person`, asked for by `client`, issued at `now` — unless
    /// `limits` forbid it: false then, and nothing is recorded. One instance decides at a time.
    pub async fn grant_sign_in_link(
        &self,
        person: &str,
        client: &str,
        limits: &SignInSettings,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let now = now.as_second();
        let mut tx = self.begin_singleton(SIGN_IN_LOCK).await?;
        sqlx::query("DELETE FROM sign_in_links WHERE issued_at < $1")
            .bind(now - 24 * 3600)
            .execute(&mut *tx)
            .await
            .context("forgetting old sign-in links")?;
        const TO_PERSON: &str = "SELECT COUNT(*) FROM sign_in_links WHERE person = $1 AND issued_at > $2";
        const FROM_CLIENT: &str = "SELECT COUNT(*) FROM sign_in_links WHERE client = $1 AND issued_at > $2";
        let mut count = async |sql: &'static str, value: &str, since: i64| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(value.to_owned())
                .bind(since)
                .fetch_one(&mut *tx)
                .await
                .context("counting sign-in links")
        };
        let last_interval = count(TO_PERSON, person, now - limits.link_interval_seconds).await?;
        let last_hour = count(TO_PERSON, person, now - 3600).await?;
        let from_client = count(FROM_CLIENT, client, now - 3600).await?;
        if last_interval > 0 || last_hour >= limits.links_per_hour || from_client >= limits.links_per_client_per_hour {
            return Ok(false);
        }
        sqlx::query("INSERT INTO sign_in_links (person, client, issued_at) VALUES ($1, $2, $3)")
            .bind(person)
            .bind(client)
            .bind(now)
            .execute(&mut *tx)
            .await
            .context("recording a sign-in link")?;
        tx.commit().await.context("committing a sign-in link")?;
        Ok(true)
    }

    /// Starts a session known by the SHA-256 of its cookie.
    pub async fn start_session(
        &self,
        id_sha256: &str,
        session: &Session,
        now: Timestamp,
        expires: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now.as_second())
            .execute(&self.pool)
            .await
            .context("forgetting expired sessions")?;
        sqlx::query(
            "INSERT INTO sessions (id_sha256, person, csrf, created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id_sha256)
        .bind(session.person.as_str())
        .bind(session.csrf.as_str())
        .bind(now.as_second())
        .bind(expires.as_second())
        .execute(&self.pool)
        .await
        .context("starting a session")?;
        Ok(())
    }

    /// The session known by `id_sha256`, if it has not expired and was used within `idle`;
    /// marks it used now.
    pub async fn session(
        &self,
        id_sha256: &str,
        now: Timestamp,
        idle: jiff::SignedDuration,
    ) -> anyhow::Result<Option<Session>> {
        let row = sqlx::query(
            "UPDATE sessions SET seen_at = $1 WHERE id_sha256 = $2 AND expires_at >= $1 AND seen_at >= $3 \
             RETURNING person, csrf",
        )
        .bind(now.as_second())
        .bind(id_sha256)
        .bind(now.as_second() - idle.as_secs())
        .fetch_optional(&self.pool)
        .await
        .context("reading a session")?;
        row.map(|row| {
            Ok(Session {
                person: row.try_get("person")?,
                csrf: row.try_get("csrf")?,
            })
        })
        .transpose()
    }

    /// Ends the session known by `id_sha256` (signing out).
    pub async fn end_session(&self, id_sha256: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .execute(&self.pool)
            .await
            .context("ending a session")?;
        Ok(())
    }

    /// The follow-up form of occurrence `id`, draft or submitted, if anything was saved.
    pub async fn followup(&self, occurrence_id: i64) -> anyhow::Result<Option<StoredFollowUp>> {
        let row = sqlx::query(&format!("{FOLLOWUP_SELECT} WHERE occurrence_id = $1"))
            .bind(occurrence_id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a follow-up")?;
        row.as_ref().map(followup_from_row).transpose()
    }

    /// Every follow-up form saved.
    pub async fn followups(&self) -> anyhow::Result<Vec<StoredFollowUp>> {
        let rows = sqlx::query(FOLLOWUP_SELECT)
            .fetch_all(&self.pool)
            .await
            .context("reading the follow-ups")?;
        rows.iter().map(followup_from_row).collect()
    }

    /// Saves the form of occurrence `id` as typed (its rows and its diarienummer field); when
    /// `submitted`, also as what was submitted.
    pub async fn save_followup(
        &self,
        occurrence_id: i64,
        (rows, diarienummer): (&[ActivityInput], &str),
        person: &str,
        submitted: bool,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let activities = serde_json::to_string(rows).context("encoding a follow-up")?;
        let (submitted_activities, submitted_at) = if submitted {
            (Some(activities.clone()), Some(now.as_second()))
        } else {
            (None, None)
        };
        sqlx::query(
            "INSERT INTO followups (occurrence_id, activities, saved_by, saved_at, submitted_activities, submitted_at, \
             diarienummer) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (occurrence_id) DO UPDATE SET \
             activities = excluded.activities, saved_by = excluded.saved_by, saved_at = excluded.saved_at, \
             diarienummer = excluded.diarienummer, \
             submitted_activities = COALESCE(excluded.submitted_activities, followups.submitted_activities), \
             submitted_at = COALESCE(excluded.submitted_at, followups.submitted_at)",
        )
        .bind(occurrence_id)
        .bind(activities)
        .bind(person)
        .bind(now.as_second())
        .bind(submitted_activities)
        .bind(submitted_at)
        .bind(diarienummer)
        .execute(&self.pool)
        .await
        .context("saving a follow-up")?;
        Ok(())
    }

    /// The last submit, acknowledge or waive of every occurrence that has one.
    pub async fn last_actions(&self) -> anyhow::Result<HashMap<i64, LastAction>> {
        let rows = sqlx::query(
            "SELECT occurrence_id, actor, action, at FROM audit_log WHERE id IN (SELECT MAX(id) FROM audit_log \
             WHERE occurrence_id IS NOT NULL AND action IN ('submit', 'acknowledge', 'waive') GROUP BY occurrence_id)",
        )
        .fetch_all(&self.pool)
        .await
        .context("reading the last actions")?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("occurrence_id")?,
                    LastAction {
                        person: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        at: timestamp(row.try_get("at")?)?,
                    },
                ))
            })
            .collect()
    }
}

const FOLLOWUP_SELECT: &str = "SELECT occurrence_id, activities, saved_by, saved_at, submitted_activities, submitted_at, diarienummer \
     FROM followups";

fn followup_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<StoredFollowUp> {
    let rows = |json: &str| -> anyhow::Result<Vec<ActivityInput>> {
        serde_json::from_str(json).context("a stored follow-up is not the JSON expected")
    };
    Ok(StoredFollowUp {
        occurrence_id: row.try_get("occurrence_id")?,
        rows: rows(&row.try_get::<String, _>("activities")?)?,
        submitted_rows: row
            .try_get::<Option<String>, _>("submitted_activities")?
            .as_deref()
            .map(rows)
            .transpose()?,
        saved_by: row.try_get("saved_by")?,
        diarienummer: row.try_get::<Option<String>, _>("diarienummer")?.unwrap_or_default(),
        saved_at: timestamp(row.try_get("saved_at")?)?,
        submitted_at: row
            .try_get::<Option<i64>, _>("submitted_at")?
            .map(timestamp)
            .transpose()?,
    })
}
