//! Enrolment and check-in bodies.

use crate::job::{JobReport, SignedJob};
use crate::{InventoryHead, InventoryReport};
use jiff::Timestamp;
use patchwarden_domain::asset::{Hostname, OsInfo};
use patchwarden_domain::ValidationError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The media type of a framed check-in (protocol revision 3, [`CheckIn::to_framed`]).
pub const CHECKIN_FRAMED_MEDIA_TYPE: &str = "application/vnd.patchwarden.checkin-framed";

/// `POST /api/v1/agent/enroll`: an enrolment token buys a per-agent identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrolment token an administrator created (`pwe_...`).
    pub token: String,
    pub hostname: Hostname,
    pub os: OsInfo,
    /// The agent's own Ed25519 public key (base64); it signs every later request.
    pub public_key: String,
    pub agent_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    pub agent_id: i64,
    /// The asset this agent reports for.
    pub asset_id: i64,
    /// The server's job-signing public key (base64), pinned by the agent.
    pub server_job_key: String,
    pub checkin_interval_secs: u64,
}

/// A package update the host's package manager offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingUpdate {
    pub name: String,
    pub arch: String,
    pub installed: String,
    pub candidate: String,
    /// Where the candidate comes from (`Debian-Security:12/stable-security`, an
    /// updateinfo id ...).
    pub origin: String,
    /// From a security archive or a security advisory.
    pub security: bool,
}

/// `POST /api/v1/agent/checkin`, signed by the agent's key. Small when nothing
/// changed: the inventory is sent only when its hash differs from what the server has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub agent_version: String,
    pub sent_at: Timestamp,
    pub inventory_hash: String,
    /// The full inventory, when changed (or asked for).
    pub inventory: Option<InventoryReport>,
    pub pending_updates: Option<Vec<PendingUpdate>>,
    pub kernel_running: Option<String>,
    pub reboot_required: bool,
    /// Processes that still map shared libraries replaced on disk (`name[pid]`), where
    /// the agent can see them: they need a restart to run the patched code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_needed: Vec<String>,
    /// Results of jobs since the last acknowledged check-in, oldest first.
    pub reports: Vec<JobReport>,
}

/// Why a framed check-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum FramedError {
    #[error(
        "a framed check-in is its JSON head, a newline, then the packages' text: no newline found"
    )]
    NoNewline,
    #[error("the check-in's head: {0}")]
    Head(#[from] serde_json::Error),
    #[error("the packages' text is not UTF-8")]
    NotUtf8,
    #[error("the check-in carries packages' text but no inventory")]
    TextWithoutInventory,
    #[error("{}: {}", .0.field, .0.reason)]
    Text(#[from] ValidationError),
}

/// [`CheckIn`] without its packages: the head of a framed check-in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInHead<'a> {
    agent_version: Cow<'a, str>,
    sent_at: Timestamp,
    inventory_hash: Cow<'a, str>,
    inventory: Option<InventoryHead<'a>>,
    pending_updates: Option<Cow<'a, [PendingUpdate]>>,
    kernel_running: Option<Cow<'a, str>>,
    reboot_required: bool,
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    restart_needed: Cow<'a, [String]>,
    reports: Cow<'a, [JobReport]>,
}

