//! OPA decision-log console lines (`"msg":"Decision Log"`), as the Trino OPA plugin causes them.
//!
//! Only the allow rule enforces: `Filter*` operations there merely hide items from listings, and
//! batch, row-filter and column-mask paths shape results. A denial is an allow decision that is
//! `false` or undefined (no `result`: Trino then does not get `true`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::values::{hour_of, rfc3339_ns};
use super::{LineParser, Tally};
use crate::window::Window;

/// One denial in the window: a row of `opa_denials.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpaDenial {
    pub decision_id: String,
    pub time_ns: i64,
    /// `input.context.identity.user`; empty when the input was erased or masked.
    pub user: String,
    pub operation: String,
    pub path: String,
    /// `false` or `undefined`.
    pub result: &'static str,
    pub query_id: String,
    pub resource: String,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    msg: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    decision_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<Input<'a>>,
}

#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    context: Option<InputContext<'a>>,
    #[serde(borrow)]
    action: Option<Action<'a>>,
}

#[derive(Deserialize)]
struct InputContext<'a> {
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
    #[serde(rename = "queryId", borrow)]
    query_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    /// Kept raw: parsed only the first time a user is met, not on each of millions of lines.
    #[serde(borrow, default)]
    groups: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Action<'a> {
    #[serde(borrow)]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

/// Parses decision-log lines; keeps denials (deduplicated) and the users seen in the window.
pub struct OpaParser {
    window: Window,
    allow_path: String,
    denial_ids: HashSet<String>,
    pub denials: Vec<OpaDenial>,
    /// Users with any decision in the window (they are "seen", even with no denial).
    pub users_seen: BTreeSet<String>,
    /// Decision log lines in the window per hour (start of the hour, ns): the dashboard's
    /// "OPA decisions" volume. Lines, not deduplicated decisions: keeping every decision id to
    /// deduplicate 5M allows would make memory grow with the log.
    pub lines_per_hour: BTreeMap<i64, u64>,
    /// Keycloak groups per user as OPA saw them (`input.context.identity.groups`), from the
    /// user's first decision in the window: where `identity.team_groups` names teams.
    pub user_groups: BTreeMap<String, Vec<String>>,
    pub tally: Tally,
}

impl OpaParser {
    pub fn new(window: Window, allow_path: &str) -> Self {
        OpaParser {
            window,
            allow_path: allow_path.trim_start_matches('/').to_string(),
            denial_ids: HashSet::new(),
            denials: Vec::new(),
            users_seen: BTreeSet::new(),
            lines_per_hour: BTreeMap::new(),
            user_groups: BTreeMap::new(),
            tally: Tally::default(),
        }
    }
}

