//! One simulated agent's traffic: enrolment and signed, gzipped check-ins, as the real
//! agent sends them.

use crate::hosts::Host;
use anyhow::{bail, Context};
use patchwarden_domain::asset::Hostname;
use patchwarden_wire::agent::{
    CheckIn, CheckInReply, EnrollRequest, EnrollResponse, CHECKIN_FRAMED_MEDIA_TYPE,
};
use patchwarden_wire::sign::{
    request_message, SecretKey, HEADER_AGENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use patchwarden_wire::InventoryReport;
use std::io::Write;

#[derive(Debug)]
pub struct Agent {
    pub id: i64,
    key: SecretKey,
    /// The inventory it is enrolled with.
    pub report: InventoryReport,
    /// The inventory after its nightly patch run.
    pub patched: InventoryReport,
}

impl Agent {
    /// Enrols `host` as `hostname` with the reusable enrolment `token`.
    pub async fn enroll(
        http: &reqwest::Client,
        server: &str,
        token: &str,
        hostname: Hostname,
        host: Host,
    ) -> anyhow::Result<Self> {
        let key = SecretKey::generate();
        let req = EnrollRequest {
            token: token.to_owned(),
            hostname: hostname.clone(),
            os: host.os.clone(),
            public_key: key.public_b64(),
            agent_version: "fleetsim".into(),
        };
        let resp = http
            .post(format!("{server}/api/v1/agent/enroll"))
            .json(&req)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "enrolment answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let e: EnrollResponse = resp.json().await.context("enrolment reply")?;
        let now = jiff::Timestamp::now();
        let report = InventoryReport::new(
            hostname.clone(),
            host.os.clone(),
            None,
            host.format,
            host.packages,
            now,
        );
        let patched = InventoryReport::new(hostname, host.os, None, host.format, host.patched, now);
        Ok(Self {
            id: e.agent_id,
            key,
            report,
            patched,
        })
    }
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes)?;
    Ok(e.finish()?)
}

/// The gzipped check-in body an agent sends: with its full inventory, or a heartbeat
/// naming only the inventory's hash.
pub fn body(inventory: &InventoryReport, full: bool) -> anyhow::Result<Vec<u8>> {
    let body = CheckIn {
        agent_version: "fleetsim".into(),
        sent_at: jiff::Timestamp::now(),
        inventory_hash: inventory.inventory_hash.clone(),
        inventory: full.then(|| inventory.clone()),
        pending_updates: None,
        kernel_running: None,
        reboot_required: false,
        restart_needed: Vec::new(),
        reports: Vec::new(),
    };
    gzip(&body.to_framed()?)
}

/// Signs `bytes` (a [`body`]) with the agent's key at the current time and posts it.
pub async fn send(
    http: &reqwest::Client,
    server: &str,
    agent: &Agent,
    bytes: Vec<u8>,
) -> anyhow::Result<CheckInReply> {
    let path = "/api/v1/agent/checkin";
    let ts = jiff::Timestamp::now().as_second();
    let sig = agent.key.sign(&request_message("POST", path, ts, &bytes));
    let resp = http
        .post(format!("{server}{path}"))
        .header("content-type", CHECKIN_FRAMED_MEDIA_TYPE)
        .header("content-encoding", "gzip")
        .header(HEADER_AGENT_ID, agent.id.to_string())
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, sig)
        .body(bytes)
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        bail!(
            "check-in answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(resp.json().await?)
}