impl CheckIn {
    /// The check-in framed (protocol revision 3, sent as
    /// [`CHECKIN_FRAMED_MEDIA_TYPE`]): its JSON without the packages, one newline (JSON
    /// written compactly holds none), then the packages' canonical text, unescaped
    /// (nothing after the newline when there is no inventory).
    pub fn to_framed(&self) -> Result<Vec<u8>, serde_json::Error> {
        let head = CheckInHead {
            agent_version: Cow::Borrowed(&self.agent_version),
            sent_at: self.sent_at,
            inventory_hash: Cow::Borrowed(&self.inventory_hash),
            inventory: self.inventory.as_ref().map(InventoryReport::head),
            pending_updates: self.pending_updates.as_deref().map(Cow::Borrowed),
            kernel_running: self.kernel_running.as_deref().map(Cow::Borrowed),
            reboot_required: self.reboot_required,
            restart_needed: Cow::Borrowed(&self.restart_needed),
            reports: Cow::Borrowed(&self.reports),
        };
        let text = self.inventory.as_ref().map(InventoryReport::packages_text);
        let mut out = Vec::with_capacity(512 + text.as_ref().map_or(0, |t| t.len()));
        serde_json::to_writer(&mut out, &head)?;
        out.push(b'\n');
        if let Some(text) = text {
            out.extend_from_slice(text.as_bytes());
        }
        Ok(out)
    }

