//! Job outcomes as the job API shows them: a deployment that failed without automatic
//! rollback and left its host changed (`awaiting_revocation`) is stored as final, with
//! the package set its revocation restores. A report stored before a check the wire
//! type now makes is still shown, as stored.

use super::agents::{checkin, enroll, facts, inventory, open_job, pkg, report, token};
use patchwarden_store::{AuditCtx, NewJobReport};
use patchwarden_testkit::TestServer;
use patchwarden_wire::job::{JobStatus, SignedJob};
use serde_json::json;

#[tokio::test]
async fn a_report_awaiting_revocation_is_stored_final_and_shown_with_its_package_set() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, false, 24).await;
    let a = enroll(&ts, &t, "db-01").await.unwrap();
    let inv = inventory("db-01", vec![pkg("openssl", "3.0.11-1~deb12u1")]);
    let jobs = format!("/api/v1/assets/{}/jobs", a.asset);
    let install = json!({
        "operations": [{"op": "install", "packages": [{"name": "openssl", "version": "3.0.11-1~deb12u2"}]}],
        "rollback_on_failure": false,
    });
    let r = admin.post(&jobs, &install).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let job_id = r.json["id"].as_str().unwrap().to_owned();

    let reply = checkin(&ts, &a, &facts(&inv, true)).await;
    let sent: Vec<SignedJob> = serde_json::from_value(reply.json["jobs"].clone()).unwrap();
    let job = open_job(&ts, &a, &sent[0]);
    assert!(!job.rollback_on_failure);

    // What the agent sends: v2 left in place, v1 recorded as the set to restore.
    let mut left = report(&job_id, JobStatus::AwaitingRevocation);
    left.steps[0].step = "rollback".into();
    left.steps[0].log_excerpt = format!(
        "not rolled back (rollback_on_failure is false): packages were changed; waiting \
         for a Rollback job for deployment {job_id}"
    );
    left.before = Some(vec![pkg("openssl", "3.0.11-1~deb12u1")]);
    let mut c = facts(&inv, false);
    c.reports = vec![left];
    let reply = checkin(&ts, &a, &c).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["acknowledged"], json!([job_id]));
    assert_eq!(reply.json["jobs"], json!([]), "a final status: not re-sent");

    let got = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["status"], "awaiting_revocation");
    assert!(got.json["finished_at"].is_string(), "{}", got.text);
    let shown = &got.json["reports"][0];
    assert_eq!(shown["status"], "awaiting_revocation");
    assert_eq!(shown["before"][0]["name"], "openssl");
    assert_eq!(shown["before"][0]["version"], "3.0.11-1~deb12u1");
    assert_eq!(shown["after"][0]["version"], "3.0.11-1~deb12u2");
    assert!(shown["steps"][0]["log_excerpt"]
        .as_str()
        .unwrap()
        .contains(&job_id));
    // The job was queued without a deployment id: its revocation names the job's id.
    assert_eq!(got.json["job"]["deployment"], json!(null));
    let revoke = json!({"operations": [{"op": "rollback", "deployment": job_id}]});
    let r = admin.post(&jobs, &revoke).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // The API documents the status.
    let doc = ts.anonymous().get("/api/v1/openapi.json").await.json;
    let statuses = &doc["components"]["schemas"]["AgentJob"]["properties"]["status"]["enum"];
    assert!(
        statuses
            .as_array()
            .unwrap()
            .contains(&json!("awaiting_revocation")),
        "{statuses}"
    );
}

#[tokio::test]
async fn a_stored_report_that_no_longer_parses_is_shown_as_stored_not_a_500() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let t = token(&admin, false, 24).await;
    let a = enroll(&ts, &t, "db-01").await.unwrap();
    let jobs = format!("/api/v1/assets/{}/jobs", a.asset);
    let install = json!({
        "operations": [{"op": "install", "packages": [{"name": "openssl", "version": "3.0.11-1~deb12u2"}]}],
    });
    let r = admin.post(&jobs, &install).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let job_id = r.json["id"].as_str().unwrap().to_owned();

    // Stored through the store, as a server before the wire check accepted them: a
    // good running report, then one awaiting revocation without `before` (refused by
    // `JobReport` today).
    let running = report(&job_id, JobStatus::Running);
    let mut old = report(&job_id, JobStatus::AwaitingRevocation);
    old.steps[0].log_excerpt = "left changed, stored before the check".into();
    assert!(old.before.is_none());
    let stored = |status: &str, r| NewJobReport {
        job_id: job_id.clone(),
        status: status.into(),
        report_json: serde_json::to_string(r).unwrap(),
    };
    let reports = [
        stored("running", &running),
        stored("awaiting_revocation", &old),
    ];
    assert!(
        serde_json::from_str::<patchwarden_wire::job::JobReport>(&reports[1].report_json).is_err()
    );
    let ctx = AuditCtx::system("test", jiff::Timestamp::now());
    let rec = ts
        .store()
        .record_job_reports(&ctx, a.id, &reports)
        .await
        .unwrap();
    assert_eq!(rec.stored.len(), 2, "{rec:?}");

    let got = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["status"], "awaiting_revocation");
    let shown = got.json["reports"].as_array().unwrap();
    assert_eq!(shown.len(), 2, "{}", got.text);
    // The report that parses is shown as always, flattened.
    assert_eq!(shown[0]["status"], "running");
    assert!(shown[0].get("raw").is_none(), "{}", shown[0]);
    // The one that no longer parses: as stored, with why.
    let old_shown = &shown[1];
    assert!(old_shown["received_at"].is_string(), "{old_shown}");
    let why = old_shown["unparsed"].as_str().unwrap();
    assert!(why.contains("must carry before"), "{why}");
    assert_eq!(
        old_shown["raw"],
        serde_json::from_str::<serde_json::Value>(&reports[1].report_json).unwrap()
    );
    assert_eq!(old_shown["raw"]["status"], "awaiting_revocation");
    assert_eq!(
        old_shown["raw"]["steps"][0]["log_excerpt"],
        "left changed, stored before the check"
    );
}
