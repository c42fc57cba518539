//! Retrying a deployment, with apt/dpkg and dnf/rpm (one scenario, run with both):
//! after a failure that changed nothing (plain `failed`) the same deployment may
//! install again, its backup replaced by one of the unchanged set; after a change it
//! is refused until rolled back.

use super::apt::apt_v1_v2;
use super::dnf::dnf_v1_v2;
use super::{assert_report, install_job, retry_job, Fixture};
use patchwarden_wire::job::JobStatus;

fn retry_allowed_after_a_no_change_failure_and_refused_after_a_change<T: Fixture>(t: T) {
    // v2 is in the repository's index but its file is away: the plan and the backup
    // succeed, the download fails, nothing is installed.
    let pool = t.repo_file("pwtest-retry", "2.0-1");
    assert!(pool.is_file(), "{}", pool.display());
    let away = t.d().host.dir.path().join("pwtest-retry-2.0-1.away");
    std::fs::rename(&pool, &away).unwrap();
    let first = t
        .d()
        .run(install_job("retry", "pwtest-retry", "2.0-1", false));
    assert_report(
        &first,
        JobStatus::Failed,
        &[
            ("plan", true),
            ("backup", true),
            ("install", false),
            ("rollback", true),
        ],
    );
    assert!(first.steps[3].log_excerpt.contains("nothing to restore"));
    let record = t.d().deployment_file("dep-retry/backup.json");
    let read_record = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap()
    };
    let kept = read_record();
    assert!(kept["failed_unchanged_at"].is_string(), "{kept:#}");

    // The same deployment again, the file back: installed, the backup replaced.
    std::fs::rename(&away, &pool).unwrap();
    let again = t
        .d()
        .run(retry_job("retry-2", "dep-retry", "pwtest-retry", "2.0-1"));
    assert_eq!(again.status, JobStatus::Succeeded, "{:#?}", again.steps);
    t.assert_installed("pwtest-retry", "2.0-1");
    let kept = read_record();
    assert_eq!(kept["job_id"], "retry-2");
    assert!(kept["failed_unchanged_at"].is_null(), "{kept:#}");
    assert_eq!(kept["before"].as_array().map(Vec::len), Some(1), "{kept:#}");
    assert_eq!(kept["before"][0]["version"], "1.0-1");
    let v1 = t.repo_file("pwtest-retry", "1.0-1");
    let v1 = v1.file_name().unwrap().to_string_lossy();
    let saved = t.d().deployment_file(&format!("dep-retry/packages/{v1}"));
    assert!(saved.is_file(), "{}", saved.display());

    // That one changed the host: a third install of the deployment is refused, and
    // the backup of v1 is kept.
    let third = t
        .d()
        .run(retry_job("retry-3", "dep-retry", "pwtest-retry", "1.0-1"));
    assert_eq!(third.status, JobStatus::Failed, "{:#?}", third.steps);
    let backup = third.steps.iter().find(|s| s.step == "backup").unwrap();
    assert!(
        backup
            .log_excerpt
            .contains("already has a backup (job retry-2"),
        "{backup:?}"
    );
    let kept = read_record();
    assert_eq!(kept["job_id"], "retry-2");
    t.assert_installed("pwtest-retry", "2.0-1");
    t.d().host_untouched();
}

on_apt_and_dnf! {
    apt_retry_of_a_deployment_is_allowed_after_a_no_change_failure_and_refused_after_a_change,
    dnf_retry_of_a_deployment_is_allowed_after_a_no_change_failure_and_refused_after_a_change:
        "pwtest-retry" => retry_allowed_after_a_no_change_failure_and_refused_after_a_change;
}
