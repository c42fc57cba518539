//! Findings suppressed by a VEX not-affected statement: stored with the reason, left out
//! of the open findings, listed with `include_suppressed=true`, and toggled in place
//! when the statement stops or starts applying. The VEX side is a real Red Hat CSAF
//! advisory (RHSA-2025:23414, bind on RHEL 6 ELS: `bind-chroot` known_not_affected,
//! `vulnerable_code_not_present`); the disagreeing feed is a small OSV record.

use jiff::{SignedDuration, Timestamp};
use patchwarden_domain::clock::Clock;
use patchwarden_testkit::{Client, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const RHSA: &str = "../../../shared/fixtures/advisories/vunnel-test-fixtures/rhel/test-fixtures/csaf/advisories/2025/rhsa-2025_23414.json";
const REASON: &str = "RHSA-2025:23414 says not affected: vulnerable_code_not_present";

async fn import(admin: &Client, name: &str, body: Vec<u8>) -> Value {
    let resp = admin
        .http
        .post(format!(
            "{}/api/v1/advisories/import?name={name}",
            admin.base
        ))
        .bearer_auth(admin.token.as_ref().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    let r = Client::finish(resp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

/// Another feed's view: `bind-chroot` on RHEL 6 is affected by CVE-2021-25220.
fn osv_bind_chroot() -> Vec<u8> {
    json!({
        "id": "OSV-TEST-2021-25220", "modified": "2025-12-01T00:00:00Z", "aliases": ["CVE-2021-25220"],
        "affected": [{"package": {"ecosystem": "Red Hat:enterprise_linux:6::server", "name": "bind-chroot"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "32:9.8.2-0.68.rc1.el6_10.17"}]}]}]
    })
    .to_string()
    .into_bytes()
}

/// The real RHSA, or a revision of it whose not-affected statements are withdrawn.
fn rhsa(withdraw_not_affected: bool) -> Vec<u8> {
    let bytes = std::fs::read(RHSA).unwrap();
    if !withdraw_not_affected {
        return bytes;
    }
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    for v in doc["vulnerabilities"].as_array_mut().unwrap() {
        let status = v["product_status"].as_object_mut().unwrap();
        assert!(status.remove("known_not_affected").is_some());
        v.as_object_mut().unwrap().remove("flags");
    }
    serde_json::to_vec(&doc).unwrap()
}

async fn els6(admin: &Client) -> i64 {
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "ns1-els6", "environment": "production", "os_family": "linux",
                    "distribution": "rhel", "release": "6.10", "arch": "x86_64"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    let v = "32:9.8.2-0.68.rc1.el6_10.16";
    let packages = json!([
        {"name": "bind-chroot", "version": v, "arch": "x86_64", "source_name": "bind", "source_version": v},
        {"name": "bash", "version": "4.1.2-48.el6", "arch": "x86_64"}
    ]);
    let r = admin
        .put(
            &format!("/api/v1/assets/{id}/packages"),
            &json!({"format": "rpm", "packages": packages}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

async fn findings(admin: &Client, query: &str) -> Vec<Value> {
    let r = admin.get(&format!("/api/v1/findings?{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["findings"].as_array().unwrap().clone()
}

/// The reasons of a suppressed finding, each named once (a statement that applies
/// through both the binary and the source name gives one reason).
fn reasons(f: &Value) -> BTreeSet<&str> {
    let list: Vec<&str> = f["suppressed"].as_str().unwrap().split("; ").collect();
    let set: BTreeSet<&str> = list.iter().copied().collect();
    assert_eq!(set.len(), list.len(), "a reason is repeated: {list:?}");
    set
}

fn at(v: &Value) -> Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn vex_not_affected_suppresses_visibly_and_toggles_in_place() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let id = els6(&admin).await;
    let mine = format!("asset={id}");
    let with_suppressed = format!("asset={id}&include_suppressed=true");

    // The OSV record alone: an ordinary open finding.
    let s = import(&admin, "osv.json", osv_bind_chroot()).await;
    assert_eq!(
        s["findings"],
        json!({"opened": 1, "kept": 0, "closed": 0, "suppressed": 0, "unsuppressed": 0})
    );
    let open = findings(&admin, &mine).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let row = open[0]["id"].clone();
    assert_eq!(open[0]["advisory"], "OSV-TEST-2021-25220");
    assert_eq!(open[0]["suppressed"], Value::Null);

    // Red Hat's CSAF says bind-chroot is not affected: the same row is suppressed, with
    // the reason, and no longer open work anywhere.
    let s = import(&admin, "rhsa-2025_23414.json", rhsa(false)).await;
    assert_eq!(s["advisories"]["inserted"], 1, "{s}");
    assert_eq!(
        s["findings"],
        json!({"opened": 0, "kept": 1, "closed": 0, "suppressed": 1, "unsuppressed": 0})
    );
    for q in [
        mine.clone(),
        String::new(),
        "level=normal".into(),
        "cve=CVE-2021-25220".into(),
        format!("{mine}&include_closed=true"),
    ] {
        assert_eq!(findings(&admin, &q).await, Vec::<Value>::new(), "{q}");
    }
    let all = findings(&admin, &with_suppressed).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let f = &all[0];
    assert_eq!(
        (&f["id"], &f["package"], &f["advisory"], &f["status"]),
        (
            &row,
            &json!("bind-chroot"),
            &json!("OSV-TEST-2021-25220"),
            &json!("vulnerable")
        )
    );
    assert_eq!(reasons(f), BTreeSet::from([REASON]));
    assert_eq!(f["closed_at"], Value::Null);
    assert_eq!(
        reasons(&findings(&admin, "cve=CVE-2021-25220&include_suppressed=true").await[0]),
        BTreeSet::from([REASON])
    );
    let ev = admin.get("/api/v1/audit?action=finding.sync").await;
    let events = ev.json["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["after"].as_str().unwrap().contains(r#""suppressed":1"#)),
        "the suppression is audited: {}",
        ev.text
    );

    // Weeks later Red Hat withdraws the not-affected statements: the same row is open
    // work again, and its deadline clock starts now, not at first registration.
    ts.clock.advance(SignedDuration::from_hours(40 * 24));
    let now = ts.clock.now();
    let s = import(&admin, "rhsa-2025_23414.json", rhsa(true)).await;
    assert_eq!(s["advisories"]["updated"], 1, "{s}");
    assert_eq!(
        s["findings"],
        json!({"opened": 0, "kept": 1, "closed": 0, "suppressed": 0, "unsuppressed": 1})
    );
    let open = findings(&admin, &mine).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (&open[0]["id"], &open[0]["suppressed"]),
        (&row, &Value::Null)
    );
    let first = at(&open[0]["first_seen_at"]);
    assert_eq!(first.as_second(), now.as_second());
    assert_eq!(
        at(&open[0]["deadline_at"]).duration_since(first).as_hours(),
        30 * 24,
        "a normal finding's 30 days, from the end of the suppression"
    );

    // The statement is back: suppressed again, in place.
    let s = import(&admin, "rhsa-2025_23414.json", rhsa(false)).await;
    assert_eq!(
        s["findings"],
        json!({"opened": 0, "kept": 1, "closed": 0, "suppressed": 1, "unsuppressed": 0})
    );
    assert_eq!(findings(&admin, &mine).await, Vec::<Value>::new());
    let all = findings(&admin, &with_suppressed).await;
    assert_eq!(
        (all.len(), &all[0]["id"], reasons(&all[0])),
        (1, &row, BTreeSet::from([REASON]))
    );
}
