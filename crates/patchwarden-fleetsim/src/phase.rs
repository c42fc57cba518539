//! A measured phase: jobs run with a fixed number in flight until the queue is empty or
//! the deadline passes; the wall time and every request's latency are kept.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Outcome {
    pub wall: Duration,
    /// Each completed job and its latency, in no particular order.
    pub samples: Vec<(usize, Duration)>,
    /// Jobs left in the queue when the deadline passed.
    pub left: usize,
}

impl Outcome {
    /// The completed jobs.
    pub fn done(&self) -> impl Iterator<Item = usize> + '_ {
        self.samples.iter().map(|(i, _)| *i)
    }

    /// The latencies of the completed jobs that `keep` selects, sorted.
    pub fn latencies(&self, keep: impl Fn(usize) -> bool) -> Vec<Duration> {
        let mut l: Vec<Duration> = self
            .samples
            .iter()
            .filter(|(i, _)| keep(*i))
            .map(|(_, d)| *d)
            .collect();
        l.sort_unstable();
        l
    }

    /// `name: N in S s = R/s (p50 …, p99 …)`.
    /// Requests that completed.
    pub fn count(&self) -> usize {
        self.samples.len()
    }

    pub fn summary(&self, name: &str) -> String {
        let lat = self.latencies(|_| true);
        format!(
            "{name}: {} in {:.2} s = {:.0}/s ({})",
            lat.len(),
            self.wall.as_secs_f64(),
            lat.len() as f64 / self.wall.as_secs_f64().max(1e-9),
            spread(&lat)
        )
    }
}

/// `p50 …, p99 …` of sorted latencies.
pub fn spread(sorted: &[Duration]) -> String {
    format!(
        "p50 {:?}, p99 {:?}",
        percentile(sorted, 0.5),
        percentile(sorted, 0.99)
    )
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `work(job)` for every job in `jobs` with `concurrency` in flight, starting no
/// job after `deadline`.
pub async fn run<F, Fut>(
    jobs: Vec<usize>,
    concurrency: usize,
    deadline: Instant,
    work: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let work = Arc::new(work);
    let queue = Arc::new(std::sync::Mutex::new(jobs.into_iter()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (work, queue) = (work.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .next();
                let Some(i) = next else { break };
                let t = Instant::now();
                work(i).await?;
                done.push((i, t.elapsed()));
            }
            anyhow::Ok(done)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = started.elapsed();
    let left = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.len();
    Ok(Outcome {
        wall,
        samples: all,
        left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[tokio::test]
    async fn runs_every_job_once_and_stops_at_the_deadline() {
        let far = Instant::now() + Duration::from_secs(60);
        let o = run((0..50).collect(), 4, far, |_| async { Ok(()) })
            .await
            .unwrap();
        let mut done: Vec<usize> = o.done().collect();
        done.sort_unstable();
        assert_eq!(done, (0..50).collect::<Vec<_>>());
        assert_eq!(o.latencies(|i| i % 2 == 0).len(), 25);
        assert_eq!(o.left, 0);
        let past = Instant::now();
        let o = run((0..50).collect(), 4, past, |_| async { Ok(()) })
            .await
            .unwrap();
        assert_eq!((o.samples.len(), o.left), (0, 50));
        assert!(o.summary("x").starts_with("x: 0 in "));
    }
}
