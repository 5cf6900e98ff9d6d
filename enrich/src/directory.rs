//! Who a hit belongs to: the consent and identity directory, behind a trait so the hot path
//! stays pure. The real one (kept fresh from ClickHouse) lives with the consent work.

use std::collections::HashMap;

/// Consent and visitor-to-person links, as currently known.
pub trait Directory: Send + Sync {
    /// Account id of a person whose `tracking` consent currently stands; None = unknown or no consent.
    fn consented_person(&self, person_id: &str) -> Option<String>;
    /// (person_id, account_id) a consented visitor id is linked to, if link and consent stand.
    fn person_of_visitor(&self, site: &str, visitor_id: &str) -> Option<(String, String)>;
}

/// Nobody has consented: every hit is anonymous.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDirectory;

impl Directory for NoDirectory {
    fn consented_person(&self, _person_id: &str) -> Option<String> {
        None
    }

    fn person_of_visitor(&self, _site: &str, _visitor_id: &str) -> Option<(String, String)> {
        None
    }
}

/// An in-memory directory for tests: consents by person, links by (site, visitor).
#[derive(Debug, Clone, Default)]
pub struct MapDirectory {
    /// person id -> account id, for persons whose consent stands.
    consented: HashMap<String, String>,
    /// (site, visitor id) -> person id.
    links: HashMap<(String, String), String>,
}

impl MapDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `person` of `account` has consented.
    pub fn consent(mut self, person: &str, account: &str) -> Self {
        self.consented.insert(person.into(), account.into());
        self
    }

    /// Links a visitor id on a site to a person (effective only while that person consents).
    pub fn link(mut self, site: &str, visitor: &str, person: &str) -> Self {
        self.links
            .insert((site.into(), visitor.into()), person.into());
        self
    }
}

impl Directory for MapDirectory {
    fn consented_person(&self, person_id: &str) -> Option<String> {
        self.consented.get(person_id).cloned()
    }

    fn person_of_visitor(&self, site: &str, visitor_id: &str) -> Option<(String, String)> {
        let person = self.links.get(&(site.to_owned(), visitor_id.to_owned()))?;
        let account = self.consented_person(person)?;
        Some((person.clone(), account))
    }
}
