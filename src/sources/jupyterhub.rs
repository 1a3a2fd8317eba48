//! JupyterHub `server-action` events, paired into server sessions.
//!
//! Events are read from a lookback before the window so sessions that began earlier are found;
//! a stop whose start lies beyond the lookback began before the window. Pairing is per
//! (user, server name), since a user may run named servers side by side.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::values::jupyter_ns;
use super::{LineParser, Tally};
use crate::window::Window;

/// A server session that overlaps the window: a row of `notebook_sessions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookSession {
    pub user: String,
    pub server: String,
    /// `None`: began before the lookback horizon.
    pub start_ns: Option<i64>,
    /// `None`: still running at the window's end.
    pub stop_ns: Option<i64>,
    /// Overlap with the window.
    pub overlap_ns: i64,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "__timestamp__", borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "__schema__", borrow)]
    schema: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    servername: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Action {
    ts: i64,
    /// 0 = start, 1 = stop: at the same instant a start sorts before a stop.
    stop: bool,
}

pub struct JupyterhubParser {
    window: Window,
    from_ns: i64,
    seen: HashSet<(i64, bool, String, String)>,
    events: BTreeMap<(String, String), Vec<Action>>,
    pub tally: Tally,
}

impl JupyterhubParser {
    /// `lookback`: how far before the window's start events are considered.
    pub fn new(window: Window, lookback: std::time::Duration) -> Self {
        let from_ns = window
            .start_ns()
            .saturating_sub(i64::try_from(lookback.as_nanos()).unwrap_or(i64::MAX));
        JupyterhubParser {
            window,
            from_ns,
            seen: HashSet::new(),
            events: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    /// Pairs the events into sessions and keeps those overlapping the window.
    pub fn sessions(&self) -> Vec<NotebookSession> {
        let (ws, we) = (self.window.start_ns(), self.window.end_ns());
        let mut out = Vec::new();
        for ((user, server), actions) in &self.events {
            let mut actions = actions.clone();
            actions.sort();
            let mut open: Option<i64> = None;
            let mut first = true;
            let mut sessions: Vec<(Option<i64>, Option<i64>)> = Vec::new();
            for a in actions {
                match (a.stop, open) {
                    (false, None) => open = Some(a.ts),
                    (false, Some(_)) => {} // a duplicate start: the earlier one stands
                    (true, Some(s)) => {
                        sessions.push((Some(s), Some(a.ts)));
                        open = None;
                    }
                    (true, None) if first => sessions.push((None, Some(a.ts))),
                    (true, None) => {} // a duplicate stop
                }
                first = false;
            }
            if let Some(s) = open {
                sessions.push((Some(s), None));
            }
            for (start, stop) in sessions {
                let s = start.unwrap_or(i64::MIN);
                let e = stop.unwrap_or(i64::MAX);
                if s < we && e > ws {
                    out.push(NotebookSession {
                        user: user.clone(),
                        server: server.clone(),
                        start_ns: start,
                        stop_ns: stop,
                        overlap_ns: e.min(we) - s.max(ws),
                    });
                }
            }
        }
        out
    }
}

impl LineParser for JupyterhubParser {
    fn feed(&mut self, line: &str) {
        self.tally.lines_read += 1;
        let ev: Event = match serde_json::from_str(line.trim()) {
            Ok(e) => e,
            // The hub's own text log shares the stream: not ours unless it claims to be an event.
            Err(_) if !line.contains("server-action") => {
                self.tally.lines_skipped += 1;
                return;
            }
            Err(e) => {
                return self
                    .tally
                    .reject(line, &format!("server-action event does not parse ({e})"))
            }
        };
        if !ev
            .schema
            .as_deref()
            .is_some_and(|s| s.ends_with("server-action"))
        {
            self.tally.lines_skipped += 1;
            return;
        }
        let Some(ts) = ev.timestamp.as_deref().and_then(jupyter_ns) else {
            return self
                .tally
                .reject(line, "__timestamp__ missing or unreadable");
        };
        let stop = match ev.action.as_deref() {
            Some("start") => false,
            Some("stop") => true,
            _ => return self.tally.reject(line, "action is neither start nor stop"),
        };
        let Some(user) = ev.username.filter(|u| !u.is_empty()) else {
            return self.tally.reject(line, "event without username");
        };
        if ts < self.from_ns || ts >= self.window.end_ns() {
            return;
        }
        let server = ev.servername.map(Cow::into_owned).unwrap_or_default();
        let user = user.into_owned();
        if !self.seen.insert((ts, stop, user.clone(), server.clone())) {
            return;
        }
        self.events
            .entry((user, server))
            .or_default()
            .push(Action { ts, stop });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: i64 = 1_000_000_000;

    fn parser() -> JupyterhubParser {
        let w = crate::window::test_day();
        JupyterhubParser::new(w, Duration::from_secs(7 * 86_400))
    }

    fn ev(ts: &str, action: &str, user: &str, server: &str) -> String {
        format!(
            r#"{{"__timestamp__": "{ts}+00:00Z", "__schema__": "https://schema.jupyter.org/jupyterhub/events/server-action", "__schema_version__": "1", "__metadata_version__": 1, "action": "{action}", "username": "{user}", "servername": "{server}"}}"#
        )
    }

    #[test]
    fn sessions_across_the_window() {
        let mut p = parser();
        // Across midnight: 23:00 -> 01:30 counts 1.5 h.
        p.feed(&ev("2026-11-29T23:00:00.000000", "start", "alice", ""));
        p.feed(&ev("2026-11-30T01:30:00.000000", "stop", "alice", ""));
        // A duplicate start, then running at the end: 22:00 -> 24:00.
        p.feed(&ev("2026-11-30T22:00:00.000000", "start", "alice", ""));
        p.feed(&ev("2026-11-30T22:05:00.000000", "start", "alice", ""));
        // Named server that started days ago and still runs: the whole day.
        p.feed(&ev("2026-11-26T09:00:00.000000", "start", "bob", "gpu"));
        // A stop with no start anywhere: began before; then a duplicate stop.
        p.feed(&ev("2026-11-30T02:00:00.500000", "stop", "carol", ""));
        p.feed(&ev("2026-11-30T02:00:01.000000", "stop", "carol", ""));
        // Entirely the day before, and one starting exactly at the end.
        p.feed(&ev("2026-11-29T10:00:00.000000", "start", "dora", ""));
        p.feed(&ev("2026-11-29T11:00:00.000000", "stop", "dora", ""));
        p.feed(&ev("2026-12-01T00:00:00.000000", "start", "erik", ""));
        // Exact duplicate line and a malformed one.
        p.feed(&ev("2026-11-30T01:30:00.000000", "stop", "alice", ""));
        p.feed(r#"{"__timestamp__": "2026-11-30T", "__schema__": "https://schema.jupyter.org/jupyterhub/events/server-action"#);
        p.feed("[I 2026-11-30 17:00:00.412 JupyterHub proxy:899] Checking routes");
        let s = p.sessions();
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.user.as_str(), s.server.as_str(), s.overlap_ns))
            .collect();
        assert_eq!(
            got,
            [
                ("alice", "", 5400 * S),
                ("alice", "", 7200 * S),
                ("bob", "gpu", 86_400 * S),
                ("carol", "", 7200 * S + S / 2),
            ]
        );
        assert_eq!(s[1].stop_ns, None);
        assert_eq!(s[3].start_ns, None);
        assert_eq!((p.tally.lines_rejected, p.tally.lines_skipped), (1, 1));
    }
}
