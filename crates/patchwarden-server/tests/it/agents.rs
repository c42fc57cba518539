//! Agents: enrolment tokens, signed check-ins (forgery, wrong key, stale or replayed
//! timestamps, revocation), gzip bodies and bombs, inventories and findings, signed
//! jobs delivered and reported — and the real `patchwarden-agent` binary against the
//! real server over HTTPS.

use flate2::write::GzEncoder;
use flate2::Compression;
use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::asset::{Hostname, OsFamily, OsInfo};
use patchwarden_domain::clock::Clock;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_testkit::{Client, Resp, TestServer};
use patchwarden_wire::agent::{CheckIn, PendingUpdate, CHECKIN_FRAMED_MEDIA_TYPE};
use patchwarden_wire::job::{Job, JobReport, JobStatus, SignedJob, StepReport};
use patchwarden_wire::sign::{request_message, SecretKey};
use patchwarden_wire::InventoryReport;
use serde_json::{json, Value};
use std::io::Write;

const CHECKIN: &str = "/api/v1/agent/checkin";

/// A simulated agent: its id, its key and the server key it pinned.
pub(crate) struct Sim {
    pub(crate) id: i64,
    pub(crate) asset: i64,
    pub(crate) key: SecretKey,
    pub(crate) server_key: String,
}

