//! One group written by `write_batch`, as the writer task writes it: a request that
//! fails leaves the others of its group committed, on the group path and on the
//! per-write path the group falls back to.

use super::*;
use crate::SqliteStore;
use patchwarden_domain::asset::{AssetKind, Criticality, Environment, Hostname, OsFamily, OsInfo};
use patchwarden_domain::finding::Finding;
use patchwarden_domain::level::Level;
use patchwarden_domain::package::{CheckedInventory, InstalledPackage, PackageFormat};
use patchwarden_store::{
    FindingFilter, FindingsChange, NewAgent, NewAsset, NewEnrollmentToken, NewFinding, Store,
};

fn at(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn ctx(s: i64) -> AuditCtx {
    AuditCtx::system("test", at(s))
}

fn new_asset(host: &str) -> NewAsset {
    NewAsset {
        hostname: Hostname::parse(host).unwrap(),
        kind: AssetKind::Server,
        os: OsInfo {
            family: OsFamily::Linux,
            distribution: "debian".into(),
            release: "12".into(),
            arch: "amd64".into(),
        },
        environment: Environment::Production,
        criticality: Criticality::Standard,
        owner: None,
        groups: Vec::new(),
        protected_data: false,
    }
}

/// `n` packages; `tag` makes the versions (and so the set) distinct.
fn packages(n: usize, tag: &str) -> Vec<InstalledPackage> {
    (0..n)
        .map(|i| InstalledPackage {
            name: format!("lib{i:03}"),
            version: format!("1.{i}-{tag}"),
            arch: "amd64".into(),
            source_name: None,
            source_version: None,
        })
        .collect()
}

struct Group {
    store: SqliteStore,
    requests: Vec<Request>,
    inventory: Vec<oneshot::Receiver<Result<InventoryChange>>>,
    contacts: Vec<oneshot::Receiver<Result<()>>>,
}

impl Group {
    async fn new() -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("pw.db").to_str().unwrap())
            .await
            .unwrap();
        let group = Self {
            store,
            requests: Vec::new(),
            inventory: Vec::new(),
            contacts: Vec::new(),
        };
        (group, dir)
    }

    async fn asset(&self, host: &str) -> AssetId {
        let ctx = ctx(0);
        self.store
            .create_asset(&ctx, &new_asset(host))
            .await
            .unwrap()
            .id
    }

    /// Queues a report of `packages` for `id`, prepared as `replace_checked_inventory`
    /// prepares it (against the asset's inventory now).
    async fn report(&mut self, id: AssetId, packages: &[InstalledPackage]) {
        self.report_at(10, id, packages).await;
    }

    async fn report_at(&mut self, s: i64, id: AssetId, packages: &[InstalledPackage]) {
        let checked = CheckedInventory::new(PackageFormat::Deb, packages).unwrap();
        let mut reader = self.store.reader().await.unwrap();
        let (prepared, read) = inventory::prepare(&mut reader, &self.store.packages, id, &checked)
            .await
            .unwrap();
        self.store.packages.remember(read);
        let (reply, answer) = oneshot::channel();
        self.requests.push(Request::Inventory {
            ctx: ctx(s),
            id,
            prepared,
            reply,
        });
        self.inventory.push(answer);
    }

    /// Queues a findings sync of `id` wanting one finding per advisory of `advisories`.
    fn findings(
        &mut self,
        id: AssetId,
        advisories: &[&str],
    ) -> oneshot::Receiver<Result<FindingsChange>> {
        let levels: Vec<(&str, Level)> = advisories.iter().map(|a| (*a, Level::High)).collect();
        self.findings_as(ctx(15), id, &levels)
    }

    /// [`Group::findings`] as of `ctx`, each advisory at its level.
    fn findings_as(
        &mut self,
        ctx: AuditCtx,
        id: AssetId,
        advisories: &[(&str, Level)],
    ) -> oneshot::Receiver<Result<FindingsChange>> {
        let wanted: Vec<NewFinding> = advisories
            .iter()
            .map(|(a, level)| NewFinding {
                finding: Arc::new(Finding {
                    package: "openssl".into(),
                    arch: "x86_64".into(),
                    installed: "1.0-1.el9".into(),
                    fixed: Some("1.0-2.el9".into()),
                    status: patchwarden_domain::finding::FindingStatus::Vulnerable,
                    advisory: (*a).into(),
                    source: "osv".into(),
                    cves: vec!["CVE-2024-1".into()],
                    distro: "almalinux:9".into(),
                    evidence: format!("installed 1.0-1.el9 < fixed 1.0-2.el9 per {a}"),
                    suppressed: None,
                }),
                level: *level,
                allowed: level.default_deadline(),
            })
            .collect();
        let content = wanted.iter().map(|nf| Arc::clone(&nf.finding)).collect();
        let (reply, answer) = oneshot::channel();
        self.requests.push(Request::Findings {
            ctx,
            sync: FindingsSync {
                asset: id,
                wanted,
                content,
                cached: None,
            },
            reply,
        });
        answer
    }

    fn contact(&mut self, agent: i64, version: &str) {
        let (reply, answer) = oneshot::channel();
        self.requests.push(Request::Contact {
            agent,
            at: at(20),
            contact: AgentContact {
                agent_version: version.into(),
                kernel_running: Some("6.1.0-18-amd64".into()),
                reboot_required: true,
                restart_needed: vec!["sshd[812]".into()],
            },
            reply,
        });
        self.contacts.push(answer);
    }

    /// Writes the queued requests as one group; each one's answer.
    async fn write(&mut self) -> (Vec<Result<InventoryChange>>, Vec<Result<()>>) {
        let requests = std::mem::take(&mut self.requests);
        let s = &self.store;
        let caches = Caches {
            interner: &s.packages,
            details: &s.details,
        };
        write_batch(&s.write, caches, &s.agents, requests).await;
        let mut inventory = Vec::new();
        for a in std::mem::take(&mut self.inventory) {
            inventory.push(a.await.unwrap());
        }
        let mut contacts = Vec::new();
        for a in std::mem::take(&mut self.contacts) {
            contacts.push(a.await.unwrap());
        }
        (inventory, contacts)
    }

    /// From now on the writer connection refuses any set of 7 packages: a group with
    /// such a report fails, and is written again one report at a time.
    async fn refuse_sets_of_seven(&self) {
        sqlx::query(
            "CREATE TEMP TRIGGER refuse_seven BEFORE INSERT ON inventory_sets \
             WHEN NEW.package_count = 7 BEGIN SELECT RAISE(ABORT, 'seven refused'); END",
        )
        .execute(&self.store.write)
        .await
        .unwrap();
    }

    /// Rows of `finding_details`.
    async fn details(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM finding_details")
            .fetch_one(&self.store.write)
            .await
            .unwrap();
        n
    }

    async fn hash_of(&self, id: AssetId) -> Option<String> {
        self.store.get_asset(id).await.unwrap().inventory_hash
    }

    /// Every event of the chain (at most 1,000).
    async fn all_events(&self) -> Vec<patchwarden_domain::audit::AuditEvent> {
        self.store
            .list_audit(&patchwarden_store::AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Events of the chain with `action`, after checking the chain links up.
    async fn events(&self, action: &str) -> usize {
        let all = self.all_events().await;
        let mut verifier = patchwarden_domain::audit::ChainVerifier::default();
        for ev in &all {
            verifier.push(ev).unwrap();
        }
        let head = self.store.audit_head().await.unwrap();
        verifier
            .finish(head.as_ref().map(|(s, h)| (*s, h.as_str())))
            .unwrap();
        all.iter().filter(|e| e.action == action).count()
    }

    async fn enrolled_agent(&self, host: &str) -> i64 {
        let ctx = ctx(0);
        let token = NewEnrollmentToken {
            name: "t".into(),
            prefix: "pwe_tt".into(),
            token_hash: format!("{host}-token"),
            reusable: false,
            expires_at: at(3600),
        };
        self.store
            .create_enrollment_token(&ctx, &token)
            .await
            .unwrap();
        let new = NewAgent {
            asset: new_asset(host),
            public_key: "k".into(),
            agent_version: "0.9".into(),
        };
        let enrolled = self
            .store
            .enroll_agent(&ctx, &token.token_hash, &new)
            .await
            .unwrap()
            .unwrap();
        enrolled.agent.id
    }
}

#[tokio::test]
async fn a_report_whose_asset_is_gone_fails_alone_in_its_group() {
    let (mut g, _dir) = Group::new().await;
    let (a, b, c) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
        g.asset("c.example.org").await,
    );
    let agent = g.enrolled_agent("d.example.org").await;
    let shared = packages(40, "1");
    g.report(a, &shared).await;
    g.report(b, &packages(40, "2")).await;
    g.report(c, &shared).await;
    g.contact(agent, "1.0");
    g.contact(agent + 100, "1.0");
    g.store.delete_asset(&ctx(5), b).await.unwrap();
    let (reports, contacts) = g.write().await;
    assert!(reports[0].is_ok() && reports[2].is_ok(), "{reports:?}");
    assert!(matches!(
        reports[1],
        Err(StoreError::NotFound { entity: "asset" })
    ));
    assert!(contacts[0].is_ok());
    assert!(matches!(
        contacts[1],
        Err(StoreError::NotFound { entity: "agent" })
    ));
    let want = patchwarden_domain::package::inventory_hash(PackageFormat::Deb, &shared);
    assert_eq!(g.hash_of(a).await.as_deref(), Some(want.as_str()));
    assert_eq!(g.hash_of(c).await.as_deref(), Some(want.as_str()));
    let mut expected = shared.clone();
    patchwarden_store::inventory_sets::sort_inventory(&mut expected);
    assert_eq!(g.store.get_inventory(c).await.unwrap(), expected);
    assert_eq!(g.events("asset.inventory").await, 2);
    let seen = g.store.get_agent(agent).await.unwrap();
    assert_eq!(
        (
            seen.agent_version.as_str(),
            seen.last_seen_at,
            seen.reboot_required
        ),
        ("1.0", Some(at(20)), true)
    );
    assert_eq!(seen.restart_needed, ["sshd[812]"]);
}

