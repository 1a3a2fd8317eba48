//! Canonical identity: one person, one row, however each system spells them.
//!
//! Names are compared case-insensitively and written lowercase; the configured alias map turns
//! e-mails, LiteLLM ids and Keycloak UUIDs into usernames; Keycloak's own events teach which
//! UUID is which username. A name nothing resolves stays a row of its own (listed as unresolved),
//! so a figure is never dropped for want of a mapping.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{IdentityConfig, StorageConfig};

/// Keyed pseudonyms (GDPR Art. 4(5)): `u-` + the first 16 hex digits of
/// HMAC-SHA256(key, canonical name). Stable across runs with the same key, so monthly figures
/// still add up per person; without the key nobody can recompute or reverse them (a plain hash
/// of a username could be brute-forced from the staff list).
pub struct Pseudonymiser {
    key: Vec<u8>,
}

/// Shortest key accepted: below this a key is guessable.
pub const MIN_KEY_BYTES: usize = 16;

impl Pseudonymiser {
    pub fn new(key: Vec<u8>) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key has {} bytes; use at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                key.len()
            ));
        }
        Ok(Pseudonymiser { key })
    }

    pub fn pseudonym(&self, canonical: &str) -> String {
        // HMAC accepts keys of any length; the constructor enforces the minimum.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(canonical.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("u-{}", &hex::encode(digest)[..16])
    }
}

#[derive(Default)]
struct Seen {
    /// Every spelling met (lowercased) and every canonical name -> its pseudonym, to scrub
    /// names out of free text (bucket, pod and database names, SQL, resource paths).
    words: HashMap<String, String>,
    /// Pseudonyms whose canonical name still looks like an id or an e-mail.
    unresolved: BTreeSet<String>,
}

pub struct Resolver {
    aliases: BTreeMap<String, String>,
    /// Lowercased Keycloak UUID -> canonical username.
    keycloak: BTreeMap<String, String>,
    teams: BTreeMap<String, String>,
    pseudonyms: Option<Pseudonymiser>,
    seen: Mutex<Seen>,
}

impl Resolver {
    /// `keycloak_names`: `userId -> username` pairs printed by Keycloak.
    pub fn new(cfg: &IdentityConfig, keycloak_names: &BTreeMap<String, String>) -> Self {
        let mut r = Resolver {
            aliases: cfg.aliases.clone(),
            keycloak: BTreeMap::new(),
            teams: cfg.teams.clone(),
            pseudonyms: None,
            seen: Mutex::new(Seen::default()),
        };
        for (id, name) in keycloak_names {
            let canonical = r.resolve(name);
            r.keycloak.insert(id.trim().to_lowercase(), canonical);
        }
        r
    }

    /// Teams from Keycloak groups for users `identity.teams` does not place: the first group of
    /// `identity.team_groups` (in its order) the user was seen in. Before pseudonyms, which
    /// re-key the teams.
    pub fn with_groups(
        mut self,
        team_groups: &[String],
        user_groups: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        if team_groups.is_empty() {
            return self;
        }
        for (raw, groups) in user_groups {
            let user = self.resolve(raw);
            if self.teams.contains_key(&user) {
                continue;
            }
            let in_group = |t: &String| {
                groups
                    .iter()
                    .any(|g| g.trim_start_matches('/').eq_ignore_ascii_case(t))
            };
            if let Some(team) = team_groups.iter().find(|t| in_group(t)) {
                self.teams.insert(user, team.clone());
            }
        }
        self
    }

    /// Every user id this resolver hands out becomes a keyed pseudonym; teams follow.
    pub fn with_pseudonyms(mut self, p: Pseudonymiser) -> Self {
        self.teams = std::mem::take(&mut self.teams)
            .into_iter()
            .map(|(user, team)| (p.pseudonym(&user), team))
            .collect();
        self.pseudonyms = Some(p);
        // Names known up front are scrubbed from text even before a record mentions them.
        let known: Vec<String> = self
            .aliases
            .keys()
            .chain(self.aliases.values())
            .chain(self.keycloak.keys())
            .chain(self.keycloak.values())
            .cloned()
            .collect();
        for k in known {
            self.canonical(&k);
        }
        self
    }

    fn resolve(&self, raw: &str) -> String {
        let lower = raw.trim().to_lowercase();
        if let Some(a) = self.aliases.get(&lower) {
            return a.clone();
        }
        if let Some(k) = self.keycloak.get(&lower) {
            return k.clone();
        }
        lower
    }