pub(crate) async fn token(admin: &Client, reusable: bool, hours: u32) -> String {
    let r = admin
        .post(
            "/api/v1/agents/enrollment-tokens",
            &json!({"name": "fleet", "reusable": reusable, "expires_in_hours": hours}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pwe_"));
    assert!(!r.json["token"].to_string().contains(&secret));
    secret
}

fn enroll_body(token: &str, host: &str, key: &SecretKey) -> Value {
    json!({
        "token": token,
        "hostname": host,
        "os": {"family": "linux", "distribution": "debian", "release": "12", "arch": "amd64"},
        "public_key": key.public_b64(),
        "agent_version": "0.1.0",
    })
}

pub(crate) async fn enroll(ts: &TestServer, token: &str, host: &str) -> Result<Sim, Resp> {
    let key = SecretKey::generate();
    let r = ts
        .anonymous()
        .post("/api/v1/agent/enroll", &enroll_body(token, host, &key))
        .await;
    if r.status != 201 {
        return Err(r);
    }
    Ok(Sim {
        id: r.json["agent_id"].as_i64().unwrap(),
        asset: r.json["asset_id"].as_i64().unwrap(),
        key,
        server_key: r.json["server_job_key"].as_str().unwrap().to_owned(),
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn now(ts: &TestServer) -> i64 {
    ts.clock.now().as_second()
}

/// Sends `body` (bytes as on the wire) signed by `key` at `at` for agent `id`.
async fn send_raw(
    ts: &TestServer,
    id: i64,
    key: &SecretKey,
    at: i64,
    body: Vec<u8>,
    gz: bool,
) -> Resp {
    send_typed(ts, id, key, at, body, gz, "application/json").await
}

/// [`send_raw`] with the media type `media_type`.
async fn send_typed(
    ts: &TestServer,
    id: i64,
    key: &SecretKey,
    at: i64,
    body: Vec<u8>,
    gz: bool,
    media_type: &str,
) -> Resp {
    let sig = key.sign(&request_message("POST", CHECKIN, at, &body));
    let mut req = reqwest::Client::new()
        .post(format!("{}{CHECKIN}", ts.base))
        .header("content-type", media_type)
        .header("x-patchwarden-agent", id.to_string())
        .header("x-patchwarden-timestamp", at.to_string())
        .header("x-patchwarden-signature", sig)
        .body(body);
    if gz {
        req = req.header("content-encoding", "gzip");
    }
    Client::finish(req.send().await.unwrap()).await
}

pub(crate) async fn checkin(ts: &TestServer, a: &Sim, c: &CheckIn) -> Resp {
    let body = gzip(&serde_json::to_vec(c).unwrap());
    send_raw(ts, a.id, &a.key, now(ts), body, true).await
}

/// A check-in framed as the agent sends it (protocol revision 3).
async fn checkin_framed(ts: &TestServer, a: &Sim, c: &CheckIn) -> Resp {
    let body = gzip(&c.to_framed().unwrap());
    send_typed(
        ts,
        a.id,
        &a.key,
        now(ts),
        body,
        true,
        CHECKIN_FRAMED_MEDIA_TYPE,
    )
    .await
}

pub(crate) fn pkg(name: &str, version: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source_name: None,
        source_version: None,
    }
}

pub(crate) fn inventory(host: &str, packages: Vec<InstalledPackage>) -> InventoryReport {
    InventoryReport::new(
        Hostname::parse(host).unwrap(),
        OsInfo {
            family: OsFamily::Linux,
            distribution: "debian".into(),
            release: "12".into(),
            arch: "amd64".into(),
        },
        Some("6.1.0-18-amd64".into()),
        PackageFormat::Deb,
        packages,
        Timestamp::now(),
    )
}

pub(crate) fn facts(inv: &InventoryReport, send: bool) -> CheckIn {
    CheckIn {
        agent_version: "0.1.0".into(),
        sent_at: Timestamp::now(),
        inventory_hash: inv.inventory_hash.clone(),
        inventory: send.then(|| inv.clone()),
        pending_updates: None,
        kernel_running: inv.kernel.clone(),
        reboot_required: false,
        restart_needed: Vec::new(),
        reports: Vec::new(),
    }
}

#[tokio::test]
async fn enrolment_tokens_one_time_reusable_expired_revoked() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let once = token(&admin, false, 24).await;
    let a = enroll(&ts, &once, "web-01").await.unwrap();
    assert!(a.id > 0 && a.asset > 0);
    let again = enroll(&ts, &once, "web-02").await.err().unwrap();
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (401, "invalid_token")
    );
    let nonsense = enroll(&ts, "pwe_nonsense", "web-02").await.err().unwrap();
    assert_eq!(nonsense.code(), "invalid_token");

    // Reusable: two agents; the same host name attaches to the same asset.
    let many = token(&admin, true, 24).await;
    let b = enroll(&ts, &many, "db-01").await.unwrap();
    let c = enroll(&ts, &many, "db-02").await.unwrap();
    let d = enroll(&ts, &many, "web-01").await.unwrap();
    assert_ne!(b.id, c.id);
    assert_eq!(d.asset, a.asset);
    assert_eq!(b.server_key, a.server_key, "one server key");

    // Expired, then revoked.
    let short = token(&admin, true, 1).await;
    ts.clock.advance(SignedDuration::from_mins(61));
    assert_eq!(
        enroll(&ts, &short, "x-1").await.err().unwrap().code(),
        "invalid_token"
    );
    let list = admin.get("/api/v1/agents/enrollment-tokens").await;
    assert_eq!(list.json["tokens"].as_array().unwrap().len(), 3);
    let many_id = list.json["tokens"][1]["id"].as_i64().unwrap();
    assert_eq!(list.json["tokens"][1]["used_count"], 3);
    let r = admin
        .delete(&format!("/api/v1/agents/enrollment-tokens/{many_id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        enroll(&ts, &many, "x-2").await.err().unwrap().code(),
        "invalid_token"
    );
    // Bad input is refused before any token is spent.
    let once2 = token(&admin, false, 24).await;
    let mut bad = enroll_body(&once2, "x-3", &SecretKey::generate());
    bad["public_key"] = "not-a-key".into();
    let r = ts.anonymous().post("/api/v1/agent/enroll", &bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    enroll(&ts, &once2, "x-3").await.unwrap();

    let agents = admin.get("/api/v1/agents").await;
    assert_eq!(agents.json["agents"].as_array().unwrap().len(), 5);
    let audit = admin.get("/api/v1/audit?action=agent.").await;
    let actions: Vec<&str> = audit.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"agent.enroll") && actions.contains(&"agent.token.revoke"));
}

#[tokio::test]
async fn checkin_signatures_timestamps_and_revocation() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, true, 24).await;
    let a = enroll(&ts, &t, "web-01").await.unwrap();
    let inv = inventory("web-01", vec![pkg("openssl", "3.0.11-1~deb12u1")]);
    let body = serde_json::to_vec(&facts(&inv, false)).unwrap();

    let ok = send_raw(&ts, a.id, &a.key, now(&ts), body.clone(), false).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["send_inventory"], true, "no inventory stored yet");

    // Forged: the signature of another body; signed by another key; unknown agent.
    let sig_other = a
        .key
        .sign(&request_message("POST", CHECKIN, now(&ts), b"{}"));
    let forged = reqwest::Client::new()
        .post(format!("{}{CHECKIN}", ts.base))
        .header("x-patchwarden-agent", a.id.to_string())
        .header("x-patchwarden-timestamp", now(&ts).to_string())
        .header("x-patchwarden-signature", sig_other)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let forged = Client::finish(forged).await;
    assert_eq!(
        (forged.status.as_u16(), forged.code()),
        (401, "unauthenticated")
    );
    let wrong = send_raw(
        &ts,
        a.id,
        &SecretKey::generate(),
        now(&ts),
        body.clone(),
        false,
    )
    .await;
    assert_eq!(wrong.status, 401);
    let unknown = send_raw(&ts, a.id + 99, &a.key, now(&ts), body.clone(), false).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.json["error"]["message"], unknown.json["error"]["message"],
        "which agent ids exist is not told"
    );
    // Stale, and a replay of a signed body under another timestamp.
    let stale = send_raw(&ts, a.id, &a.key, now(&ts) - 301, body.clone(), false).await;
    assert_eq!(stale.status, 401);
    assert!(
        stale.text.contains("off the server's clock"),
        "{}",
        stale.text
    );
    let at = now(&ts);
    let sig = a.key.sign(&request_message("POST", CHECKIN, at, &body));
    let replay = reqwest::Client::new()
        .post(format!("{}{CHECKIN}", ts.base))
        .header("x-patchwarden-agent", a.id.to_string())
        .header("x-patchwarden-timestamp", (at + 1).to_string())
        .header("x-patchwarden-signature", sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 401);
    // Without the headers it is not an agent request.
    let bare = ts.anonymous().post(CHECKIN, &json!({})).await;
    assert_eq!(
        (bare.status.as_u16(), bare.code()),
        (400, "missing_agent_signature")
    );

    // Revoked: 403 agent_revoked at the next contact.
    let r = admin.delete(&format!("/api/v1/agents/{}", a.id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refused = send_raw(&ts, a.id, &a.key, now(&ts), body, false).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (403, "agent_revoked")
    );
}