#[tokio::test]
async fn a_report_whose_statement_fails_leaves_the_rest_of_its_group_committed() {
    let (mut g, _dir) = Group::new().await;
    let ids = [
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
        g.asset("c.example.org").await,
    ];
    let agent = g.enrolled_agent("d.example.org").await;
    // The writer connection refuses any set of 7 packages: the group's statement
    // fails, and the group is written again one report at a time.
    g.refuse_sets_of_seven().await;
    g.report(ids[0], &packages(5, "a")).await;
    g.report(ids[1], &packages(7, "b")).await;
    g.contact(agent, "2.0");
    g.report(ids[2], &packages(9, "c")).await;
    let (reports, contacts) = g.write().await;
    assert!(reports[0].is_ok() && reports[2].is_ok(), "{reports:?}");
    let failed = reports[1].as_ref().unwrap_err().to_string();
    assert!(failed.contains("seven refused"), "{failed}");
    assert!(contacts[0].is_ok());
    assert!(g.hash_of(ids[0]).await.is_some());
    assert_eq!(
        g.hash_of(ids[1]).await,
        None,
        "the failed report left nothing"
    );
    assert_eq!(g.store.get_inventory(ids[2]).await.unwrap().len(), 9);
    assert_eq!(g.events("asset.inventory").await, 2);
    assert_eq!(g.store.get_agent(agent).await.unwrap().agent_version, "2.0");
    // The packages of the failed report were not cached: they were rolled back.
    let refused = packages(7, "b");
    let checked = CheckedInventory::new(PackageFormat::Deb, &refused).unwrap();
    let (known, missing) = g.store.packages.ids_of(&checked);
    assert_eq!((known.len(), missing.len()), (0, 7));
}