impl LineParser for OpaParser {
    fn feed(&mut self, line: &str) {
        self.tally.lines_read += 1;
        let rec: Line = match serde_json::from_str(line.trim()) {
            Ok(r) => r,
            // OPA's own text log lines are not decisions: skipped, unless they claim to be one.
            Err(_) if !line.contains("decision_id") && !line.contains("Decision Log") => {
                self.tally.lines_skipped += 1;
                return;
            }
            Err(e) => {
                return self
                    .tally
                    .reject(line, &format!("decision log line does not parse ({e})"))
            }
        };
        let is_decision = rec.msg.as_deref() == Some("Decision Log")
            || rec.kind.as_deref() == Some("openpolicyagent.org/decision_logs");
        if !is_decision {
            self.tally.lines_skipped += 1;
            return;
        }
        let Some(decision_id) = rec.decision_id else {
            return self.tally.reject(line, "decision without decision_id");
        };
        let Some(time_ns) = rec.timestamp.as_deref().and_then(rfc3339_ns) else {
            return self
                .tally
                .reject(line, "decision without an RFC 3339 timestamp");
        };
        if !self.window.contains_ns(time_ns) {
            return;
        }
        *self.lines_per_hour.entry(hour_of(time_ns)).or_default() += 1;
        let (ctx, action) = match rec.input {
            Some(i) => (i.context, i.action),
            None => (None, None),
        };
        let user = ctx
            .as_ref()
            .and_then(|c| c.identity.as_ref())
            .and_then(|i| i.user.as_deref())
            .unwrap_or("");
        if !user.is_empty() && !self.users_seen.contains(user) {
            self.users_seen.insert(user.to_string());
            let groups = ctx
                .as_ref()
                .and_then(|c| c.identity.as_ref())
                .and_then(|i| i.groups)
                .and_then(|g| serde_json::from_str::<Vec<String>>(g.get()).ok())
                .unwrap_or_default();
            if !groups.is_empty() {
                self.user_groups.insert(user.to_string(), groups);
            }
        }
        let path = rec.path.as_deref().unwrap_or("").trim_start_matches('/');
        if path != self.allow_path {
            return;
        }
        let operation = action
            .as_ref()
            .and_then(|a| a.operation.as_deref())
            .unwrap_or("");
        if operation.starts_with("Filter") {
            return;
        }
        let result = match rec.result.map(|r| r.get().trim()) {
            None | Some("null") => "undefined",
            Some("false") => "false",
            Some(_) => return,
        };
        if !self.denial_ids.insert(decision_id.to_string()) {
            return;
        }
        self.denials.push(OpaDenial {
            decision_id: decision_id.into_owned(),
            time_ns,
            user: user.to_string(),
            operation: operation.to_string(),
            path: path.to_string(),
            result,
            query_id: ctx
                .and_then(|c| c.query_id)
                .map(Cow::into_owned)
                .unwrap_or_default(),
            resource: action
                .and_then(|a| a.resource)
                .map(|r| r.get().to_string())
                .unwrap_or_default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> OpaParser {
        let w = crate::window::test_day();
        OpaParser::new(w, "trino/allow")
    }

    fn decision(id: &str, path: &str, op: &str, result: Option<&str>, ts: &str) -> String {
        let result = result
            .map(|r| format!(r#""result":{r},"#))
            .unwrap_or_default();
        format!(
            r#"{{"decision_id":"{id}","input":{{"action":{{"operation":"{op}","resource":{{"table":{{"catalogName":"hive","schemaName":"hr","tableName":"employees"}}}}}},"context":{{"identity":{{"groups":[],"user":"bob"}},"queryId":"q7"}}}},"level":"info","msg":"Decision Log","path":"{path}",{result}"timestamp":"{ts}","type":"openpolicyagent.org/decision_logs"}}"#
        )
    }

    #[test]
    fn only_enforced_allow_decisions_that_are_not_true_are_denials() {
        let mut p = parser();
        let ts = "2026-11-30T10:17:33.429117305Z";
        p.feed(&decision(
            "1",
            "trino/allow",
            "SelectFromColumns",
            Some("false"),
            ts,
        ));
        p.feed(&decision("2", "trino/allow", "ExecuteQuery", None, ts));
        p.feed(&decision(
            "3",
            "/trino/allow",
            "AccessCatalog",
            Some("null"),
            ts,
        ));
        p.feed(&decision(
            "4",
            "trino/allow",
            "FilterTables",
            Some("false"),
            ts,
        ));
        p.feed(&decision(
            "5",
            "trino/batch",
            "FilterCatalogs",
            Some("[0]"),
            ts,
        ));
        p.feed(&decision(
            "6",
            "trino/allow",
            "ExecuteQuery",
            Some("true"),
            ts,
        ));
        p.feed(&decision(
            "7",
            "trino/columnMask",
            "GetColumnMask",
            None,
            ts,
        ));
        p.feed(&decision(
            "1",
            "trino/allow",
            "SelectFromColumns",
            Some("false"),
            ts,
        ));
        let ids: Vec<_> = p.denials.iter().map(|d| d.decision_id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(p.denials[1].result, "undefined");
        assert_eq!(p.denials[0].query_id, "q7");
        assert!(p.users_seen.contains("bob"));
    }

    #[test]
    fn window_edges_other_lines_and_garbage() {
        let mut p = parser();
        p.feed(&decision(
            "a",
            "trino/allow",
            "ExecuteQuery",
            Some("false"),
            "2026-11-29T23:59:59.999999999Z",
        ));
        p.feed(&decision(
            "b",
            "trino/allow",
            "ExecuteQuery",
            Some("false"),
            "2026-11-30T00:00:00Z",
        ));
        p.feed(&decision(
            "c",
            "trino/allow",
            "ExecuteQuery",
            Some("false"),
            "2026-12-01T00:00:00.000000000Z",
        ));
        p.feed(r#"{"level":"info","msg":"Initializing server.","time":"2026-11-30T00:00:01Z"}"#);
        p.feed(r#"{"decision_id":"x","msg":"Decision Log""#);
        p.feed(r#"{"msg":"Decision Log","path":"trino/allow","result":false}"#);
        p.feed("time=2026-11-30T00:00:01Z level=info msg=\"Server started\"");
        assert_eq!(p.denials.len(), 1);
        assert_eq!(p.denials[0].decision_id, "b");
        assert_eq!((p.tally.lines_skipped, p.tally.lines_rejected), (2, 2));
    }
}
