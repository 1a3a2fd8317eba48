//! Canonical identity: one person, one row, however each system spells them.
//!
//! Names are compared case-insensitively and written lowercase; the configured alias map turns
//! e-mails, LiteLLM ids and Keycloak UUIDs into usernames; Keycloak's own events teach which
//! UUID is which username. A name nothing resolves stays a row of its own (listed as unresolved),
//! so a figure is never dropped for want of a mapping.

use std::collections::BTreeMap;

use crate::config::{IdentityConfig, StorageConfig};

pub struct Resolver {
    aliases: BTreeMap<String, String>,
    /// Lowercased Keycloak UUID -> canonical username.
    keycloak: BTreeMap<String, String>,
    teams: BTreeMap<String, String>,
}

impl Resolver {
    /// `keycloak_names`: `userId -> username` pairs printed by Keycloak.
    pub fn new(cfg: &IdentityConfig, keycloak_names: &BTreeMap<String, String>) -> Self {
        let mut r = Resolver {
            aliases: cfg.aliases.clone(),
            keycloak: BTreeMap::new(),
            teams: cfg.teams.clone(),
        };
        for (id, name) in keycloak_names {
            let canonical = r.canonical(name);
            r.keycloak.insert(id.trim().to_lowercase(), canonical);
        }
        r
    }

    /// The canonical name of any spelling.
    pub fn canonical(&self, raw: &str) -> String {
        let lower = raw.trim().to_lowercase();
        if let Some(a) = self.aliases.get(&lower) {
            return a.clone();
        }
        if let Some(k) = self.keycloak.get(&lower) {
            return k.clone();
        }
        lower
    }

    pub fn team(&self, user: &str) -> Option<&str> {
        self.teams.get(user).map(String::as_str)
    }
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