#[tokio::test]
async fn two_reports_of_one_asset_in_a_group_count_against_each_other() {
    let (mut g, _dir) = Group::new().await;
    let id = g.asset("a.example.org").await;
    let first = packages(10, "1");
    let mut second = first.clone();
    second[3].version = "9".into();
    second.pop();
    // Both prepared against the empty inventory; the second is written after the first.
    g.report(id, &first).await;
    g.report(id, &second).await;
    let (reports, _) = g.write().await;
    let (a, b) = (reports[0].as_ref().unwrap(), reports[1].as_ref().unwrap());
    assert_eq!((a.added, a.removed, a.changed, a.unchanged), (10, 0, 0, 0));
    assert_eq!((b.added, b.removed, b.changed, b.unchanged), (0, 1, 1, 8));
    assert_eq!(g.store.get_inventory(id).await.unwrap().len(), 9);
    assert_eq!(g.events("asset.inventory").await, 2);
}

#[tokio::test]
async fn a_report_of_the_inventory_the_asset_has_changes_nothing_but_last_seen() {
    let (mut g, _dir) = Group::new().await;
    let (a, b) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
    );
    let inv = packages(12, "1");
    g.report(a, &inv).await;
    g.write().await;
    g.report_at(30, a, &inv).await;
    g.report_at(30, b, &inv).await;
    let (reports, _) = g.write().await;
    let (same, other) = (reports[0].as_ref().unwrap(), reports[1].as_ref().unwrap());
    assert!(same.is_unchanged(), "{same:?}");
    assert_eq!(other.added, 12);
    assert_eq!(
        g.store.get_asset(a).await.unwrap().last_seen_at,
        Some(at(30))
    );
    assert_eq!(g.events("asset.inventory").await, 2);
}

