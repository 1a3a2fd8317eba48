//! Keycloak `org.keycloak.events` lines from the jboss-logging event listener.
//!
//! Two consoles (Quarkus JSON, where the message is the `message` field, and plain text) and two
//! quoting styles (24+: `k="v"`, sanitized; up to 23: `k=v`, with `'…'` around detail values that
//! hold spaces). `null` means no value in both.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::values::{naive_utc_ns, rfc3339_ns};
use super::{LineParser, Tally};
use crate::window::Window;

const LOGGER: &str = "org.keycloak.events";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    User,
    Admin,
}

/// One Keycloak event in the window: a row of `auth_events.csv` or `admin_events.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeycloakEvent {
    pub time_ns: i64,
    pub kind: EventKind,
    /// `type` of a user event, `operationType` of an admin event.
    pub event_type: String,
    pub realm: String,
    pub client_id: String,
    /// `userId` (the acting admin for admin events); `None` when `null`.
    pub user_id: Option<String>,
    /// The `username` detail (for failures: the name that was tried).
    pub username: Option<String>,
    pub ip_address: String,
    pub error: String,
    pub resource_type: String,
    pub resource_path: String,
}

#[derive(Deserialize)]
struct JsonRecord<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    sequence: Option<u64>,
    #[serde(rename = "loggerName", borrow)]
    logger_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "hostName", borrow)]
    host_name: Option<Cow<'a, str>>,
}

/// Parses event lines; keeps events in the window and every `userId -> username` pair seen.
pub struct KeycloakParser {
    window: Window,
    seen: HashSet<String>,
    pub events: Vec<KeycloakEvent>,
    /// `userId` -> `username` as Keycloak printed them (any time in the data read).
    pub user_names: BTreeMap<String, String>,
    pub tally: Tally,
}

