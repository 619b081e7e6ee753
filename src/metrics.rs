//! Prometheus metrics, kept with `prometheus-client` (the Prometheus project's own crate, which
//! owns the exposition format and the escaping of label values): counters and a latency
//! histogram in memory, plus outbox gauges set from the database at scrape time.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::steps::DeliveryState;

/// The media type of [`Metrics::render`]'s text (OpenMetrics, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the send latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// Everything arshjul counts. Each metric shares its values with its entry in the registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    send_seconds: Histogram,
    actions: Family<ActionLabels, Counter>,
    rejected_links: Family<ReasonLabel, Counter>,
    rejected_hooks: Family<ReasonLabel, Counter>,
    outbox: Family<StateLabel, Gauge>,
    oldest_waiting: Gauge,
    database_up: Gauge,
    plan_age: Gauge,
    dispatch_age: Gauge,
}

/// What a scrape reads besides the counters: the outbox (`None` when the database did not
/// answer) and the ages of the last successful plan and dispatch.
pub struct Scrape<'a> {
    pub outbox: Option<OutboxGauges<'a>>,
    pub plan_age: Option<i64>,
    pub dispatch_age: Option<i64>,
}

/// The outbox as one scrape read it.
pub struct OutboxGauges<'a> {
    /// How many deliveries are in each state.
    pub depth: &'a [(DeliveryState, i64)],
    /// The age of the oldest due delivery not yet sent, in seconds.
    pub oldest_waiting_seconds: Option<i64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Self {
            registry: Registry::default(),
            deliveries: Family::default(),
            send_seconds: Histogram::new(BUCKETS),
            actions: Family::default(),
            rejected_links: Family::default(),
            rejected_hooks: Family::default(),
            outbox: Family::default(),
            oldest_waiting: Gauge::default(),
            database_up: Gauge::default(),
            plan_age: Gauge::default(),
            dispatch_age: Gauge::default(),
        };
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder adds it.
        registry.register(
            "arshjul_deliveries",
            "Deliveries by channel and outcome",
            metrics.deliveries.clone(),
        );
        registry.register(
            "arshjul_outbox_deliveries",
            "Deliveries in the outbox by state",
            metrics.outbox.clone(),
        );
        registry.register(
            "arshjul_outbox_oldest_waiting_seconds",
            "Age of the oldest due delivery not yet sent",
            metrics.oldest_waiting.clone(),
        );
        registry.register(
            "arshjul_database_up",
            "Whether the database answered this scrape in time (1) or not (0)",
            metrics.database_up.clone(),
        );
        registry.register(
            "arshjul_last_plan_age_seconds",
            "Seconds since planning last succeeded (-1: not yet)",
            metrics.plan_age.clone(),
        );
        registry.register(
            "arshjul_last_dispatch_age_seconds",
            "Seconds since the dispatcher last recorded outcomes (-1: not yet)",
            metrics.dispatch_age.clone(),
        );
        registry.register(
            "arshjul_send_seconds",
            "Time to send one message",
            metrics.send_seconds.clone(),
        );
        registry.register(
            "arshjul_actions",
            "Actions taken on occurrences, by action and outcome",
            metrics.actions.clone(),
        );
        registry.register(
            "arshjul_rejected_links",
            "Refused signed links and sign-ins through the OpenID provider, by reason",
            metrics.rejected_links.clone(),
        );
        registry.register(
            "arshjul_rejected_hooks",
            "Refused inbound webhook requests (Teams), by reason",
            metrics.rejected_hooks.clone(),
        );
        Self { registry, ..metrics }
    }
}

impl Metrics {
    /// Counts `count` deliveries on `channel` that ended in `outcome` (sent, retry, dead).
    pub fn delivered(&self, channel: &str, outcome: &'static str, count: u64) {
        let labels = DeliveryLabels {
            channel: channel.to_owned(),
            outcome,
        };
        self.deliveries.get_or_create(&labels).inc_by(count);
    }

    /// Records how long one message took to send.
    pub fn send_took(&self, took: Duration) {
        self.send_seconds.observe(took.as_secs_f64());
    }

    /// Counts an action (submit, acknowledge, waive) and what came of it.
    pub fn action(&self, action: &'static str, outcome: &'static str) {
        self.actions.get_or_create(&ActionLabels { action, outcome }).inc();
    }

    /// Counts a refused link by reason (forged, expired, …).
    pub fn rejected_link(&self, reason: &'static str) {
        self.rejected_links.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a refused inbound webhook request by reason (unsigned, forged, stale).
    pub fn rejected_hook(&self, reason: &'static str) {
        self.rejected_hooks.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The exposition text, with the gauges set from `scrape`.
    pub fn render(&self, scrape: &Scrape<'_>) -> String {
        if let Some(outbox) = &scrape.outbox {
            for state in DeliveryState::ALL {
                let n = outbox.depth.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
                self.outbox.get_or_create(&StateLabel { state: state.as_str() }).set(n);
            }
            self.oldest_waiting
                .set(outbox.oldest_waiting_seconds.unwrap_or(0).max(0));
        }
        self.database_up.set(i64::from(scrape.outbox.is_some()));
        self.plan_age.set(scrape.plan_age.unwrap_or(-1));
        self.dispatch_age.set(scrape.dispatch_age.unwrap_or(-1));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gauges_and_the_histogram_are_exposed_with_their_labels_escaped() {
        let metrics = Metrics::default();
        metrics.delivered("matrix:eu\"network", "sent", 2);
        metrics.action("submit", "recorded");
        metrics.rejected_hook("forged");
        metrics.send_took(Duration::from_millis(30));
        let text = metrics.render(&Scrape {
            outbox: Some(OutboxGauges {
                depth: &[(DeliveryState::Pending, 4)],
                oldest_waiting_seconds: Some(12),
            }),
            plan_age: Some(30),
            dispatch_age: None,
        });
        for expected in [
            "arshjul_deliveries_total{channel=\"matrix:eu\\\"network\",outcome=\"sent\"} 2",
            "arshjul_actions_total{action=\"submit\",outcome=\"recorded\"} 1",
            "arshjul_rejected_hooks_total{reason=\"forged\"} 1",
            "arshjul_outbox_deliveries{state=\"pending\"} 4",
            "arshjul_outbox_deliveries{state=\"dead\"} 0",
            "arshjul_outbox_oldest_waiting_seconds 12",
            "arshjul_send_seconds_bucket{le=\"0.05\"} 1",
            "arshjul_send_seconds_count 1",
            "arshjul_database_up 1",
            "arshjul_last_plan_age_seconds 30",
            "arshjul_last_dispatch_age_seconds -1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
