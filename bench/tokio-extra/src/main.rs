//! tokio rows for weft's issue 13 workloads, which ../shared/peers has no
//! equivalent of. Each mirrors the weft-bench workload of the same name
//! (bench/runtime_wl.c, bench/stream_wl.c) and runs the way the peers'
//! workloads do (../shared/peers/tokio/src/bench.rs): a multi-threaded
//! runtime with two workers, timers and I/O enabled, the driver a task
//! spawned onto it, one warm-up and 5 measured repetitions (1 with
//! --quick), the median printed as one JSON line in weft-bench's format.
//!
//!   joinset      N tasks (100 000) returning their index, spawned into a
//!                tokio::task::JoinSet, collected with join_next until it
//!                is empty; the sum is checked. ns_per_task.
//!   spawn_join   the baseline: the same tasks spawned with JoinHandles,
//!                each awaited in spawn order. ns_per_task.
//!   futset_wake  a FuturesUnordered of N members (100, 10 000, 1 000 000),
//!                all waiting; one at a time is woken in turn (0, 1, ...,
//!                N-1, 0, ...), the driver awaits the set's next (only that
//!                member is polled: it completes) and pushes a replacement,
//!                which it polls once so that it registers. 200 000 wakes;
//!                ns_per_wake.
//!
//! Usage: tokio-extra <workload> [--quick] [--reps N] [--n N]

use std::cell::UnsafeCell;
use std::future::Future;
use std::pin::Pin;
use std::process;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::future::poll_fn;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::task::JoinSet;

struct Opts {
    quick: bool,
    reps: Option<usize>,
    n: Option<u64>,
}

impl Opts {
    fn reps(&self, full: usize) -> usize {
        self.reps.unwrap_or(if self.quick { 1 } else { full })
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: tokio-extra <workload> [--quick] [--reps N] [--n N]\n\
         workloads: joinset spawn_join futset_wake"
    );
    process::exit(2)
}

/// One result row, as weft-bench and the peers print it.
fn emit(workload: &str, n: u64, metric: &str, value: f64) {
    println!(
        "{{\"peer\":\"tokio\",\"workload\":\"{}\",\"n\":{},\"metric\":\"{}\",\"value\":{:.1}}}",
        workload, n, metric, value
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(|a, b| a.partial_cmp(b).expect("NaN in results"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ns_per(t: Duration, n: u64) -> f64 {
    t.as_nanos() as f64 / n as f64
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// Runs `rep` once as warm-up, then `reps` times, inside one driver task.
fn run_reps<F, Fut>(reps: usize, rep: F) -> Vec<f64>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = f64> + Send + 'static,
{
    let rt = runtime();
    rt.block_on(async move {
        tokio::spawn(async move {
            rep().await;
            let mut out = Vec::with_capacity(reps);
            for _ in 0..reps {
                out.push(rep().await);
            }
            out
        })
        .await
        .expect("driver task failed")
    })
}

// ------------------------------------------------------ joinset, spawn_join

const GROUP_N: u64 = 100_000;

fn joinset(o: &Opts) {
    let n = o.n.unwrap_or(GROUP_N);
    let res = run_reps(o.reps(5), move || async move {
        let t0 = Instant::now();
        let mut set = JoinSet::new();
        for i in 0..n {
            set.spawn(async move { i });
        }
        let mut sum = 0u64;
        while let Some(r) = set.join_next().await {
            sum += r.expect("member failed");
        }
        let t = ns_per(t0.elapsed(), n);
        if sum != n * (n - 1) / 2 {
            eprintln!("joinset: outputs sum to {}", sum);
            process::exit(1);
        }
        t
    });
    emit("joinset", n, "ns_per_task", median(res));
}

fn spawn_join(o: &Opts) {
    let n = o.n.unwrap_or(GROUP_N);
    let res = run_reps(o.reps(5), move || async move {
        let mut handles = Vec::with_capacity(n as usize);
        let t0 = Instant::now();
        for i in 0..n {
            handles.push(tokio::spawn(async move { i }));
        }
        let mut sum = 0u64;
        for h in handles.drain(..) {
            sum += h.await.expect("task failed");
        }
        let t = ns_per(t0.elapsed(), n);
        if sum != n * (n - 1) / 2 {
            eprintln!("spawn_join: outputs sum to {}", sum);
            process::exit(1);
        }
        t
    });
    emit("spawn_join", n, "ns_per_task", median(res));
}

// -------------------------------------------------------------- futset_wake

const WAKES: u64 = 200_000;

/// Member i's waker while it waits. Only the driver task touches it (the
/// members are polled inside the driver's poll), one thread at a time, as
/// weft's plain array: no lock.
struct Wakers(Vec<UnsafeCell<Option<Waker>>>);
unsafe impl Sync for Wakers {}

impl Wakers {
    #[allow(clippy::mut_from_ref)]
    fn slot(&self, i: u32) -> &mut Option<Waker> {
        // SAFETY: see the type's comment: one user at a time.
        unsafe { &mut *self.0[i as usize].get() }
    }
}

/// Waits once (its waker in the table), completes when polled again.
struct Member {
    w: &'static Wakers,
    id: u32,
    waited: bool,
}

impl Future for Member {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.waited {
            return Poll::Ready(self.id);
        }
        self.waited = true;
        *self.w.slot(self.id) = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Polls the set once and checks that nothing completed.
async fn poll_once_pending(set: &mut FuturesUnordered<Member>) {
    poll_fn(|cx| {
        if let Poll::Ready(v) = set.poll_next_unpin(cx) {
            eprintln!("futset_wake: a member completed unwoken ({:?})", v);
            process::exit(1);
        }
        Poll::Ready(())
    })
    .await
}

fn futset_wake(o: &Opts) {
    let sizes: Vec<u64> = match o.n {
        Some(n) => vec![n],
        None => vec![100, 10_000, 1_000_000],
    };
    for n in sizes {
        let w: &'static Wakers =
            Box::leak(Box::new(Wakers((0..n).map(|_| UnsafeCell::new(None)).collect())));
        let res = run_reps(o.reps(5), move || async move {
            let mut set = FuturesUnordered::new();
            for i in 0..n as u32 {
                set.push(Member { w, id: i, waited: false });
            }
            poll_once_pending(&mut set).await;
            let t0 = Instant::now();
            for i in 0..WAKES {
                let id = (i % n) as u32;
                w.slot(id).take().expect("member not waiting").wake();
                let got = set.next().await.expect("set ran empty");
                if got != id {
                    eprintln!("futset_wake: woke {}, got {}", id, got);
                    process::exit(1);
                }
                set.push(Member { w, id, waited: false });
                poll_once_pending(&mut set).await;
            }
            let t = ns_per(t0.elapsed(), WAKES);
            for i in 0..n as u32 {
                w.slot(i).take();
            }
            drop(set);
            t
        });
        emit("futset_wake", n, "ns_per_wake", median(res));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        usage();
    }
    let mut o = Opts { quick: false, reps: None, n: None };
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => o.quick = true,
            "--reps" => {
                i += 1;
                o.reps = Some(args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()));
            }
            "--n" => {
                i += 1;
                o.n = Some(args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()));
            }
            _ => usage(),
        }
        i += 1;
    }
    match args[0].as_str() {
        "joinset" => joinset(&o),
        "spawn_join" => spawn_join(&o),
        "futset_wake" => futset_wake(&o),
        _ => usage(),
    }
}