impl KeycloakParser {
    pub fn new(window: Window) -> Self {
        KeycloakParser {
            window,
            seen: HashSet::new(),
            events: Vec::new(),
            user_names: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    fn message(&mut self, raw: &str, time_ns: Option<i64>, dedupe_key: String, msg: &str) {
        let msg = msg.trim();
        let kind = if msg.starts_with("type=") {
            EventKind::User
        } else if msg.starts_with("operationType=") {
            EventKind::Admin
        } else {
            self.tally.lines_skipped += 1;
            return;
        };
        let Some(time_ns) = time_ns else {
            return self
                .tally
                .reject(raw, "event without a readable record time");
        };
        let fields = parse_fields(msg);
        let get = |k: &str| fields.get(k).cloned().flatten();
        let type_key = if kind == EventKind::User {
            "type"
        } else {
            "operationType"
        };
        let Some(event_type) = get(type_key) else {
            return self.tally.reject(raw, "event without a type");
        };
        if !self.seen.insert(dedupe_key) {
            return; // the same record twice
        }
        let user_id = get("userId");
        let username = get("username");
        if let (Some(id), Some(name)) = (&user_id, &username) {
            self.user_names
                .entry(id.clone())
                .or_insert_with(|| name.clone());
        }
        if !self.window.contains_ns(time_ns) {
            return;
        }
        self.events.push(KeycloakEvent {
            time_ns,
            kind,
            event_type,
            realm: get("realmName")
                .or_else(|| get("realmId"))
                .unwrap_or_default(),
            client_id: get("clientId").unwrap_or_default(),
            user_id,
            username,
            ip_address: get("ipAddress").unwrap_or_default(),
            error: get("error").unwrap_or_default(),
            resource_type: get("resourceType").unwrap_or_default(),
            resource_path: get("resourcePath").unwrap_or_default(),
        });
    }
}

impl LineParser for KeycloakParser {
    fn feed(&mut self, line: &str) {
        self.tally.lines_read += 1;
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            let rec: JsonRecord = match serde_json::from_str(trimmed) {
                Ok(r) => r,
                // Another source's JSON sharing the stream: not ours unless it is an event line.
                Err(_) if !trimmed.contains(LOGGER) => {
                    self.tally.lines_skipped += 1;
                    return;
                }
                Err(e) => {
                    return self
                        .tally
                        .reject(line, &format!("JSON console line does not parse ({e})"))
                }
            };
            if rec.logger_name.as_deref().is_some_and(|l| l != LOGGER) {
                self.tally.lines_skipped += 1;
                return;
            }
            let Some(msg) = rec.message else {
                self.tally.lines_skipped += 1;
                return;
            };
            let ts = rec.timestamp.as_deref().unwrap_or("");
            let key = match rec.sequence {
                Some(seq) => format!("{}|{seq}|{ts}", rec.host_name.as_deref().unwrap_or("")),
                None => format!("{ts}|{msg}"),
            };
            let time_ns = rfc3339_ns(ts).or_else(|| naive_utc_ns(ts));
            return self.message(line, time_ns, key, &msg);
        }
        let marker = format!("[{LOGGER}]");
        let Some(at) = trimmed.find(&marker) else {
            self.tally.lines_skipped += 1;
            return;
        };
        let head = &trimmed[..at];
        let mut rest = trimmed[at + marker.len()..].trim_start();
        if rest.starts_with('(') {
            match rest.find(") ") {
                Some(close) => rest = &rest[close + 2..],
                None => {
                    return self
                        .tally
                        .reject(line, "text console line without a message")
                }
            }
        }
        let time_ns = text_time_ns(head);
        let key = format!("{}|{rest}", head.trim());
        self.message(line, time_ns, key, rest);
    }
}

/// The record time at the start of a text console line: Quarkus' default
/// `2026-11-30 08:01:12,553` (server local time, read as UTC) or an RFC 3339 instant.
fn text_time_ns(head: &str) -> Option<i64> {
    let mut parts = head.split_whitespace();
    let first = parts.next()?;
    if let Some(ns) = rfc3339_ns(first) {
        return Some(ns);
    }
    let second = parts.next()?;
    naive_utc_ns(&format!("{first} {}", second.replace(',', ".")))
}

/// Splits `k="v", k=v, k='v w'` into a map; `null` values become `None`.
pub fn parse_fields(msg: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let b = msg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i] == b' ') {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let key = msg[key_start..i].trim().to_string();
        i += 1; // '='
        let value: String;
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut chars = msg[i..].char_indices();
            let mut end = msg.len();
            while let Some((off, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + off + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            i = end;
            value = v;
        } else if i < b.len() && b[i] == b'\'' {
            let close = msg[i + 1..]
                .find('\'')
                .map(|o| i + 1 + o)
                .unwrap_or(msg.len());
            value = msg[i + 1..close].to_string();
            i = (close + 1).min(msg.len());
        } else {
            let end = next_pair_start(msg, i);
            value = msg[i..end].trim_end().to_string();
            i = end;
        }
        let value = if value == "null" { None } else { Some(value) };
        out.insert(key, value);
    }
    out
}

