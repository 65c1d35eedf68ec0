//! Two instances of the real binary on one database (issue 22): the rate limit holds
//! across both, a second instance with another key refuses to start, and the jobs that
//! must run once run on one instance, another taking over when it is killed.

use std::time::{Duration, Instant};

use actix_web::http::Method;

use crate::common::TestDb;
use crate::common::service::{self, Service};

#[actix_web::test]
async fn a_callers_rate_limit_holds_across_two_instances() {
    // A burst of 10: every spend takes a single token.
    limit_holds_across_two_instances(10, 40).await;
}

#[actix_web::test]
async fn a_callers_rate_limit_holds_across_two_instances_that_take_leases() {
    // A burst of 400: each instance takes leases of up to 50 tokens and spends them in
    // memory; together they still accept no more than the one bucket allows.
    limit_holds_across_two_instances(400, 600).await;
}

/// Requests alternate between two instances at a rate of one token a second; the
/// accepted ones, summed, stay within burst + elapsed seconds.
async fn limit_holds_across_two_instances(burst: u32, requests: usize) {
    let db = TestDb::new();
    let burst_text = burst.to_string();
    let env = [
        ("OGSMS_RATE_LIMIT_PER_MINUTE", "60"),
        ("OGSMS_RATE_LIMIT_BURST", burst_text.as_str()),
    ];
    let a = Service::start(&db, &env).await;
    let b = Service::start(&db, &env).await;
    let token = a.token(ogsms::auth::policy::Role::Coordinator);
    let started = Instant::now();
    let (mut accepted, mut refused) = (0u32, 0u32);
    for i in 0..requests {
        let svc = if i % 2 == 0 { &a } else { &b };
        let res = svc
            .request(Method::GET, "/v1/member-states/PE")
            .insert_header(("authorization", token.clone()))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => {
                accepted += 1;
                assert!(res.headers().contains_key("ratelimit-remaining"));
            }
            429 => {
                refused += 1;
                assert!(res.headers().contains_key("retry-after"));
                assert_eq!(res.headers().get("ratelimit-remaining").unwrap(), "0");
            }
            s => panic!("unexpected {s}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Counted in each process, the two would have accepted 2 × burst at once.
    let bound = f64::from(burst) + elapsed * 1.0;
    assert!(
        f64::from(accepted) <= bound.floor(),
        "accepted {accepted} over both instances in {elapsed:.2} s; the bound is {bound:.2}"
    );
    // Leases left unspent when the bucket ran low cost the caller at most a few tokens.
    assert!(
        f64::from(accepted) >= f64::from(burst) * 0.9,
        "accepted {accepted} of a burst of {burst}"
    );
    assert!(refused > 0);
}

#[actix_web::test]
async fn a_second_instance_with_another_key_refuses_to_start() {
    let db = TestDb::new();
    let _a = Service::start(&db, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = service::command(
        &db,
        dir.path(),
        service::free_port(),
        &[(
            "OGSMS_JWT_SECRET",
            "another-secret-of-at-least-thirty-two-bytes!",
        )],
    )
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the second instance kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(stderr.contains("OGSMS_JWT_SECRET"), "{stderr}");
    assert!(stderr.contains("rotate-key"), "{stderr}");
    assert!(!stderr.contains("another-secret"), "{stderr}");
    // The same key starts (the first instance recorded it; a restart records nothing).
    let _b = Service::start(&db, &[]).await;
}

/// The pid in an instance name `pid-<pid>@<bind>`.
fn pid_of(instance: &str) -> u32 {
    instance
        .strip_prefix("pid-")
        .and_then(|r| r.split('@').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("instance {instance:?}"))
}

#[actix_web::test]
async fn each_leader_job_runs_once_and_another_instance_takes_over_when_the_leader_dies() {
    let db = TestDb::new();
    let env = [("OGSMS_LEADER_POLL_SECS", "1")];
    let a = Service::start(&db, &env).await;
    let b = Service::start(&db, &env).await;
    let jobs = [
        "idempotency-purge",
        "change-feed-purge",
        "rate-bucket-purge",
    ];
    let row = |job: &str| {
        db.scalar(&format!(
            "SELECT coalesce((SELECT instance || ' ' || runs FROM background_job_runs \
             WHERE job = '{job}'), '')"
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while jobs.iter().any(|j| row(j).is_empty()) {
        assert!(Instant::now() < deadline, "no leader ran the jobs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both instances are running for a few polls: each hourly job ran once, on the leader.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let leader = row("leader").split(' ').next().unwrap().to_owned();
    let leader_pid = pid_of(&leader);
    assert!(leader_pid == a.pid() || leader_pid == b.pid(), "{leader}");
    for job in jobs {
        assert_eq!(row(job), format!("{leader} 1"), "{job}");
    }
    let (dead, survivor) = if leader_pid == a.pid() {
        (a, b)
    } else {
        (b, a)
    };
    // SAFETY: our own child.
    unsafe { libc::kill(dead.pid() as i32, libc::SIGKILL) };
    let killed = Instant::now();
    // Documented: another instance leads within one poll (1 s here) of the lock being
    // freed, which PostgreSQL does as soon as the dead process's connection closes.
    loop {
        let now = row("leader");
        if pid_of(now.split(' ').next().unwrap()) == survivor.pid() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "no takeover within 3 s: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    let deadline = Instant::now() + Duration::from_secs(3);
    while jobs
        .iter()
        .any(|j| pid_of(row(j).split(' ').next().unwrap()) != survivor.pid())
    {
        assert!(
            Instant::now() < deadline,
            "the new leader did not run the jobs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("takeover after SIGKILL of the leader: {took:?}");
    drop(dead);
}