/// Protocol revision 3 (the agent's) and revision 2 (JSON) store the same inventory; a
/// framed body out of shape is refused and stores nothing.
#[tokio::test]
async fn framed_and_json_check_ins_store_the_same_inventory() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, true, 24).await;
    let a = enroll(&ts, &t, "web-01").await.unwrap();
    let b = enroll(&ts, &t, "web-02").await.unwrap();
    let packages = vec![
        pkg("openssl", "3.0.11-1~deb12u1"),
        pkg("bash", "5.2.15-2+b2"),
    ];
    let on_a = inventory("web-01", packages.clone());
    let listed = |asset: i64| format!("/api/v1/assets/{asset}/packages");

    // Lines out of order after the head: refused with the line, nothing stored.
    let c = facts(&on_a, true);
    let good = c.to_framed().unwrap();
    let newline = good.iter().position(|b| *b == b'\n').unwrap();
    let mut bad = good[..=newline].to_vec();
    bad.extend_from_slice(b"zlib1g\tamd64\t1\t\t\nbash\tamd64\t5\t\t\n");
    let r = send_typed(
        &ts,
        a.id,
        &a.key,
        now(&ts),
        gzip(&bad),
        true,
        CHECKIN_FRAMED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "invalid_body", "{}", r.text);
    assert!(r.text.contains("line 2"), "{}", r.text);
    let pk = admin.get(&listed(a.asset)).await;
    assert_eq!(pk.json["packages"].as_array().map_or(0, Vec::len), 0);
    // The same framing sent as JSON is not JSON.
    let r = send_raw(&ts, a.id, &a.key, now(&ts), gzip(&good), true).await;
    assert_eq!(r.status, 422, "{}", r.text);

    let r = checkin_framed(&ts, &a, &c).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["send_inventory"], false);
    let r = checkin(&ts, &b, &facts(&inventory("web-02", packages), true)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (pa, pb) = (
        admin.get(&listed(a.asset)).await,
        admin.get(&listed(b.asset)).await,
    );
    assert_eq!(pa.json["packages"].as_array().map_or(0, Vec::len), 2);
    assert_eq!(pa.json["packages"], pb.json["packages"]);
    // A framed heartbeat: the head and its newline only.
    let r = checkin_framed(&ts, &a, &facts(&on_a, false)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["send_inventory"], false);
}