/// Where an unquoted value ends: at the next `, key=` (a value may itself hold commas).
fn next_pair_start(msg: &str, from: usize) -> usize {
    let mut search = from;
    while let Some(off) = msg[search..].find(", ") {
        let cand = search + off + 2;
        let key_len = msg[cand..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.' || *c == b'-')
            .count();
        if key_len > 0 && msg.as_bytes().get(cand + key_len) == Some(&b'=') {
            return search + off;
        }
        search = cand;
    }
    msg.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> KeycloakParser {
        KeycloakParser::new(crate::window::test_day())
    }

    #[test]
    fn both_quoting_styles() {
        let new = parse_fields(
            r#"type="LOGIN_ERROR", realmId="r", userId="null", ipAddress="10.0.0.1", error="user_not_found", redirect_uri="https://x/cb?a=1, b", username="te\"st""#,
        );
        assert_eq!(new["type"].as_deref(), Some("LOGIN_ERROR"));
        assert_eq!(new["userId"], None);
        assert_eq!(new["redirect_uri"].as_deref(), Some("https://x/cb?a=1, b"));
        assert_eq!(new["username"].as_deref(), Some("te\"st"));
        let old = parse_fields("type=LOGIN, realmId=platform, clientId=jupyterhub, userId=3c2b, ipAddress=10.42.7.9, auth_method=openid-connect, custom_note='a b, c', username=alice");
        assert_eq!(old["custom_note"].as_deref(), Some("a b, c"));
        assert_eq!(old["username"].as_deref(), Some("alice"));
        assert_eq!(old["ipAddress"].as_deref(), Some("10.42.7.9"));
    }

    #[test]
    fn json_and_text_consoles_and_duplicates() {
        let mut p = parser();
        let json = r#"{"timestamp":"2026-11-30T10:01:12.553102Z","sequence":20417,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.events","level":"INFO","message":"type=\"LOGIN\", realmId=\"9a\", realmName=\"platform\", clientId=\"jupyterhub\", userId=\"3c2b\", ipAddress=\"10.42.7.9\", username=\"alice\"","hostName":"keycloak-0"}"#;
        p.feed(json);
        p.feed(json);
        p.feed("2026-11-30 08:01:12,553 INFO  [org.keycloak.events] (executor-thread-1) type=LOGIN, realmId=platform, clientId=trino, userId=3c2b, ipAddress=10.42.7.9");
        p.feed("2026-11-30 08:01:13,000 WARN  [org.keycloak.events] (executor-thread-1) operationType=\"CREATE\", realmId=\"9a\", clientId=\"admin-cli\", userId=\"3c2b\", ipAddress=\"10.0.0.2\", resourceType=\"USER\", resourcePath=\"users/77\"");
        p.feed(r#"{"timestamp":"2026-11-30T10:01:12Z","loggerName":"org.keycloak.services","message":"KC-SERVICES0009: Added user 'admin'"}"#);
        p.feed("2026-11-29 23:59:59,999 WARN  [org.keycloak.events] (t) type=LOGIN_ERROR, userId=null, error=user_not_found, username=admin");
        p.feed(r#"{"timestamp":"2026-11-30T10:00:00Z","loggerName":"org.keycloak.events","message":"type=\"LOG"#);
        p.feed(r#"{"timestamp":"2026-11-30T1"#); // truncated, not naming the logger: not ours
        assert_eq!(p.events.len(), 3);
        assert_eq!(p.events[1].username, None);
        assert_eq!(
            p.events[1].time_ns,
            naive_utc_ns("2026-11-30 08:01:12.553").unwrap()
        );
        assert_eq!(p.events[2].kind, EventKind::Admin);
        assert_eq!(p.events[2].resource_path, "users/77");
        assert_eq!(p.user_names.get("3c2b").map(String::as_str), Some("alice"));
        assert_eq!((p.tally.lines_skipped, p.tally.lines_rejected), (2, 1));
    }

    #[test]
    fn real_kc25_sample_with_offset_and_seven_fraction_digits() {
        // keycloak/keycloak#31860, moved into the window: local time +02:00, 100 ns precision.
        let mut p = parser();
        p.feed(r#"{"timestamp":"2026-11-30T14:26:35.2639447+02:00","sequence":9838,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.events","level":"WARN","message":"type=\"LOGIN_ERROR\", realmId=\"4b939ad4-eaa4-489a-a818-81fb5ce3c8de\", realmName=\"test\", clientId=\"44ff6470-44c1-436a-aede-66745bdb4b3e\", userId=\"null\", ipAddress=\"172.17.99.100\", error=\"user_not_found\", auth_method=\"openid-connect\", redirect_uri=\"https://test.testserver.lan/oauth/login\", code_id=\"2faeafc2-784e-4e71-9f88-eaad6cb303cd\", username=\"test\"","threadName":"executor-thread-1","threadId":28,"mdc":{},"ndc":"","hostName":"lab-dock-10.lab.lan","processName":"QuarkusEntryPoint","processId":2649028}"#);
        assert_eq!(p.events.len(), 1);
        let e = &p.events[0];
        assert_eq!(
            e.time_ns,
            crate::sources::values::rfc3339_ns("2026-11-30T12:26:35.2639447Z").unwrap()
        );
        assert_eq!(
            (
                e.event_type.as_str(),
                e.user_id.as_deref(),
                e.username.as_deref()
            ),
            ("LOGIN_ERROR", None, Some("test"))
        );
        assert_eq!(e.error, "user_not_found");
    }
}