    /// Reads a framed check-in ([`CheckIn::to_framed`]); its packages' text is checked
    /// as the JSON form's is (shape, order, each package once).
    pub fn from_framed(mut body: Vec<u8>) -> Result<Self, FramedError> {
        let newline = memchr::memchr(b'\n', &body).ok_or(FramedError::NoNewline)?;
        let head: CheckInHead<'static> = serde_json::from_slice(&body[..newline])?;
        // The text stays in the body's buffer: the head is taken off its front.
        body.drain(..=newline);
        let text = body;
        let inventory = match head.inventory {
            None if text.is_empty() => None,
            None => return Err(FramedError::TextWithoutInventory),
            Some(head) => {
                let text = String::from_utf8(text).map_err(|_| FramedError::NotUtf8)?;
                Some(InventoryReport::from_head(head, text)?)
            }
        };
        Ok(Self {
            agent_version: head.agent_version.into_owned(),
            sent_at: head.sent_at,
            inventory_hash: head.inventory_hash.into_owned(),
            inventory,
            pending_updates: head.pending_updates.map(Cow::into_owned),
            kernel_running: head.kernel_running.map(Cow::into_owned),
            reboot_required: head.reboot_required,
            restart_needed: head.restart_needed.into_owned(),
            reports: head.reports.into_owned(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInReply {
    /// The server does not have this inventory hash: send the full inventory next time.
    pub send_inventory: bool,
    pub jobs: Vec<SignedJob>,
    pub next_checkin_secs: u64,
    /// Reports the server stored (by job id), so the agent can drop them from its spool.
    pub acknowledged: Vec<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::job::JobStatus;
    use patchwarden_domain::asset::OsFamily;
    use patchwarden_domain::package::{InstalledPackage, PackageFormat};

    fn pkg(name: &str, version: &str, source: Option<&str>) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            source_name: source.map(Into::into),
            source_version: None,
        }
    }

    fn checkin(packages: Option<Vec<InstalledPackage>>) -> CheckIn {
        let inventory = packages.map(|list| {
            InventoryReport::new(
                Hostname::parse("db-01").unwrap(),
                OsInfo {
                    family: OsFamily::Linux,
                    distribution: "almalinux".into(),
                    release: "9".into(),
                    arch: "x86_64".into(),
                },
                Some("5.14.0-427.el9.x86_64".into()),
                PackageFormat::Rpm,
                list,
                "2026-01-02T03:04:05Z".parse().unwrap(),
            )
        });
        CheckIn {
            agent_version: "0.1.0".into(),
            sent_at: "2026-01-02T03:04:06Z".parse().unwrap(),
            inventory_hash: inventory
                .as_ref()
                .map_or_else(|| "abc".into(), |i| i.inventory_hash.clone()),
            inventory,
            pending_updates: Some(vec![PendingUpdate {
                name: "openssl".into(),
                arch: "x86_64".into(),
                installed: "3.0.7-27.el9".into(),
                candidate: "3.0.7-28.el9".into(),
                origin: "ALSA-2024:1234".into(),
                security: true,
            }]),
            kernel_running: Some("5.14.0-427.el9.x86_64".into()),
            reboot_required: true,
            restart_needed: vec!["sshd[812]".into()],
            reports: vec![JobReport {
                job_id: "job-1".into(),
                status: JobStatus::Succeeded,
                steps: Vec::new(),
                before: None,
                after: None,
                reboot_required: false,
            }],
        }
    }

    /// A framed check-in reads back as the check-in sent, and its inventory as the
    /// JSON form's does: same packages, same hash, the text as sent.
    #[test]
    fn a_framed_check_in_reads_back_as_sent() {
        // In canonical order: a report compares its packages in the order it holds them.
        let packages = vec![
            pkg("bash", "5.1.8-9.el9", None),
            pkg("openssl-libs", "3.0.7-27.el9", Some("openssl")),
            pkg("zlib", "1.2.11-40.el9", None),
        ];
        for c in [
            checkin(Some(packages)),
            checkin(None),
            checkin(Some(vec![])),
        ] {
            let framed = c.to_framed().unwrap();
            let newline = framed.iter().position(|b| *b == b'\n').unwrap();
            let head: serde_json::Value = serde_json::from_slice(&framed[..newline]).unwrap();
            if let Some(inv) = &c.inventory {
                assert!(head["inventory"].get("packages_text").is_none());
                assert_eq!(&framed[newline + 1..], inv.packages_text().as_bytes());
            } else {
                assert_eq!(newline + 1, framed.len(), "nothing after the head");
            }
            let back = CheckIn::from_framed(framed.clone()).unwrap();
            assert_eq!(back, c);
            if let Some(inv) = &back.inventory {
                assert_eq!(inv.check().unwrap().hash(), c.inventory_hash);
            }
            // The JSON form of the same check-in reads back the same.
            let json: CheckIn = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
            assert_eq!(json, back);
            // Sent on as received.
            assert_eq!(back.to_framed().unwrap(), framed);
        }
    }

    #[test]
    fn a_framed_check_in_out_of_shape_is_refused() {
        let c = checkin(Some(vec![pkg("bash", "5.1.8-9.el9", None)]));
        let framed = c.to_framed().unwrap();
        let newline = framed.iter().position(|b| *b == b'\n').unwrap();
        let (head, text) = framed.split_at(newline + 1);
        let with = |head: &[u8], text: &[u8]| [head, text].concat();
        let no_inventory = {
            let mut v: serde_json::Value = serde_json::from_slice(head).unwrap();
            v["inventory"] = serde_json::Value::Null;
            let mut h = serde_json::to_vec(&v).unwrap();
            h.push(b'\n');
            h
        };
        let text_in_head = {
            let mut v: serde_json::Value = serde_json::from_slice(head).unwrap();
            v["inventory"]["packages_text"] = String::from_utf8(text.to_vec()).unwrap().into();
            let mut h = serde_json::to_vec(&v).unwrap();
            h.push(b'\n');
            h
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (head[..newline].to_vec(), "no newline found"),
            (
                with(b"{\"agent_version\":1}\n", text),
                "the check-in's head",
            ),
            (with(head, b"bash\tx86_64\t5.1\n"), "packages_text: line 1"),
            (
                with(head, b"zlib\tx86_64\t1\t\t\nbash\tx86_64\t5\t\t\n"),
                "is not after",
            ),
            (with(head, b"bash\tx86_64\t5\xff\t\t\n"), "not UTF-8"),
            (with(&no_inventory, text), "but no inventory"),
            (with(&text_in_head, text), "unknown field `packages_text`"),
        ];
        for (body, why) in cases {
            let e = CheckIn::from_framed(body).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
        // The packages arrive intact but do not hash as the head says: the check the
        // server makes of every report refuses them.
        let other = with(head, b"bash\tx86_64\t5.1.8-10.el9\t\t\n");
        let read = CheckIn::from_framed(other).unwrap();
        let inv = read.inventory.unwrap();
        assert_eq!(inv.check().unwrap_err().field, "inventory_hash");
    }
}