#[tokio::test]
async fn gzip_bodies_inventories_and_findings() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, true, 24).await;
    let a = enroll(&ts, &t, "web-01").await.unwrap();
    let old = inventory(
        "web-01",
        vec![
            pkg("openssl", "3.0.11-1~deb12u1"),
            pkg("bash", "5.2.15-2+b2"),
        ],
    );

    // A heartbeat stores nothing; the server asks for the inventory.
    let r = checkin(&ts, &a, &facts(&old, false)).await;
    assert_eq!(r.json["send_inventory"], true);
    let pk = admin
        .get(&format!("/api/v1/assets/{}/packages", a.asset))
        .await;
    assert_eq!(
        pk.json["packages"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        pk.text
    );
    // The inventory, with a pending security update of openssl.
    let mut c = facts(&old, true);
    c.pending_updates = Some(vec![PendingUpdate {
        name: "openssl".into(),
        arch: "amd64".into(),
        installed: "3.0.11-1~deb12u1".into(),
        candidate: "3.0.11-1~deb12u2".into(),
        origin: "Debian-Security:12/stable-security".into(),
        security: true,
    }]);
    let r = checkin(&ts, &a, &c).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["send_inventory"], false);
    let pk = admin
        .get(&format!("/api/v1/assets/{}/packages", a.asset))
        .await;
    assert_eq!(
        pk.json["packages"].as_array().unwrap().len(),
        2,
        "{}",
        pk.text
    );
    let open = |r: &Resp| r.json["findings"].as_array().unwrap().len();
    let f = admin
        .get(&format!("/api/v1/findings?asset={}", a.asset))
        .await;
    assert_eq!(open(&f), 1, "{}", f.text);
    assert_eq!(
        f.json["findings"][0]["source"], "package-manager",
        "{}",
        f.text
    );
    // A feed advisory that explains the same update replaces the package manager's
    // finding instead of counting the update twice.
    let osv = json!({
        "id": "DSA-TEST-5532", "modified": "2023-10-20T00:00:00Z", "aliases": ["CVE-2023-5363"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]
    });
    let resp = admin
        .http
        .post(format!(
            "{}/api/v1/advisories/import?name=dsa.json",
            admin.base
        ))
        .bearer_auth(admin.token.as_ref().unwrap())
        .body(osv.to_string())
        .send()
        .await
        .unwrap();
    let imported = Client::finish(resp).await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    let f = admin
        .get(&format!("/api/v1/findings?asset={}", a.asset))
        .await;
    assert_eq!(open(&f), 1, "{}", f.text);
    assert_eq!(
        f.json["findings"][0]["advisory"], "DSA-TEST-5532",
        "{}",
        f.text
    );
    // Upgraded: the re-match closes the finding.
    let new = inventory(
        "web-01",
        vec![
            pkg("openssl", "3.0.11-1~deb12u2"),
            pkg("bash", "5.2.15-2+b2"),
        ],
    );
    let r = checkin(&ts, &a, &facts(&new, true)).await;
    assert_eq!(r.json["send_inventory"], false, "{}", r.text);
    let f = admin
        .get(&format!("/api/v1/findings?asset={}", a.asset))
        .await;
    assert_eq!(open(&f), 0, "{}", f.text);
    let agent = admin.get("/api/v1/agents").await;
    assert!(agent.json["agents"][0]["last_seen_at"].is_string());

    // A tampered inventory is refused; a gzip bomb is refused with 413.
    let mut bad = facts(&new, true);
    let inv = bad.inventory.as_mut().unwrap();
    let mut tampered = inv.packages().into_owned();
    tampered[0].version = "9".into();
    let claimed = inv.inventory_hash.clone();
    *inv = InventoryReport::new(
        inv.hostname.clone(),
        inv.os.clone(),
        inv.kernel.clone(),
        inv.format,
        tampered,
        inv.collected_at,
    );
    inv.inventory_hash = claimed;
    assert_eq!(checkin(&ts, &a, &bad).await.status, 422);
    let bomb = gzip(&vec![b' '; 8 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let r = send_raw(&ts, a.id, &a.key, now(&ts), bomb, true).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, "payload_too_large"));
}

