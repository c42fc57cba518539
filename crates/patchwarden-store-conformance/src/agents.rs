//! Agents: enrolment tokens (one-time, reusable, expired, revoked; a one-time token
//! consumed exactly once under concurrent enrolments), agents attached to assets by
//! host name, revocation, the shared server key, and signed jobs with their reports.

use crate::fixtures::{all_events, count_events, ctx, last_event, new_asset, t, t0};
use crate::SharedStore;
use patchwarden_domain::package::PackageFormat;
use patchwarden_store::{
    AgentContact, NewAgent, NewEnrollmentToken, NewJob, NewJobReport, NewServerKey, StoreError,
};

fn token(name: &str, reusable: bool, expires_secs: i64) -> NewEnrollmentToken {
    NewEnrollmentToken {
        name: name.into(),
        prefix: format!("pwe_{name}"),
        token_hash: format!("hash-{name}"),
        reusable,
        expires_at: t(expires_secs),
    }
}

fn agent(host: &str, key: &str) -> NewAgent {
    NewAgent {
        asset: new_asset(host, &[]),
        public_key: key.into(),
        agent_version: "0.1.0".into(),
    }
}

pub(crate) async fn enrolment(s: SharedStore) {
    let once = s
        .create_enrollment_token(&ctx(t(0)), &token("once", false, 3600))
        .await
        .unwrap();
    assert_eq!((once.used_count, once.reusable), (0, false));
    assert!(once.is_usable(t(1)));
    let ev = last_event(&s).await;
    assert_eq!(ev.action, "agent.token.create");
    assert!(!ev.after.unwrap().contains("hash-once"), "no hash audited");
    let many = s
        .create_enrollment_token(&ctx(t(1)), &token("many", true, 3600))
        .await
        .unwrap();
    s.create_enrollment_token(&ctx(t(2)), &token("short", false, 10))
        .await
        .unwrap();
    let dup = s
        .create_enrollment_token(&ctx(t(3)), &token("many", true, 3600))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let listed: Vec<String> = s
        .list_enrollment_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["short", "many", "once"], "newest first");

    // A one-time token enrols one agent, and creates its asset.
    let first = s
        .enroll_agent(&ctx(t(10)), "hash-once", &agent("web-01.example.org", "k1"))
        .await
        .unwrap()
        .unwrap();
    assert!(first.asset_created);
    assert_eq!(first.agent.hostname, "web-01.example.org");
    assert_eq!(
        (first.agent.public_key.as_str(), first.agent.enrolled_at),
        ("k1", t(10))
    );
    assert_eq!(first.agent.enrollment_token_id, once.id);
    assert_eq!(last_event(&s).await.action, "agent.enroll");
    assert_eq!(count_events(&s, "asset.create").await, 1);
    let events = all_events(&s).await.len();
    let again = s
        .enroll_agent(&ctx(t(11)), "hash-once", &agent("web-02.example.org", "k2"))
        .await
        .unwrap();
    assert!(again.is_none(), "a one-time token is used up");
    assert_eq!(all_events(&s).await.len(), events, "nothing written");
    assert!(s
        .find_asset_by_hostname("web-02.example.org")
        .await
        .unwrap()
        .is_none());
    // Expired at expires_at; unknown hashes enrol nothing.
    assert!(s
        .enroll_agent(&ctx(t(10)), "hash-short", &agent("x.example.org", "k"))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .enroll_agent(&ctx(t(12)), "hash-nope", &agent("x.example.org", "k"))
        .await
        .unwrap()
        .is_none());

    // A reusable token enrols several; an existing asset is attached to.
    let existing = s
        .create_asset(&ctx(t(13)), &new_asset("db-01.example.org", &["db"]))
        .await
        .unwrap();
    let a = s
        .enroll_agent(&ctx(t(14)), "hash-many", &agent("db-01.example.org", "k3"))
        .await
        .unwrap()
        .unwrap();
    assert!(!a.asset_created);
    assert_eq!(a.agent.asset_id, existing.id);
    let b = s
        .enroll_agent(&ctx(t(15)), "hash-many", &agent("db-02.example.org", "k4"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.agent.id, b.agent.id);
    let many_now = s.list_enrollment_tokens().await.unwrap();
    let many_now = many_now.iter().find(|t| t.id == many.id).unwrap();
    assert_eq!(
        (many_now.used_count, many_now.last_used_at),
        (2, Some(t(15)))
    );

    // Revoked tokens enrol nothing; revoking twice writes one event.
    let revoked = s
        .revoke_enrollment_token(&ctx(t(20)), many.id)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(t(20)));
    assert_eq!(last_event(&s).await.action, "agent.token.revoke");
    let events = all_events(&s).await.len();
    s.revoke_enrollment_token(&ctx(t(21)), many.id)
        .await
        .unwrap();
    assert_eq!(all_events(&s).await.len(), events);
    assert!(s
        .enroll_agent(&ctx(t(22)), "hash-many", &agent("db-03.example.org", "k5"))
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        s.revoke_enrollment_token(&ctx(t(22)), many.id + 100).await,
        Err(StoreError::NotFound { .. })
    ));

    // Contact, listing, revocation.
    let contact = AgentContact {
        agent_version: "0.2.0".into(),
        kernel_running: Some("6.1.0-18-amd64".into()),
        reboot_required: true,
        restart_needed: vec!["sshd[812]".into(), "nginx[990]".into()],
    };
    s.record_agent_contact(first.agent.id, t(30), &contact)
        .await
        .unwrap();
    let got = s.get_agent(first.agent.id).await.unwrap();
    assert_eq!(got.last_seen_at, Some(t(30)));
    assert_eq!(got.agent_version, "0.2.0");
    assert_eq!(got.kernel_running.as_deref(), Some("6.1.0-18-amd64"));
    assert!(got.reboot_required);
    assert_eq!(got.restart_needed, ["sshd[812]", "nginx[990]"]);
    assert!(matches!(
        s.record_agent_contact(b.agent.id + 100, t(30), &contact)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let ids: Vec<i64> = s
        .list_agents()
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, [first.agent.id, a.agent.id, b.agent.id]);
    let r = s.revoke_agent(&ctx(t(40)), a.agent.id).await.unwrap();
    assert_eq!(r.revoked_at, Some(t(40)));
    assert_eq!(
        (
            last_event(&s).await.action.as_str(),
            last_event(&s).await.target_id
        ),
        ("agent.revoke", Some(a.agent.id.to_string()))
    );
    assert_eq!(
        s.revoke_agent(&ctx(t(41)), a.agent.id)
            .await
            .unwrap()
            .revoked_at,
        Some(t(40))
    );
    assert!(matches!(
        s.get_agent(b.agent.id + 100).await,
        Err(StoreError::NotFound { .. })
    ));
    // Deleting the asset removes its agents.
    s.delete_asset(&ctx(t(50)), existing.id).await.unwrap();
    assert!(matches!(
        s.get_agent(a.agent.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn one_time_token_under_concurrency(s: SharedStore) {
    s.create_enrollment_token(&ctx(t0()), &token("race", false, 3600))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.enroll_agent(
                &ctx(t(1)),
                "hash-race",
                &agent(&format!("race-{i}.example.org"), &format!("k{i}")),
            )
            .await
            .unwrap()
        }));
    }
    let mut enrolled = 0;
    for task in tasks {
        enrolled += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(enrolled, 1, "a one-time token enrols exactly one agent");
    assert_eq!(s.list_agents().await.unwrap().len(), 1);
    assert_eq!(s.count_assets().await.unwrap(), 1);
    assert_eq!(s.list_enrollment_tokens().await.unwrap()[0].used_count, 1);
}

fn job(id: &str, agent: i64, issued: i64, expires: i64) -> NewJob {
    NewJob {
        id: id.into(),
        agent_id: agent,
        job_json: format!("{{\"id\":\"{id}\"}}"),
        signature: format!("sig-{id}"),
        issued_at: t(issued),
        expires_at: t(expires),
    }
}

fn report(id: &str, status: &str) -> NewJobReport {
    NewJobReport {
        job_id: id.into(),
        status: status.into(),
        report_json: format!("{{\"job_id\":\"{id}\",\"status\":\"{status}\"}}"),
    }
}

pub(crate) async fn server_key_and_jobs(s: SharedStore) {
    let key = |secret: &str| NewServerKey {
        name: "job_signing".into(),
        secret: secret.into(),
        public: format!("pub-{secret}"),
    };
    assert_eq!(
        s.server_key(&ctx(t0()), &key("first")).await.unwrap(),
        "first"
    );
    let ev = last_event(&s).await;
    assert_eq!(ev.action, "server_key.create");
    assert!(
        !ev.after.unwrap().contains("\"first\""),
        "the secret is never audited"
    );
    let events = all_events(&s).await.len();
    assert_eq!(
        s.server_key(&ctx(t(1)), &key("second")).await.unwrap(),
        "first",
        "created once, then shared"
    );
    assert_eq!(all_events(&s).await.len(), events);

    s.create_enrollment_token(&ctx(t0()), &token("jobs", true, 3600))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for host in ["a.example.org", "b.example.org"] {
        let e = s
            .enroll_agent(&ctx(t(1)), "hash-jobs", &agent(host, host))
            .await
            .unwrap()
            .unwrap();
        ids.push(e.agent.id);
    }
    let (me, other) = (ids[0], ids[1]);
    // What a check-in reads with the agent: no job yet, no inventory yet.
    let a = s.get_agent(me).await.unwrap();
    assert!(!a.unfinished_jobs);
    assert_eq!(a.asset_inventory_hash, None);
    let inv = [crate::fixtures::pkg("bash", "amd64", "5.2.15-2+b2")];
    let stored = s
        .replace_inventory(&ctx(t(2)), a.asset_id, PackageFormat::Deb, &inv)
        .await
        .unwrap();
    let a = s.get_agent(me).await.unwrap();
    assert_eq!(a.asset_inventory_hash, Some(stored.hash));
    let j1 = s
        .create_job(&ctx(t(10)), &job("j1", me, 10, 1000))
        .await
        .unwrap();
    assert_eq!(
        (j1.status.clone(), j1.delivered_at, j1.finished_at),
        (None, None, None)
    );
    assert_eq!(j1.signature, "sig-j1");
    assert_eq!(last_event(&s).await.action, "job.create");
    assert!(s.get_agent(me).await.unwrap().unfinished_jobs);
    assert!(!s.get_agent(other).await.unwrap().unfinished_jobs);
    s.create_job(&ctx(t(11)), &job("j2", me, 11, 100))
        .await
        .unwrap();
    s.create_job(&ctx(t(12)), &job("j3", other, 12, 1000))
        .await
        .unwrap();
    assert!(matches!(
        s.create_job(&ctx(t(13)), &job("j1", me, 13, 1000)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.create_job(&ctx(t(13)), &job("j9", other + 100, 13, 1000))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    let names =
        |v: Vec<patchwarden_store::StoredJob>| v.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        names(s.deliver_jobs(me, t(20)).await.unwrap()),
        ["j1", "j2"]
    );
    assert_eq!(s.get_job("j1").await.unwrap().delivered_at, Some(t(20)));
    // Still pending until reported; the first delivery time stays.
    assert_eq!(
        names(s.deliver_jobs(me, t(30)).await.unwrap()),
        ["j1", "j2"]
    );
    assert_eq!(s.get_job("j1").await.unwrap().delivered_at, Some(t(20)));
    // Expired at expires_at: not sent.
    assert_eq!(names(s.deliver_jobs(me, t(100)).await.unwrap()), ["j1"]);

    // Reports: running is not final; the first final one finishes the job; another
    // agent's or an unknown job's reports are not stored.
    let rec = s
        .record_job_reports(
            &ctx(t(40)),
            me,
            &[
                report("j1", "running"),
                report("j3", "succeeded"),
                report("zz", "failed"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rec.stored, ["j1"]);
    assert_eq!(rec.unknown, ["j3", "zz"]);
    let j = s.get_job("j1").await.unwrap();
    assert_eq!(
        (j.status.as_deref(), j.finished_at),
        (Some("running"), None)
    );
    assert_eq!(last_event(&s).await.action, "job.report");
    s.record_job_reports(&ctx(t(50)), me, &[report("j1", "succeeded")])
        .await
        .unwrap();
    s.record_job_reports(&ctx(t(60)), me, &[report("j1", "rejected")])
        .await
        .unwrap();
    let j = s.get_job("j1").await.unwrap();
    assert_eq!(
        (j.status.as_deref(), j.finished_at),
        (Some("succeeded"), Some(t(50)))
    );
    let reports = s.list_job_reports("j1").await.unwrap();
    let statuses: Vec<&str> = reports.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["running", "succeeded", "rejected"]);
    assert_eq!(reports[1].received_at, t(50));
    assert!(reports[1].report_json.contains("succeeded"));
    assert!(
        s.deliver_jobs(me, t(100)).await.unwrap().is_empty(),
        "finished: not re-sent"
    );
    assert_eq!(names(s.deliver_jobs(other, t(70)).await.unwrap()), ["j3"]);
    assert!(matches!(
        s.get_job("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.list_job_reports("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    let empty = s.record_job_reports(&ctx(t(80)), me, &[]).await.unwrap();
    assert!(empty.stored.is_empty() && empty.unknown.is_empty());
}

/// `get_agent` is what authenticates a check-in; a store may answer it from memory
/// (SQLite does), so every write that changes what it shows must be seen by the next
/// read: the agent's contact, its asset's inventory and host name, its jobs, its
/// revocation and its asset's deletion.
pub(crate) async fn get_agent_sees_every_change(s: SharedStore) {
    use patchwarden_domain::asset::Hostname;
    use patchwarden_store::AssetPatch;
    s.create_enrollment_token(&ctx(t0()), &token("seen", true, 3600))
        .await
        .unwrap();
    let enrol = |host: &'static str| {
        let s = s.clone();
        async move {
            s.enroll_agent(&ctx(t(1)), "hash-seen", &agent(host, host))
                .await
                .unwrap()
                .unwrap()
                .agent
        }
    };
    let me = enrol("seen-1.example.org").await;
    let other = enrol("seen-2.example.org").await;
    // Read twice: a second read may come from memory.
    for _ in 0..2 {
        assert_eq!(s.get_agent(me.id).await.unwrap().last_seen_at, None);
        assert_eq!(s.get_agent(other.id).await.unwrap().last_seen_at, None);
    }
    let contact = AgentContact {
        agent_version: "0.2.0".into(),
        kernel_running: Some("6.1.0-18-amd64".into()),
        reboot_required: true,
        restart_needed: vec!["sshd[812]".into()],
    };
    s.record_agent_contact(me.id, t(5), &contact).await.unwrap();
    let a = s.get_agent(me.id).await.unwrap();
    assert_eq!(
        (a.last_seen_at, a.agent_version.as_str(), a.reboot_required),
        (Some(t(5)), "0.2.0", true)
    );
    assert_eq!(a.restart_needed, contact.restart_needed);
    assert_eq!(s.get_agent(other.id).await.unwrap().last_seen_at, None);
    // Contacts recorded at once for several agents (SQLite writes them together), one
    // of them unknown: that one alone fails.
    let later = AgentContact {
        agent_version: "0.3.0".into(),
        ..contact.clone()
    };
    let (a, b, unknown) = tokio::join!(
        s.record_agent_contact(me.id, t(6), &later),
        s.record_agent_contact(other.id, t(6), &later),
        s.record_agent_contact(other.id + 1000, t(6), &later),
    );
    a.unwrap();
    b.unwrap();
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
    for id in [me.id, other.id] {
        let seen = s.get_agent(id).await.unwrap();
        assert_eq!(
            (seen.last_seen_at, seen.agent_version.as_str()),
            (Some(t(6)), "0.3.0")
        );
    }

    let inv = [crate::fixtures::pkg("bash", "amd64", "5.2.15-2+b2")];
    let stored = s
        .replace_inventory(&ctx(t(6)), me.asset_id, PackageFormat::Deb, &inv)
        .await
        .unwrap();
    assert_eq!(
        s.get_agent(me.id).await.unwrap().asset_inventory_hash,
        Some(stored.hash)
    );
    assert_eq!(
        s.get_agent(other.id).await.unwrap().asset_inventory_hash,
        None
    );

    s.create_job(&ctx(t(7)), &job("seen-j1", me.id, 7, 1000))
        .await
        .unwrap();
    assert!(s.get_agent(me.id).await.unwrap().unfinished_jobs);
    assert!(!s.get_agent(other.id).await.unwrap().unfinished_jobs);
    assert_eq!(s.deliver_jobs(me.id, t(8)).await.unwrap().len(), 1);
    assert!(
        s.get_agent(me.id).await.unwrap().unfinished_jobs,
        "delivered, not done"
    );
    let rec = s
        .record_job_reports(&ctx(t(9)), me.id, &[report("seen-j1", "succeeded")])
        .await
        .unwrap();
    assert_eq!(rec.stored, ["seen-j1"]);
    assert!(!s.get_agent(me.id).await.unwrap().unfinished_jobs);

    let renamed = Hostname::parse("seen-1b.example.org").unwrap();
    s.update_asset(
        &ctx(t(10)),
        me.asset_id,
        &AssetPatch {
            hostname: Some(renamed),
            ..AssetPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_agent(me.id).await.unwrap().hostname,
        "seen-1b.example.org"
    );

    s.revoke_agent(&ctx(t(11)), me.id).await.unwrap();
    assert_eq!(s.get_agent(me.id).await.unwrap().revoked_at, Some(t(11)));
    assert_eq!(s.get_agent(other.id).await.unwrap().revoked_at, None);

    s.delete_asset(&ctx(t(12)), other.asset_id).await.unwrap();
    let gone = s.get_agent(other.id).await;
    assert!(matches!(gone, Err(StoreError::NotFound { .. })), "{gone:?}");
}

/// `record_agent_report`: a check-in's contact and its inventory, answered when both
/// are stored (SQLite writes them in one commit); without a contact, only the report.
pub(crate) async fn report_with_contact(s: SharedStore) {
    use crate::fixtures::pkg;
    use patchwarden_domain::package::CheckedInventory;
    s.create_enrollment_token(&ctx(t0()), &token("rep", true, 3600))
        .await
        .unwrap();
    let me = s
        .enroll_agent(&ctx(t(1)), "hash-rep", &agent("rep-1.example.org", "k1"))
        .await
        .unwrap()
        .unwrap()
        .agent;
    // Read once, so that a backend that caches agents has this one in memory.
    assert_eq!(s.get_agent(me.id).await.unwrap().last_seen_at, None);
    let asset = s.get_asset(me.asset_id).await.unwrap();
    let contact = AgentContact {
        agent_version: "0.4.0".into(),
        kernel_running: Some("6.1.0-20-amd64".into()),
        reboot_required: false,
        restart_needed: Vec::new(),
    };
    let v1 = vec![pkg("a", "amd64", "1"), pkg("b", "amd64", "2")];
    let checked = CheckedInventory::new(PackageFormat::Deb, &v1).unwrap();
    let change = s
        .record_agent_report(&ctx(t(5)), Some((me.id, t(5), &contact)), &asset, &checked)
        .await
        .unwrap();
    assert_eq!((change.added, change.hash.as_str()), (2, checked.hash()));
    let got = s.get_agent(me.id).await.unwrap();
    assert_eq!(
        (got.last_seen_at, got.agent_version.as_str()),
        (Some(t(5)), "0.4.0")
    );
    assert_eq!(
        got.asset_inventory_hash.as_deref(),
        Some(checked.hash()),
        "the agent shows the inventory it reported"
    );
    assert_eq!(s.get_inventory(me.asset_id).await.unwrap().len(), 2);
    assert_eq!(last_event(&s).await.action, "asset.inventory");

    // No contact due: only the report is written; the contact stays as it was.
    let asset = s.get_asset(me.asset_id).await.unwrap();
    let v2 = vec![pkg("a", "amd64", "1"), pkg("b", "amd64", "3")];
    let checked = CheckedInventory::new(PackageFormat::Deb, &v2).unwrap();
    let change = s
        .record_agent_report(&ctx(t(9)), None, &asset, &checked)
        .await
        .unwrap();
    assert_eq!((change.changed, change.unchanged), (1, 1));
    let got = s.get_agent(me.id).await.unwrap();
    assert_eq!(got.last_seen_at, Some(t(5)));
    assert_eq!(got.asset_inventory_hash.as_deref(), Some(checked.hash()));

    // A contact for an unknown agent fails the call.
    let v3 = vec![pkg("a", "amd64", "2"), pkg("b", "amd64", "3")];
    let checked = CheckedInventory::new(PackageFormat::Deb, &v3).unwrap();
    let asset = s.get_asset(me.asset_id).await.unwrap();
    assert!(matches!(
        s.record_agent_report(
            &ctx(t(12)),
            Some((me.id + 1000, t(12), &contact)),
            &asset,
            &checked
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
}