/// Every stored tuple, and how many distinct ones they are.
async fn tuples(store: &SqliteStore) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT name, arch, version, \
         source_name, source_version FROM packages)) FROM packages",
    )
    .fetch_one(&store.write)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_tuple_two_reports_of_a_group_bring_is_stored_once() {
    let (mut g, _dir) = Group::new().await;
    let (a, b) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
    );
    // Both prepared before either is written: to each, all 12 tuples are new.
    let mut more = packages(12, "1");
    more.extend(packages(15, "2").split_off(12));
    g.report(a, &packages(12, "1")).await;
    g.report(b, &more).await;
    let (reports, _) = g.write().await;
    assert!(reports.iter().all(Result::is_ok), "{reports:?}");
    assert_eq!(tuples(&g.store).await, (15, 15));
    assert_eq!(g.store.get_inventory(b).await.unwrap(), more);
    assert_eq!(g.store.packages.through(), 15);
}

#[tokio::test]
async fn a_tuple_of_a_rolled_back_report_is_stored_by_the_next_that_brings_it() {
    let (mut g, _dir) = Group::new().await;
    let (a, b) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
    );
    g.refuse_sets_of_seven().await;
    // The group fails, and the per-report path rolls the first report back, tuples
    // and all; the second brings the same 7 tuples and 2 more.
    g.report(a, &packages(7, "x")).await;
    g.report(b, &packages(9, "x")).await;
    let (reports, _) = g.write().await;
    assert!(reports[0].is_err() && reports[1].is_ok(), "{reports:?}");
    assert_eq!(tuples(&g.store).await, (9, 9));
    assert_eq!(g.store.get_inventory(b).await.unwrap(), packages(9, "x"));
    let nine = packages(9, "x");
    let checked = CheckedInventory::new(PackageFormat::Deb, &nine).unwrap();
    let (known, missing) = g.store.packages.ids_of(&checked);
    assert_eq!((known.len(), missing.len()), (9, 0));
}