/// Opens a job as the agent does (pinned key, addressee, validity window, no replay).
pub(crate) fn open_job(ts: &TestServer, a: &Sim, signed: &SignedJob) -> Job {
    signed
        .open(
            &a.server_key,
            a.id,
            ts.clock.now(),
            SignedDuration::from_mins(5),
            |_| false,
        )
        .unwrap()
}

pub(crate) fn report(job: &str, status: JobStatus) -> JobReport {
    let at = Timestamp::now();
    JobReport {
        job_id: job.into(),
        status,
        steps: vec![StepReport {
            step: "health:ssh".into(),
            ok: true,
            started_at: at,
            finished_at: at,
            log_excerpt: "connected".into(),
        }],
        before: None,
        after: Some(vec![pkg("openssl", "3.0.11-1~deb12u2")]),
        reboot_required: false,
    }
}

#[tokio::test]
async fn jobs_are_signed_delivered_reported_and_not_resent() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, true, 24).await;
    let a = enroll(&ts, &t, "web-01").await.unwrap();
    let inv = inventory("web-01", vec![pkg("openssl", "3.0.11-1~deb12u1")]);
    let queue = |minutes: u32| json!({"operations": [{"op": "health_checks", "names": []}], "expires_in_minutes": minutes});
    let r = admin
        .post(&format!("/api/v1/assets/{}/jobs", a.asset), &queue(60))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let job_id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["status"], "queued");
    let short = admin
        .post(&format!("/api/v1/assets/{}/jobs", a.asset), &queue(1))
        .await;
    let short_id = short.json["id"].as_str().unwrap().to_owned();
    ts.clock.advance(SignedDuration::from_secs(90));

    let reply = checkin(&ts, &a, &facts(&inv, true)).await;
    let jobs: Vec<SignedJob> = serde_json::from_value(reply.json["jobs"].clone()).unwrap();
    assert_eq!(jobs.len(), 1, "the expired job is not sent");
    let job = open_job(&ts, &a, &jobs[0]);
    assert_eq!(job.id, job_id);
    assert_ne!(job.id, short_id);
    // Still pending until reported.
    let again = checkin(&ts, &a, &facts(&inv, false)).await;
    assert_eq!(again.json["jobs"].as_array().unwrap().len(), 1);

    let mut c = facts(&inv, false);
    c.reports = vec![
        report(&job_id, JobStatus::Succeeded),
        report("unknown-job", JobStatus::Failed),
    ];
    let reply = checkin(&ts, &a, &c).await;
    assert_eq!(reply.json["acknowledged"], json!([job_id, "unknown-job"]));
    assert_eq!(
        reply.json["jobs"],
        json!([]),
        "a reported job is not re-sent"
    );

    let got = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["status"], "succeeded");
    assert!(got.json["delivered_at"].is_string() && got.json["finished_at"].is_string());
    assert_eq!(
        got.json["reports"][0]["steps"][0]["log_excerpt"],
        "connected"
    );
    assert_eq!(
        got.json["reports"][0]["after"][0]["version"],
        "3.0.11-1~deb12u2"
    );
    assert_eq!(got.json["job"]["operations"][0]["op"], "health_checks");
    assert_eq!(admin.get("/api/v1/jobs/nope").await.status, 404);

    // Validation, and an asset without an agent.
    let bad = admin
        .post(
            &format!("/api/v1/assets/{}/jobs", a.asset),
            &json!({"operations": []}),
        )
        .await;
    assert_eq!(bad.status, 422);
    let shell = admin
        .post(
            &format!("/api/v1/assets/{}/jobs", a.asset),
            &json!({"operations": [{"op": "shell", "command": "id"}]}),
        )
        .await;
    assert_eq!(shell.status, 422, "{}", shell.text);
    let lone = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "lone", "environment": "qa"}),
        )
        .await;
    let r = admin
        .post(
            &format!("/api/v1/assets/{}/jobs", lone.json["id"]),
            &queue(60),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "no_agent"));
}

