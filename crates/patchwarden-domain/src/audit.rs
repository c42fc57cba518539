//! The tamper-evident audit log: every state change is appended as an event whose hash
//! covers its content and the previous event's hash. Altering or deleting a stored row
//! breaks the chain at that row, which [`ChainVerifier`] reports.

use crate::clock::to_micros;
use crate::ids::AuditSeq;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `user`, `token`, `agent` or `system`.
    pub kind: ActorKind,
    /// Id of the user, token or agent; none for the system.
    pub id: Option<i64>,
    /// Human-readable name at the time (user name, token name, host name).
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Token,
    Agent,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::Agent => "agent",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => ActorKind::User,
            "token" => ActorKind::Token,
            "agent" => ActorKind::Agent,
            "system" => ActorKind::System,
            _ => return None,
        })
    }
}

impl Actor {
    pub fn system(name: &str) -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
            name: name.to_owned(),
        }
    }
}

/// Where and through which request a change came in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

/// An event before it is appended: storage fills in `seq`, `at` and the hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub actor: Actor,
    /// Dotted verb, e.g. `asset.create`, `user.update`, `token.revoke`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// State before and after, as JSON text (canonical: keys sorted).
    pub before: Option<String>,
    pub after: Option<String>,
    pub origin: Origin,
}