#[tokio::test]
async fn two_stores_on_one_file_store_a_tuple_once() {
    // Two processes (the server and a CLI command, say) each with their own
    // dictionary: each reads the rows the other added before deciding.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw.db");
    let one = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let two = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let mut ids = Vec::new();
    for host in ["a.example.org", "b.example.org", "c.example.org"] {
        ids.push(
            one.create_asset(&ctx(0), &new_asset(host))
                .await
                .unwrap()
                .id,
        );
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let first = packages(10, "1");
    let mut second = first.clone();
    second.extend(packages(14, "2").split_off(10));
    one.replace_inventory(&ctx(1), a, PackageFormat::Deb, &first)
        .await
        .unwrap();
    // `two` knows none of them yet.
    assert!(two.packages.is_empty());
    two.replace_inventory(&ctx(2), b, PackageFormat::Deb, &second)
        .await
        .unwrap();
    assert_eq!(tuples(&one).await, (14, 14));
    // And back: `one` has not seen the 4 `two` added.
    let mut third = second.clone();
    third.push(InstalledPackage {
        name: "zz".into(),
        version: "1".into(),
        arch: "amd64".into(),
        source_name: None,
        source_version: None,
    });
    one.replace_inventory(&ctx(3), c, PackageFormat::Deb, &third)
        .await
        .unwrap();
    assert_eq!(tuples(&one).await, (15, 15));
    for (id, want) in [(a, &first), (b, &second), (c, &third)] {
        assert_eq!(&one.get_inventory(id).await.unwrap(), want);
        assert_eq!(&two.get_inventory(id).await.unwrap(), want);
    }
    one.close().await;
    two.close().await;
}

#[tokio::test]
async fn findings_syncs_share_the_group_and_a_failing_one_fails_alone() {
    let (mut g, _dir) = Group::new().await;
    let (a, b) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
    );
    let gone = g.asset("c.example.org").await;
    g.store.delete_asset(&ctx(1), gone).await.unwrap();
    g.report(a, &packages(5, "a")).await;
    let on_a = g.findings(a, &["ALSA-1", "ALSA-2"]);
    let on_gone = g.findings(gone, &["ALSA-1"]);
    let on_b = g.findings(b, &["ALSA-2"]);
    let (reports, _) = g.write().await;
    assert!(reports[0].is_ok(), "{reports:?}");
    assert_eq!(on_a.await.unwrap().unwrap().opened, 2);
    assert!(matches!(
        on_gone.await.unwrap(),
        Err(StoreError::NotFound { entity: "asset" })
    ));
    assert_eq!(on_b.await.unwrap().unwrap().opened, 1);
    let listed = |asset| FindingFilter {
        asset: Some(asset),
        ..FindingFilter::default()
    };
    assert_eq!(g.store.list_findings(&listed(a)).await.unwrap().len(), 2);
    assert_eq!(g.store.list_findings(&listed(b)).await.unwrap().len(), 1);
    assert_eq!(g.events("finding.sync").await, 2);
    // Three syncs brought two contents, each stored once.
    assert_eq!(g.details().await, 2);
    // The details written are cached: the same finding again is a cached batch.
    let again = g.findings(b, &["ALSA-2"]);
    g.write().await;
    let change = again.await.unwrap().unwrap();
    assert_eq!((change.opened, change.kept), (0, 1));
    assert_eq!(g.details().await, 2);
    // On the per-report path (the group's statement fails) they are written as well.
    g.refuse_sets_of_seven().await;
    g.report(b, &packages(7, "b")).await;
    let on_a = g.findings(a, &["ALSA-3"]);
    let (reports, _) = g.write().await;
    assert!(reports[0].is_err());
    let change = on_a.await.unwrap().unwrap();
    assert_eq!((change.opened, change.closed), (1, 2));
    assert_eq!(g.details().await, 3);
}