/// The real agent binary against the real server over HTTPS.
///
/// Cargo builds a package's binaries only for that package's own integration tests:
/// a dev-dependency on the bin-only `patchwarden-agent` is ignored ("missing a lib
/// target"), dependencies never get their binaries built, and artifact dependencies
/// are nightly-only. So the binary is the one built by the same `cargo test`
/// invocation when it selects the agent package too (`cargo test --workspace`, as CI
/// runs, or `cargo test -p patchwarden-server -p patchwarden-agent`): it lies in the
/// profile directory next to this test's `deps/` (`current_exe()/../../`, which also
/// holds for other profiles, target triples and `CARGO_TARGET_DIR`). A binary older
/// than the agent's sources is not used: the test is skipped (failed under
/// `PATCHWARDEN_REQUIRE_ALL_TESTS=1`) and says which command builds it.
mod e2e {
    use super::token;
    use patchwarden_testkit::TestServer;
    use serde_json::json;
    use std::path::{Path, PathBuf};
    use std::time::SystemTime;

    const STATUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/inventories/format-samples-osv-scalibr/dpkg-var-lib-dpkg-status-valid"
    );

    fn newest(dir: &Path) -> SystemTime {
        let mut best = SystemTime::UNIX_EPOCH;
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let t = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata().and_then(|m| m.modified()).unwrap_or(best)
            };
            best = best.max(t);
        }
        best
    }

    /// The agent binary of this build, or why there is none.
    fn agent_binary() -> Result<PathBuf, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("no profile directory")?;
        let bin = profile_dir.join("patchwarden-agent");
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .map_err(|_| format!("{} is not built", bin.display()))?;
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for c in [
            "patchwarden-agent",
            "patchwarden-wire",
            "patchwarden-inventory",
            "patchwarden-domain",
        ] {
            if newest(&crates.join(c).join("src")) > built {
                return Err(format!("{} is older than crates/{c}/src", bin.display()));
            }
        }
        Ok(bin)
    }

    /// A CA, and a certificate for 127.0.0.1 it signed (PEM files in `dir`).
    fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let paths = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        std::fs::write(&paths.0, ca.pem()).unwrap();
        std::fs::write(&paths.1, leaf.pem()).unwrap();
        std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
        paths
    }

    async fn run(bin: &Path, config: &Path, args: &[&str]) -> String {
        let out = tokio::process::Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("PATCHWARDEN_ENROLL_TOKEN")
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "agent {args:?}: {text}");
        text
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_real_agent_enrols_reports_and_runs_a_job_over_https() {
        let bin = match agent_binary() {
            Ok(b) => b,
            Err(why) => {
                patchwarden_testkit::skip(&format!(
                    "a fresh patchwarden-agent binary ({why}); build it in the same \
                     invocation: cargo test -p patchwarden-server -p patchwarden-agent"
                ));
                return;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let ts = TestServer::start_with(move |c| {
            c.server.tls_cert_file = Some(cert);
            c.server.tls_key_file = Some(key);
        })
        .await;
        assert!(ts.base.starts_with("https://127.0.0.1:"), "{}", ts.base);
        let mut admin = ts.admin().await;
        let pem = std::fs::read(&ca).unwrap();
        admin.http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let secret = token(&admin, false, 1).await;

        // A Debian 12 host: the dpkg status fixture and an os-release under a root.
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::copy(STATUS, root.join("var/lib/dpkg/status")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/hostname"), "e2e-host\n").unwrap();
        let port = ts.base.rsplit(':').next().unwrap().to_owned();
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "state_dir = {:?}\nroot = {root:?}\ninterval_secs = 1\njitter_secs = 0\n\
                 pending_updates_secs = 0\n\n[[health_checks]]\nname = \"server\"\n\
                 kind = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ntimeout_secs = 5\n",
                dir.path().join("state")
            ),
        )
        .unwrap();

        let out = run(
            &bin,
            &config,
            &[
                "enroll",
                "--server",
                &ts.base,
                "--token",
                &secret,
                "--ca-cert",
                ca.to_str().unwrap(),
            ],
        )
        .await;
        assert!(out.contains("enrolled as agent"), "{out}");
        let agents = admin.get("/api/v1/agents").await;
        let agent = &agents.json["agents"][0];
        assert_eq!(agent["hostname"], "e2e-host");
        let asset = agent["asset_id"].as_i64().unwrap();

        run(&bin, &config, &["checkin"]).await;
        let a = admin.get(&format!("/api/v1/assets/{asset}")).await;
        assert_eq!(a.json["os"]["distribution"], "debian", "{}", a.text);
        let packages = admin.get(&format!("/api/v1/assets/{asset}/packages")).await;
        let names: Vec<&str> = packages.json["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"accountsservice") && names.contains(&"adduser"),
            "{names:?}"
        );
        assert_eq!(
            names.len(),
            a.json["package_count"].as_u64().unwrap() as usize
        );

        let job = admin
            .post(
                &format!("/api/v1/assets/{asset}/jobs"),
                &json!({"operations": [{"op": "health_checks", "names": ["server"]}]}),
            )
            .await;
        assert_eq!(job.status, 201, "{}", job.text);
        let id = job.json["id"].as_str().unwrap().to_owned();
        run(&bin, &config, &["checkin"]).await;
        let got = admin.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(got.json["status"], "succeeded", "{}", got.text);
        let step = &got.json["reports"][0]["steps"][0];
        assert_eq!(
            (step["step"].as_str(), step["ok"].as_bool()),
            (Some("health:server"), Some(true)),
            "{}",
            got.text
        );
        // Nothing is sent twice, and the inventory is not resent unchanged.
        run(&bin, &config, &["checkin"]).await;
        assert_eq!(
            admin.get(&format!("/api/v1/jobs/{id}")).await.json["reports"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // Revoked: refused at the next contact, and the agent stops.
        admin
            .delete(&format!("/api/v1/agents/{}", agent["id"]))
            .await;
        let out = tokio::process::Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .arg("checkin")
            .output()
            .await
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn processes_needing_a_restart_are_recorded_and_shown() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let tok = token(&admin, false, 24).await;
    let a = enroll(&ts, &tok, "app-01").await.unwrap();
    let inv = inventory("app-01", vec![pkg("libssl3", "3.0.11-1~deb12u1")]);
    let mut c = facts(&inv, true);
    c.restart_needed = vec!["nginx[990]".into(), "sshd[812]".into()];
    let r = checkin(&ts, &a, &c).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let agents = admin.get("/api/v1/agents").await;
    let me = agents.json["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == a.id)
        .cloned()
        .unwrap_or_else(|| panic!("{}", agents.text));
    assert_eq!(me["restart_needed"], json!(["nginx[990]", "sshd[812]"]));
    // A control character in a process name is refused, nothing half-stored.
    c.inventory = None;
    c.restart_needed = vec!["bad\u{7}name[1]".into()];
    let r = checkin(&ts, &a, &c).await;
    assert_eq!(r.status, 422, "{}", r.text);
}