impl AuditDraft {
    pub fn new(actor: &Actor, origin: &Origin, action: &str, target_type: &str) -> Self {
        Self {
            actor: actor.clone(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: None,
            before: None,
            after: None,
            origin: origin.clone(),
        }
    }

    pub fn target(mut self, id: impl fmt::Display) -> Self {
        self.target_id = Some(id.to_string());
        self
    }

    /// Records the state before the change. Values serialise through
    /// `serde_json::Value`, whose maps are sorted, so the text is canonical.
    pub fn before<T: Serialize>(mut self, v: &T) -> Self {
        self.before = canonical_json(v);
        self
    }

    pub fn after<T: Serialize>(mut self, v: &T) -> Self {
        self.after = canonical_json(v);
        self
    }
}

fn canonical_json<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().map(|v| v.to_string())
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: AuditSeq,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub origin: Origin,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// Seals a draft as event number `seq` after the event whose hash is `prev_hash`.
    pub fn seal(draft: AuditDraft, seq: AuditSeq, at: Timestamp, prev_hash: &str) -> Self {
        let mut ev = AuditEvent {
            seq,
            at: crate::clock::truncate_micros(at),
            actor: draft.actor,
            action: draft.action,
            target_type: draft.target_type,
            target_id: draft.target_id,
            before: draft.before,
            after: draft.after,
            origin: draft.origin,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        ev.hash = ev.compute_hash();
        ev
    }

    /// SHA-256 over a length-prefixed encoding of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"patchwarden-audit-v1\n");
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        let opt = |o: &Option<String>| -> Vec<u8> {
            match o {
                None => vec![0],
                Some(s) => {
                    let mut v = vec![1];
                    v.extend_from_slice(s.as_bytes());
                    v
                }
            }
        };
        field(&self.seq.get().to_be_bytes());
        field(&to_micros(self.at).to_be_bytes());
        field(self.actor.kind.as_str().as_bytes());
        field(&opt(&self.actor.id.map(|i| i.to_string())));
        field(self.actor.name.as_bytes());
        field(self.action.as_bytes());
        field(self.target_type.as_bytes());
        field(&opt(&self.target_id));
        field(&opt(&self.before));
        field(&opt(&self.after));
        field(&opt(&self.origin.source_ip));
        field(&opt(&self.origin.request_id));
        field(self.prev_hash.as_bytes());
        hex::encode(h.finalize())
    }
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum BrokenLink {
    #[error("event {expected} is missing (next stored event is {found}): rows were deleted")]
    Missing { expected: i64, found: i64 },
    #[error("event {seq} does not match its hash: its content was altered")]
    Altered { seq: i64 },
    #[error("event {seq} does not follow event {prev}: its previous-hash link is broken")]
    Unlinked { seq: i64, prev: i64 },
    #[error("the chain ends at event {last} but the recorded head is event {head}: trailing events were deleted")]
    Truncated { last: i64, head: i64 },
    #[error("the recorded head hash does not match event {seq}")]
    HeadMismatch { seq: i64 },
}

/// Streaming verifier: push events in `seq` order, then call [`ChainVerifier::finish`].
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, ev: &AuditEvent) -> Result<(), BrokenLink> {
        let seq = ev.seq.get();
        if seq != self.next_seq {
            return Err(BrokenLink::Missing {
                expected: self.next_seq,
                found: seq,
            });
        }
        if ev.compute_hash() != ev.hash {
            return Err(BrokenLink::Altered { seq });
        }
        if ev.prev_hash != self.prev_hash {
            return Err(BrokenLink::Unlinked { seq, prev: seq - 1 });
        }
        self.prev_hash.clone_from(&ev.hash);
        self.next_seq += 1;
        Ok(())
    }

    /// Number of events verified so far.
    pub fn verified(&self) -> i64 {
        self.next_seq - 1
    }

    /// Checks the end of the chain against the head that storage records separately
    /// (`None` when the log is empty).
    pub fn finish(&self, head: Option<(i64, &str)>) -> Result<(), BrokenLink> {
        let last = self.next_seq - 1;
        match head {
            None if last == 0 => Ok(()),
            None => Err(BrokenLink::Truncated { last, head: 0 }),
            Some((seq, _)) if seq != last => Err(BrokenLink::Truncated { last, head: seq }),
            Some((seq, hash)) if hash != self.prev_hash => Err(BrokenLink::HeadMismatch { seq }),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let actor = Actor::system("test");
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|i| {
                let d = AuditDraft::new(&actor, &Origin::default(), "asset.create", "asset")
                    .target(i)
                    .after(&serde_json::json!({"b": 1, "a": i}));
                let ev = AuditEvent::seal(d, AuditSeq::new(i), Timestamp::UNIX_EPOCH, &prev);
                prev = ev.hash.clone();
                ev
            })
            .collect()
    }

    fn verify(evs: &[AuditEvent], head: Option<(i64, &str)>) -> Result<(), BrokenLink> {
        let mut v = ChainVerifier::default();
        for e in evs {
            v.push(e)?;
        }
        v.finish(head)
    }

    #[test]
    fn intact_chain_verifies() {
        let evs = chain(5);
        assert_eq!(evs[0].after.as_deref(), Some(r#"{"a":1,"b":1}"#));
        let last = evs.last().unwrap();
        assert_eq!(verify(&evs, Some((5, &last.hash))), Ok(()));
    }

    #[test]
    fn altered_row_is_found() {
        let mut evs = chain(5);
        evs[2].after = Some("{}".into());
        assert_eq!(verify(&evs, None), Err(BrokenLink::Altered { seq: 3 }));
    }

    #[test]
    fn rehashed_row_breaks_the_next_link() {
        let mut evs = chain(5);
        evs[2].action = "asset.delete".into();
        evs[2].hash = evs[2].compute_hash();
        assert_eq!(
            verify(&evs, None),
            Err(BrokenLink::Unlinked { seq: 4, prev: 3 })
        );
    }

    #[test]
    fn deleted_rows_are_found() {
        let mut evs = chain(5);
        evs.remove(1);
        assert_eq!(
            verify(&evs, None),
            Err(BrokenLink::Missing {
                expected: 2,
                found: 3
            })
        );
        let evs = chain(5);
        let head = evs[4].hash.clone();
        assert_eq!(
            verify(&evs[..4], Some((5, &head))),
            Err(BrokenLink::Truncated { last: 4, head: 5 })
        );
    }
}
