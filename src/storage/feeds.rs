//! Calendar feeds' rotations: when each scope's subscription links were last replaced.

use anyhow::Context as _;
use jiff::Timestamp;

use super::Store;

impl Store {
    /// Records that the feed of `scope` was rotated at `at`: its links issued before are refused.
    pub async fn rotate_feed(&self, scope: &str, at: Timestamp) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO feed_rotations (scope, rotated_at) VALUES ($1, $2) \
             ON CONFLICT (scope) DO UPDATE SET rotated_at = excluded.rotated_at",
        )
        .bind(scope)
        .bind(at.as_second())
        .execute(&self.pool)
        .await
        .with_context(|| format!("rotating the calendar feed {scope}"))?;
        Ok(())
    }

    /// When the feed of `scope` was last rotated (seconds since the epoch), if ever.
    pub async fn feed_rotated_at(&self, scope: &str) -> anyhow::Result<Option<i64>> {
        sqlx::query_scalar("SELECT rotated_at FROM feed_rotations WHERE scope = $1")
            .bind(scope)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("reading the rotation of the calendar feed {scope}"))
    }
}
