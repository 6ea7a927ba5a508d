//! Waiting in tests without fixed sleeps: on a condition until a deadline, or through a window
//! in which something must not happen.
//!
//! A test that sleeps "long enough" is slow when the machine is fast and flaky when it is slow;
//! one that waits on what it needs takes as long as the thing takes, and a timeout says what
//! never came.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How often a condition is checked: short next to anything a test waits for.
const POLL: Duration = Duration::from_millis(20);

/// Checks `check` until it returns `Ok`, and hands back its value. Panics after `within`,
/// naming `what` was awaited and the last `Err` (what the test saw instead).
pub async fn until<T, S: Debug>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Result<T, S>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "waited {within:?} for: {what}; last saw {seen:?}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Checks `check` until it holds; panics after `within`, naming `what` was awaited.
pub async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    until(what, within, async || {
        if check().await { Ok(()) } else { Err(false) }
    })
    .await;
}

/// Checks `check` through `window` and panics as soon as it fails, naming `what` stopped
/// holding. For a test whose point is that something does not happen and no stored state
/// rules it out (a dead delivery claimed again, a poison message redelivered after its
/// `ack_wait`): `window` is how long that thing would take to show up had it been set off, so
/// keep it as short as still proves the point. Where the store does rule it out (deliveries
/// and runs are stored before their request is answered), check that instead: it is exact and
/// takes no time.
pub async fn throughout(what: &str, window: Duration, mut check: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + window;
    loop {
        assert!(check().await, "stopped holding within {window:?}: {what}");
        let now = Instant::now();
        if now >= end {
            return;
        }
        tokio::time::sleep(POLL.min(end - now)).await;
    }
}