/// The syncs of a group that all succeed are written together (one savepoint): each
/// caller still gets its own asset's counts, and a failing sync first in the group
/// leaves the others written.
#[tokio::test]
async fn findings_syncs_of_a_group_each_get_their_own_answer() {
    let (mut g, _dir) = Group::new().await;
    let (a, b, c) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
        g.asset("c.example.org").await,
    );
    let on_a = g.findings(a, &["ALSA-1", "ALSA-2", "ALSA-3"]);
    let on_b = g.findings(b, &["ALSA-2"]);
    let on_c = g.findings(c, &[]);
    g.write().await;
    assert_eq!(on_a.await.unwrap().unwrap().opened, 3);
    assert_eq!(on_b.await.unwrap().unwrap().opened, 1);
    assert_eq!(on_c.await.unwrap().unwrap(), FindingsChange::default());
    // Next group: a keeps one and closes two, b opens one more; a deleted asset's sync
    // comes first and fails alone.
    let gone = g.asset("d.example.org").await;
    g.store.delete_asset(&ctx(1), gone).await.unwrap();
    let on_gone = g.findings(gone, &["ALSA-1"]);
    let on_a = g.findings(a, &["ALSA-1"]);
    let on_b = g.findings(b, &["ALSA-2", "ALSA-3"]);
    g.write().await;
    assert!(matches!(
        on_gone.await.unwrap(),
        Err(StoreError::NotFound { entity: "asset" })
    ));
    let change = on_a.await.unwrap().unwrap();
    assert_eq!((change.opened, change.kept, change.closed), (0, 1, 2));
    let change = on_b.await.unwrap().unwrap();
    assert_eq!((change.opened, change.kept, change.closed), (1, 1, 0));
    assert_eq!(g.events("finding.sync").await, 4);
}

/// Findings syncs of distinct assets are written as one batch: each asset's findings
/// are still dated by its own request (opened, closed, their deadlines) and audited
/// under its own actor and instant; an advisory given two levels in one group takes
/// the last, as when the syncs are written one after another.
#[tokio::test]
async fn findings_syncs_written_as_one_batch_keep_each_requests_instant_and_actor() {
    let (mut g, _dir) = Group::new().await;
    let (a, b, c) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
        g.asset("c.example.org").await,
    );
    let as_of = |who: &str, s: i64| AuditCtx::system(who, at(s));
    let on_a = g.findings_as(
        as_of("agent-a", 100),
        a,
        &[("ALSA-1", Level::High), ("ALSA-2", Level::High)],
    );
    let on_b = g.findings_as(as_of("agent-b", 200), b, &[("ALSA-2", Level::High)]);
    // c's sync gives ALSA-2 another level: being last, it holds for every asset.
    let on_c = g.findings_as(as_of("agent-c", 300), c, &[("ALSA-2", Level::Critical)]);
    g.write().await;
    for (on, opened) in [(on_a, 2), (on_b, 1), (on_c, 1)] {
        assert_eq!(on.await.unwrap().unwrap().opened, opened);
    }
    let of = |asset| FindingFilter {
        asset: Some(asset),
        include_closed: true,
        limit: 100,
        ..FindingFilter::default()
    };
    let first_seen = |list: &[patchwarden_store::StoredFinding]| {
        list.iter().map(|f| f.first_seen_at).collect::<Vec<_>>()
    };
    let on_a = g.store.list_findings(&of(a)).await.unwrap();
    assert_eq!(first_seen(&on_a), vec![at(100), at(100)]);
    let on_b = g.store.list_findings(&of(b)).await.unwrap();
    assert_eq!(first_seen(&on_b), vec![at(200)]);
    assert_eq!(on_b[0].level, Level::Critical);
    assert_eq!(
        on_b[0].deadline_at,
        at(200) + Level::Critical.default_deadline()
    );
    let synced = |events: &[patchwarden_domain::audit::AuditEvent]| {
        events
            .iter()
            .filter(|e| e.action == "finding.sync")
            .map(|e| (e.actor.name.clone(), e.at))
            .collect::<Vec<_>>()
    };
    let mut events = synced(&g.all_events().await);
    events.sort();
    assert_eq!(
        events,
        vec![
            ("agent-a".to_owned(), at(100)),
            ("agent-b".to_owned(), at(200)),
            ("agent-c".to_owned(), at(300)),
        ]
    );
    assert_eq!(g.events("finding.sync").await, 3, "the chain links up");
    // Next group: a closes ALSA-2 as of its request, b keeps its finding.
    let on_a = g.findings_as(as_of("agent-a", 400), a, &[("ALSA-1", Level::High)]);
    let on_b = g.findings_as(as_of("agent-b", 500), b, &[("ALSA-2", Level::Critical)]);
    g.write().await;
    let change = on_a.await.unwrap().unwrap();
    assert_eq!((change.kept, change.closed), (1, 1));
    let change = on_b.await.unwrap().unwrap();
    assert_eq!((change.opened, change.kept), (0, 1));
    let closed: Vec<_> = g
        .store
        .list_findings(&of(a))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|f| f.closed_at)
        .collect();
    assert_eq!(closed, vec![at(400)]);
}

