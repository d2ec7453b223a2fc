//! The hub's client sessions, indexed by what the hub looks them up by: a
//! role and an organisation (the advisors of a service point, the experts
//! of an agency), a role and a subject (a kiosk's sessions, a named
//! expert), and the sessions waiting out their resume window. An input's
//! work then follows what it touches, not how many clients are connected.
//!
//! The indexes are derived: a snapshot holds the sessions alone and they
//! are rebuilt when it is read. What they index (a session's identity and
//! whether it is detached) changes only through [`Clients::insert`],
//! [`Clients::remove`], [`Clients::reattach`] and [`Clients::detach`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use silta_auth::Identity;
use silta_proto::v1::hub::HubTime;
use silta_proto::v1::{ParticipantId, Role, Subject};

use super::Client;

#[derive(Debug, Default)]
pub(super) struct Clients {
    by_id: BTreeMap<ParticipantId, Client>,
    /// Sessions by role and organisation (service point or agency code).
    by_organisation: BTreeMap<(Role, String), BTreeSet<ParticipantId>>,
    /// Sessions by role and subject: a reloaded kiosk page is a second
    /// session of the same kiosk while the first waits out its window.
    by_subject: BTreeMap<(Role, Subject), BTreeSet<ParticipantId>>,
    /// Sessions waiting out their resume window.
    detached: BTreeSet<ParticipantId>,
}

impl Serialize for Clients {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_id.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Clients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let by_id = BTreeMap::<ParticipantId, Client>::deserialize(deserializer)?;
        let mut clients = Self::default();
        for client in by_id.into_values() {
            clients.insert(client);
        }
        Ok(clients)
    }
}

impl std::ops::Index<&ParticipantId> for Clients {
    type Output = Client;

    fn index(&self, id: &ParticipantId) -> &Client {
        &self.by_id[id]
    }
}

fn organisation_key(identity: &Identity) -> (Role, String) {
    (identity.role, identity.organisation.as_str().to_owned())
}

fn subject_key(identity: &Identity) -> (Role, Subject) {
    (identity.role, identity.subject.clone())
}

/// Removes `id` from the set at `key`, and the set when it empties.
fn unlist<K: Ord>(index: &mut BTreeMap<K, BTreeSet<ParticipantId>>, key: &K, id: &ParticipantId) {
    if let Some(set) = index.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

impl Clients {
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn contains_key(&self, id: &ParticipantId) -> bool {
        self.by_id.contains_key(id)
    }

    pub(super) fn get(&self, id: &ParticipantId) -> Option<&Client> {
        self.by_id.get(id)
    }

    /// A session to change. Its identity and attachment change through
    /// [`Clients::reattach`] and [`Clients::detach`] alone: they are
    /// indexed.
    pub(super) fn get_mut(&mut self, id: &ParticipantId) -> Option<&mut Client> {
        self.by_id.get_mut(id)
    }

    pub(super) fn insert(&mut self, client: Client) {
        let id = client.id.clone();
        self.remove(&id);
        self.by_organisation.entry(organisation_key(&client.identity)).or_default().insert(id.clone());
        self.by_subject.entry(subject_key(&client.identity)).or_default().insert(id.clone());
        if client.detached_at.is_some() {
            self.detached.insert(id.clone());
        }
        self.by_id.insert(id, client);
    }

    pub(super) fn remove(&mut self, id: &ParticipantId) -> Option<Client> {
        let client = self.by_id.remove(id)?;
        unlist(&mut self.by_organisation, &organisation_key(&client.identity), id);
        unlist(&mut self.by_subject, &subject_key(&client.identity), id);
        self.detached.remove(id);
        Some(client)
    }

    /// The session is attached again, with the identity of its new token.
    pub(super) fn reattach(&mut self, id: &ParticipantId, identity: Identity) -> Option<&mut Client> {
        let mut client = self.remove(id)?;
        client.identity = identity;
        client.attached = true;
        client.detached_at = None;
        self.insert(client);
        self.by_id.get_mut(id)
    }

    /// The session's connection dropped; its outage counts from `since`.
    pub(super) fn detach(&mut self, id: &ParticipantId, since: HubTime) {
        if let Some(client) = self.by_id.get_mut(id) {
            client.attached = false;
            client.detached_at = Some(since);
            self.detached.insert(id.clone());
        }
    }

    fn listed<'a>(&'a self, ids: Option<&'a BTreeSet<ParticipantId>>) -> impl Iterator<Item = &'a Client> {
        ids.into_iter().flatten().filter_map(|id| self.by_id.get(id))
    }

    /// The sessions of a role in an organisation (a service point's
    /// advisors, an agency's experts), by participant id.
    pub(super) fn of_organisation<'a>(&'a self, role: Role, organisation: &str) -> impl Iterator<Item = &'a Client> {
        self.listed(self.by_organisation.get(&(role, organisation.to_owned())))
    }

    /// The sessions of one subject in a role, by participant id.
    pub(super) fn of_subject<'a>(&'a self, role: Role, subject: &Subject) -> impl Iterator<Item = &'a Client> {
        self.listed(self.by_subject.get(&(role, subject.clone())))
    }

    /// The organisations with a session in `role`.
    pub(super) fn organisations(&self, role: Role) -> impl Iterator<Item = &str> {
        self.by_organisation.keys().filter(move |(of, _)| *of == role).map(|(_, organisation)| organisation.as_str())
    }

    /// The sessions in a role, organisation by organisation.
    pub(super) fn with_role(&self, role: Role) -> impl Iterator<Item = &Client> {
        self.by_organisation
            .iter()
            .filter(move |((of, _), _)| *of == role)
            .flat_map(|(_, ids)| ids.iter().filter_map(|id| self.by_id.get(id)))
    }

    /// The sessions waiting out their resume window.
    pub(super) fn detached(&self) -> impl Iterator<Item = &Client> {
        self.detached.iter().filter_map(|id| self.by_id.get(id))
    }

    /// Panics unless the indexes list exactly the sessions (tests call it
    /// after every step).
    #[cfg(test)]
    pub(super) fn assert_indexed(&self) {
        let mut rebuilt = Self::default();
        for client in self.by_id.values() {
            rebuilt.by_organisation.entry(organisation_key(&client.identity)).or_default().insert(client.id.clone());
            rebuilt.by_subject.entry(subject_key(&client.identity)).or_default().insert(client.id.clone());
            if client.detached_at.is_some() {
                rebuilt.detached.insert(client.id.clone());
            }
            assert_eq!(client.attached, client.detached_at.is_none(), "{} attached and detached at once", client.id);
        }
        assert_eq!(self.by_organisation, rebuilt.by_organisation, "the organisation index");
        assert_eq!(self.by_subject, rebuilt.by_subject, "the subject index");
        assert_eq!(self.detached, rebuilt.detached, "the detached index");
    }
}