    /// The canonical name of any spelling (its pseudonym when pseudonymisation is on).
    /// Placeholders such as `(unknown)` are not people and stay as they are.
    pub fn canonical(&self, raw: &str) -> String {
        let c = self.resolve(raw);
        let Some(p) = &self.pseudonyms else {
            return c;
        };
        if c.is_empty() || c.starts_with('(') {
            return c;
        }
        let pseudo = p.pseudonym(&c);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if looks_unresolved(&c) {
            seen.unresolved.insert(pseudo.clone());
        }
        seen.words.insert(raw.trim().to_lowercase(), pseudo.clone());
        seen.words.insert(c, pseudo.clone());
        pseudo
    }

    pub fn team(&self, user: &str) -> Option<&str> {
        self.teams.get(user).map(String::as_str)
    }

    /// Whether a name handed out by [`Self::canonical`] is an identity no mapping resolved.
    pub fn is_unresolved(&self, user: &str) -> bool {
        match &self.pseudonyms {
            None => looks_unresolved(user),
            Some(_) => self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unresolved
                .contains(user),
        }
    }

    /// Free text (SQL, bucket, pod and database names, resource paths, raw user columns) with
    /// every known user name replaced by its pseudonym; unchanged when pseudonymisation is off.
    /// Words are runs of letters, digits and `._@-`; a word matches whole, or as a run of its
    /// `._@-`-separated parts (`home-alice` -> `home-u-…`). Names met only after the text is
    /// rendered cannot be scrubbed, which is why renderers run after the ledger has seen every
    /// record.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.pseudonyms.is_none() || s.is_empty() {
            return Cow::Borrowed(s);
        }
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let is_word = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while !rest.is_empty() {
            let start = rest.find(is_word).unwrap_or(rest.len());
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
            out.push_str(&scrub_word(&rest[..end], &seen.words));
            rest = &rest[end..];
        }
        Cow::Owned(out)
    }
}

/// Replaces the longest runs of separator-joined parts that are known names.
fn scrub_word(word: &str, names: &HashMap<String, String>) -> String {
    if let Some(p) = names.get(&word.to_lowercase()) {
        return p.clone();
    }
    // Part boundaries: (start, end) byte ranges between separators.
    let mut parts = Vec::new();
    let mut from = 0;
    for (i, c) in word.char_indices() {
        if matches!(c, '.' | '_' | '@' | '-') {
            parts.push((from, i));
            from = i + c.len_utf8();
        }
    }
    parts.push((from, word.len()));
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i < parts.len() {
        let found = (i..parts.len()).rev().find_map(|j| {
            let (s, e) = (parts[i].0, parts[j].1);
            names.get(&word[s..e].to_lowercase()).map(|p| (j, s, e, p))
        });
        match found {
            Some((j, s, e, p)) => {
                out.push_str(&word[copied..s]);
                out.push_str(p);
                copied = e;
                i = j + 1;
            }
            None => i += 1,
        }
    }
    out.push_str(&word[copied..]);
    out
}