/// Two syncs of one asset in a group are not merged: the second counts against what
/// the first wrote, as when written one after another.
#[tokio::test]
async fn two_findings_syncs_of_one_asset_in_a_group_count_against_each_other() {
    let (mut g, _dir) = Group::new().await;
    let (a, b) = (
        g.asset("a.example.org").await,
        g.asset("b.example.org").await,
    );
    let first = g.findings(a, &["ALSA-1", "ALSA-2"]);
    let other = g.findings(b, &["ALSA-1"]);
    let second = g.findings(a, &["ALSA-2", "ALSA-3"]);
    g.write().await;
    assert_eq!(first.await.unwrap().unwrap().opened, 2);
    assert_eq!(other.await.unwrap().unwrap().opened, 1);
    let change = second.await.unwrap().unwrap();
    assert_eq!((change.opened, change.kept, change.closed), (1, 1, 1));
    assert_eq!(g.events("finding.sync").await, 3);
}

#[tokio::test]
async fn a_first_catch_up_reads_a_large_table_in_chunks() {
    let (mut g, _dir) = Group::new().await;
    let a = g.asset("a.example.org").await;
    // Rows another process stored: more than one chunk of a catch-up.
    let n = crate::inventory::CATCH_UP_CHUNK + 5;
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1) \
         INSERT INTO packages (id, name, arch, version, source_name, source_version) \
         SELECT i, printf('lib%03d', i % 1000), 'amd64', printf('1.%d-t', i), '', '' FROM k",
    )
    .bind(n)
    .execute(&g.store.write)
    .await
    .unwrap();
    // lib003 1.20003-t is stored already (id 20,003); lib999 9-new is not.
    let stored = InstalledPackage {
        name: "lib003".into(),
        version: format!("1.{}-t", n - 2),
        arch: "amd64".into(),
        source_name: None,
        source_version: None,
    };
    let fresh = InstalledPackage {
        name: "lib999".into(),
        version: "9-new".into(),
        ..stored.clone()
    };
    g.report(a, &[stored.clone(), fresh.clone()]).await;
    let (reports, _) = g.write().await;
    assert!(reports[0].is_ok(), "{reports:?}");
    assert_eq!(tuples(&g.store).await, (n + 1, n + 1));
    assert_eq!(g.store.packages.id_of(&stored), Some(n - 2));
    assert_eq!(g.store.packages.id_of(&fresh), Some(n + 1));
    assert_eq!(g.store.packages.through(), n + 1);
    assert_eq!(g.store.packages.len(), usize::try_from(n + 1).unwrap());
    // A server warms its dictionary up before it serves: then complete as well.
    let other = SqliteStore::open(g.store.path().to_str().unwrap())
        .await
        .unwrap();
    assert!(other.packages.is_empty());
    other.warm_up().await.unwrap();
    assert_eq!(other.packages.through(), n + 1);
    assert_eq!(other.packages.id_of(&fresh), Some(n + 1));
    other.close().await;
}
