//! Notebook pod CPU and memory from cAdvisor, joined to users through `kube_pod_labels`.
//!
//! Only the `notebook` container counts: cAdvisor also reports the pod total (`container=""`)
//! and the pause container (`POD`), which would count the same CPU twice. Pod names are never
//! reversed into usernames (KubeSpawner's slugs are lossy); the label join is the only mapping.

use std::collections::BTreeMap;

use super::values::{decimal_units, CounterIncrease};
use super::{MetricSample, SampleParser, Tally};
use crate::window::Window;

pub const CPU: &str = "container_cpu_usage_seconds_total";
pub const MEMORY: &str = "container_memory_working_set_bytes";
pub const LABELS: &str = "kube_pod_labels";
const USER_LABEL: &str = "label_hub_jupyter_org_username";
const CONTAINER: &str = "notebook";

#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    pub namespace: String,
    pub pod: String,
    /// From `kube_pod_labels`; `None` when the pod has no username label.
    pub user: Option<String>,
    /// CPU core-seconds in the window, in nanoseconds.
    pub cpu_ns: i128,
    pub peak_memory_bytes: i128,
}

pub struct PodsParser {
    start_ms: i64,
    end_ms: i64,
    users: BTreeMap<(String, String), String>,
    cpu: BTreeMap<(String, String), CounterIncrease>,
    memory: BTreeMap<(String, String), i128>,
    tally: Tally,
}

impl PodsParser {
    pub fn new(window: &Window) -> Self {
        PodsParser {
            start_ms: window.start.timestamp_millis(),
            end_ms: window.end.timestamp_millis(),
            users: BTreeMap::new(),
            cpu: BTreeMap::new(),
            memory: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn pods(&self) -> Vec<PodUsage> {
        let mut keys: Vec<&(String, String)> = self.cpu.keys().chain(self.memory.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|k| PodUsage {
                namespace: k.0.clone(),
                pod: k.1.clone(),
                user: self.users.get(k).cloned(),
                cpu_ns: self.cpu.get(k).map(|c| c.increase).unwrap_or(0),
                peak_memory_bytes: self.memory.get(k).copied().unwrap_or(0),
            })
            .collect()
    }
}

impl SampleParser for PodsParser {
    fn metric_names(&self) -> &'static [&'static str] {
        &[CPU, MEMORY, LABELS]
    }

    fn feed(&mut self, s: &MetricSample) {
        if ![CPU, MEMORY, LABELS].contains(&s.name) {
            return;
        }
        self.tally.lines_read += 1;
        let (Some(ns), Some(pod)) = (s.label("namespace"), s.label("pod")) else {
            return self
                .tally
                .reject(s.name, "sample without namespace/pod labels");
        };
        let key = (ns.to_string(), pod.to_string());
        if s.name == LABELS {
            if let Some(user) = s.label(USER_LABEL).filter(|u| !u.is_empty()) {
                self.users.insert(key, user.to_string());
            }
            return;
        }
        if s.label("container") != Some(CONTAINER) {
            self.tally.lines_skipped += 1;
            return;
        }
        if s.ts_ms < self.start_ms || s.ts_ms > self.end_ms {
            return;
        }
        if s.name == CPU {
            let Some(v) = decimal_units(s.value, 9) else {
                return self.tally.reject(s.value, "CPU counter is not a number");
            };
            if let Err(reason) = self.cpu.entry(key).or_default().add(s.ts_ms, v) {
                self.tally.reject(s.name, reason);
            }
        } else {
            let Some(v) = decimal_units(s.value, 0) else {
                return self.tally.reject(s.value, "working set is not a number");
            };
            let m = self.memory.entry(key).or_insert(v);
            *m = (*m).max(v);
        }
    }

    fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_increase_with_reset_and_container_filter() {
        let w = crate::window::test_day();
        let (s0, e0) = (w.start.timestamp_millis(), w.end.timestamp_millis());
        let mut p = PodsParser::new(&w);
        let lab = |c: &str| {
            vec![
                ("namespace".to_string(), "jhub".to_string()),
                ("pod".to_string(), "jupyter-alice".to_string()),
                ("container".to_string(), c.to_string()),
            ]
        };
        let (nb, total) = (lab("notebook"), lab(""));
        let user = vec![
            ("namespace".to_string(), "jhub".to_string()),
            ("pod".to_string(), "jupyter-alice".to_string()),
            (USER_LABEL.to_string(), "alice".to_string()),
        ];
        let mut feed = |name, labels: &[(String, String)], v, ts| {
            p.feed(&MetricSample {
                name,
                labels,
                value: v,
                ts_ms: ts,
            })
        };
        feed(LABELS, &user, "1", s0 - 60_000);
        feed(CPU, &nb, "100", s0 - 60_000); // before the window
        feed(CPU, &nb, "100.5", s0);
        feed(CPU, &nb, "160.25", s0 + 300_000);
        feed(CPU, &nb, "4", s0 + 600_000); // restart: counts 4
        feed(CPU, &nb, "10", e0);
        feed(CPU, &nb, "99", e0 + 1); // after
        feed(CPU, &total, "999", s0 + 300_000);
        feed(MEMORY, &nb, "2.5e+08", s0 + 300_000);
        feed(MEMORY, &nb, "1000", s0 + 600_000);
        let pods = p.pods();
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].user.as_deref(), Some("alice"));
        assert_eq!(
            pods[0].cpu_ns,
            59_750_000_000 + 4_000_000_000 + 6_000_000_000
        );
        assert_eq!(pods[0].peak_memory_bytes, 250_000_000);
        assert_eq!(p.tally.lines_skipped, 1);
    }
}