/// A canonical name that still looks like an id or an e-mail: a mapping is probably missing.
pub fn looks_unresolved(user: &str) -> bool {
    user.contains('@') || is_uuid(user)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The owner of a bucket: the explicit map first, then the patterns in order.
pub fn bucket_owner(cfg: &StorageConfig, bucket: &str) -> Option<String> {
    if let Some(o) = cfg.bucket_owners.get(bucket) {
        return Some(o.clone());
    }
    cfg.owner_patterns.iter().find_map(|(prefix, suffix)| {
        bucket
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_suffix(suffix.as_str()))
            .filter(|user| !user.is_empty())
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_aliases_and_keycloak_uuids() {
        let mut cfg = IdentityConfig::default();
        cfg.aliases
            .insert("carol@example.org".into(), "carol".into());
        cfg.teams.insert("carol".into(), "finance".into());
        let mut names = BTreeMap::new();
        names.insert(
            "3C2B8A9E-6D1F-4F4A-9B2E-8C7D6E5F4A3B".to_string(),
            "Carol@Example.org".to_string(),
        );
        let r = Resolver::new(&cfg, &names);
        assert_eq!(r.canonical(" Carol "), "carol");
        assert_eq!(r.canonical("CAROL@example.org"), "carol");
        assert_eq!(r.canonical("3c2b8a9e-6d1f-4f4a-9b2e-8c7d6e5f4a3b"), "carol");
        assert_eq!(r.canonical("Mallory"), "mallory");
        assert_eq!(r.team("carol"), Some("finance"));
        assert!(looks_unresolved("7e6d1c52-5a56-4a0e-9a43-7d0a3e3b9a11"));
        assert!(looks_unresolved("x@y.z"));
        assert!(!looks_unresolved("carol"));
    }

    #[test]
    fn pseudonyms_are_keyed_stable_and_scrub_free_text() {
        let mut cfg = IdentityConfig::default();
        cfg.aliases
            .insert("carol@example.org".into(), "carol".into());
        cfg.teams.insert("carol".into(), "finance".into());
        let key = b"0123456789abcdef0123".to_vec();
        let r = Resolver::new(&cfg, &BTreeMap::new())
            .with_pseudonyms(Pseudonymiser::new(key.clone()).unwrap());
        let p = r.canonical("Carol@Example.org");
        assert!(p.starts_with("u-") && p.len() == 18, "{p}");
        assert_eq!(
            r.canonical("carol"),
            p,
            "alias and name map to one pseudonym"
        );
        assert_eq!(r.team(&p), Some("finance"), "teams follow the pseudonym");
        // Stable across resolvers with the same key; different under another key.
        let again =
            Resolver::new(&cfg, &BTreeMap::new()).with_pseudonyms(Pseudonymiser::new(key).unwrap());
        assert_eq!(again.canonical("carol"), p);
        let other = Resolver::new(&cfg, &BTreeMap::new())
            .with_pseudonyms(Pseudonymiser::new(b"another key, 16+ bytes".to_vec()).unwrap());
        assert_ne!(other.canonical("carol"), p);
        // Placeholders are not people.
        assert_eq!(r.canonical("(unknown)"), "(unknown)");
        // Free text: whole words and separator-joined parts, not substrings of other words.
        let jc = r.canonical("jurgen.celik");
        assert_eq!(
            r.text("home-carol jupyter-jurgen.celik caroline analytics_carol 'carol@example.org'"),
            format!("home-{p} jupyter-{jc} caroline analytics_{p} '{p}'")
        );
        // Unresolved identities are still recognised after pseudonymisation.
        let u = r.canonical("7e6d1c52-5a56-4a0e-9a43-7d0a3e3b9a11");
        assert!(r.is_unresolved(&u));
        assert!(!r.is_unresolved(&p));
        assert!(Pseudonymiser::new(b"short".to_vec()).is_err());
    }

    #[test]
    fn teams_from_keycloak_groups_fill_only_the_gaps() {
        let mut cfg = IdentityConfig::default();
        cfg.teams.insert("carol".into(), "finance".into());
        let groups: BTreeMap<String, Vec<String>> = [
            ("Carol".to_string(), vec!["data-science".to_string()]),
            (
                "dmitri".to_string(),
                vec!["staff".into(), "/data-science".into(), "platform".into()],
            ),
            ("eve".to_string(), vec!["staff".to_string()]),
        ]
        .into();
        let r = Resolver::new(&cfg, &BTreeMap::new())
            .with_groups(&["platform".into(), "data-science".into()], &groups);
        assert_eq!(r.team("carol"), Some("finance"), "the config wins");
        assert_eq!(
            r.team("dmitri"),
            Some("platform"),
            "team_groups order decides"
        );
        assert_eq!(r.team("eve"), None, "a group that is not a team");
    }

    #[test]
    fn bucket_owners() {
        let cfg = StorageConfig {
            bucket_owners: [("finance-reports".to_string(), "dora".to_string())].into(),
            owner_patterns: vec![("home-".into(), "".into()), ("u-".into(), "-data".into())],
        };
        assert_eq!(
            bucket_owner(&cfg, "finance-reports").as_deref(),
            Some("dora")
        );
        assert_eq!(bucket_owner(&cfg, "home-alice").as_deref(), Some("alice"));
        assert_eq!(bucket_owner(&cfg, "u-bob-data").as_deref(), Some("bob"));
        assert_eq!(bucket_owner(&cfg, "home-"), None);
        assert_eq!(bucket_owner(&cfg, "shared"), None);
    }
}
