//! Prometheus metrics in the text exposition format: counters and a latency histogram kept in
//! memory, plus outbox gauges read from the database at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::steps::DeliveryState;

/// Upper bounds (seconds) of the send latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Everything arshjul counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (channel, outcome) → deliveries.
    deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Send latency per message: bucket counts, sum of seconds, count.
    send_latency: Mutex<([u64; BUCKETS.len()], f64, u64)>,
    /// (action, outcome) → actions taken through links or the CLI.
    actions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// reason → refused links.
    rejected_links: Mutex<BTreeMap<&'static str, u64>>,
    /// reason → refused inbound webhook requests.
    rejected_hooks: Mutex<BTreeMap<&'static str, u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, by: u64) {
    *map.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += by;
}

impl Metrics {
    /// Counts `count` deliveries on `channel` that ended in `outcome` (sent, retry, dead).
    pub fn delivered(&self, channel: &str, outcome: &'static str, count: u64) {
        bump(&self.deliveries, (channel.to_owned(), outcome), count);
    }

    /// Records how long one message took to send.
    pub fn send_took(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut histogram = self.send_latency.lock().unwrap_or_else(|p| p.into_inner());
        for (bucket, bound) in histogram.0.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.1 += seconds;
        histogram.2 += 1;
    }

    /// Counts an action (submit, acknowledge, waive) and what came of it.
    pub fn action(&self, action: &'static str, outcome: &'static str) {
        bump(&self.actions, (action, outcome), 1);
    }

    /// Counts a refused link by reason (forged, expired, …).
    pub fn rejected_link(&self, reason: &'static str) {
        bump(&self.rejected_links, reason, 1);
    }

    /// Counts a refused inbound webhook request by reason (unsigned, forged, stale).
    pub fn rejected_hook(&self, reason: &'static str) {
        bump(&self.rejected_hooks, reason, 1);
    }

    /// The exposition text, with the outbox gauges read at scrape time.
    pub fn render(&self, depth: &[(DeliveryState, i64)], oldest_waiting_seconds: Option<i64>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP arshjul_deliveries_total Deliveries by channel and outcome."
        );
        let _ = writeln!(out, "# TYPE arshjul_deliveries_total counter");
        for ((channel, outcome), n) in self.deliveries.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "arshjul_deliveries_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP arshjul_outbox_deliveries Deliveries in the outbox by state."
        );
        let _ = writeln!(out, "# TYPE arshjul_outbox_deliveries gauge");
        for state in DeliveryState::ALL {
            let n = depth.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "arshjul_outbox_deliveries{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP arshjul_outbox_oldest_waiting_seconds Age of the oldest due delivery not yet sent."
        );
        let _ = writeln!(out, "# TYPE arshjul_outbox_oldest_waiting_seconds gauge");
        let _ = writeln!(
            out,
            "arshjul_outbox_oldest_waiting_seconds {}",
            oldest_waiting_seconds.unwrap_or(0).max(0)
        );
        let (buckets, sum, count) = *self.send_latency.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP arshjul_send_seconds Time to send one message.");
        let _ = writeln!(out, "# TYPE arshjul_send_seconds histogram");
        for (bound, n) in BUCKETS.iter().zip(buckets) {
            let _ = writeln!(out, "arshjul_send_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "arshjul_send_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "arshjul_send_seconds_sum {sum}");
        let _ = writeln!(out, "arshjul_send_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP arshjul_actions_total Actions taken on occurrences, by action and outcome."
        );
        let _ = writeln!(out, "# TYPE arshjul_actions_total counter");
        for ((action, outcome), n) in self.actions.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "arshjul_actions_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        for (name, help, counts) in [
            (
                "arshjul_rejected_links_total",
                "Refused signed links, by reason.",
                &self.rejected_links,
            ),
            (
                "arshjul_rejected_hooks_total",
                "Refused inbound webhook requests (Teams), by reason.",
                &self.rejected_hooks,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (reason, n) in counts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
            }
        }
        out
    }
}
