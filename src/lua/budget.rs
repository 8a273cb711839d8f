//! The per-call budget of a Lua state: how many instructions and how much running time one
//! call may use before the VM hook stops it.
//!
//! A budget is armed when a request takes a state from the pool, and nested calls that reuse
//! the same state (Lua → Rust → Lua) draw from it too, so a chain of calls cannot multiply
//! its allowance. The VM hook charges it every [`HOOK_EVERY`] instructions. Time spent waiting
//! in `invoke` or `invoke_async` is excluded, so a slow downstream service does not trip it:
//! that is what the channel's `service_timeout` is for.
//!
//! Once tripped, a budget stays tripped until it is armed again: every later hook raises the
//! error again, and the sandbox's `pcall` re-raises it, so a script cannot catch its way past
//! the limit.
//!
//! A call runs on a tokio worker thread, so a long one would hold that thread and the
//! requests queued behind it. The budget also measures time slices: once a call has run for
//! [`SLICE`] since it was last resumed, the hook yields its coroutine, and the call goes to
//! the back of tokio's queue before it runs on (see `call::drive`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often, in VM instructions, the hook charges the budget. Small enough to stop a
/// runaway loop within microseconds of its limit, large enough to cost nothing measurable.
pub(crate) const HOOK_EVERY: u32 = 1000;

/// How long a call runs before it lets other work on its thread go first. Webhook services
/// finish well within it; only loops and heavy computations reach it.
pub(crate) const SLICE: Duration = Duration::from_millis(5);

/// Which limit a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trip {
    Instructions,
    Time,
}

const NOT_TRIPPED: u8 = 0;
const TRIPPED_INSTRUCTIONS: u8 = 1;
const TRIPPED_TIME: u8 = 2;

/// The instruction and time allowance of the call that currently holds a Lua state.
#[derive(Debug)]
pub(crate) struct Budget {
    max_instructions: u64,
    time_limit: Duration,
    used: AtomicU64,
    /// When the running call was armed, pushed forward by the time spent waiting.
    started: Mutex<Instant>,
    tripped: AtomicU8,
    /// When the running coroutine was last resumed.
    resumed: Mutex<Instant>,
    /// The address of the coroutine Inlet last resumed: the only one the hook may yield,
    /// since a yield in a script's own coroutine would return to the script, not to Inlet.
    running: AtomicUsize,
}

impl Budget {
    pub fn new(max_instructions: u64, time_limit: Duration) -> Self {
        Budget {
            max_instructions,
            time_limit,
            used: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
            tripped: AtomicU8::new(NOT_TRIPPED),
            resumed: Mutex::new(Instant::now()),
            running: AtomicUsize::new(0),
        }
    }

    /// Starts a fresh allowance for a new top-level call.
    pub fn arm(&self) {
        self.used.store(0, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.tripped.store(NOT_TRIPPED, Ordering::Relaxed);
    }

    /// Charges `instructions`; the error says which limit is now exceeded.
    pub fn charge(&self, instructions: u64) -> Result<(), Trip> {
        if let Some(trip) = self.tripped() {
            return Err(trip);
        }
        let used = self.used.fetch_add(instructions, Ordering::Relaxed) + instructions;
        let trip = if used > self.max_instructions {
            Some((Trip::Instructions, TRIPPED_INSTRUCTIONS))
        } else if self.started().elapsed() > self.time_limit {
            Some((Trip::Time, TRIPPED_TIME))
        } else {
            None
        };
        match trip {
            Some((trip, code)) => {
                self.tripped.store(code, Ordering::Relaxed);
                Err(trip)
            }
            None => Ok(()),
        }
    }

    /// Notes that Inlet is about to resume the coroutine at `coroutine` (its address), which
    /// starts a new time slice.
    pub fn resuming(&self, coroutine: *const std::ffi::c_void) {
        self.running.store(coroutine as usize, Ordering::Relaxed);
        *self.resumed.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// True, once per slice, when the coroutine has run for [`SLICE`] since it was resumed.
    pub fn slice_over(&self) -> bool {
        let mut resumed = self.resumed.lock().unwrap_or_else(|e| e.into_inner());
        if resumed.elapsed() < SLICE {
            return false;
        }
        *resumed = Instant::now();
        true
    }

    /// The address of the coroutine Inlet last resumed.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Leaves `waited` out of the running time: it was spent in another service.
    pub fn exclude(&self, waited: Duration) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        *started += waited;
    }

    pub fn tripped(&self) -> Option<Trip> {
        match self.tripped.load(Ordering::Relaxed) {
            TRIPPED_INSTRUCTIONS => Some(Trip::Instructions),
            TRIPPED_TIME => Some(Trip::Time),
            _ => None,
        }
    }

    /// What the operator's log says about a tripped budget.
    pub fn describe(&self, trip: Trip) -> String {
        match trip {
            Trip::Instructions => format!(
                "stopped after {} Lua instructions ([lua] max_instructions)",
                self.max_instructions
            ),
            Trip::Time => format!(
                "stopped after running Lua for {:?} ([lua] time_limit)",
                self.time_limit
            ),
        }
    }

    fn started(&self) -> Instant {
        *self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_trip_and_stay_tripped_until_armed() {
        let budget = Budget::new(2500, Duration::from_secs(60));
        budget.arm();
        assert!(budget.charge(1000).is_ok());
        assert!(budget.charge(1000).is_ok());
        assert_eq!(budget.charge(1000), Err(Trip::Instructions));
        assert_eq!(budget.charge(0), Err(Trip::Instructions));
        budget.arm();
        assert!(budget.charge(1000).is_ok());
    }

    #[test]
    fn a_slice_ends_once_per_slice_after_a_resume() {
        let budget = Budget::new(u64::MAX, Duration::from_secs(60));
        budget.resuming(std::ptr::null());
        assert!(!budget.slice_over());
        std::thread::sleep(SLICE + Duration::from_millis(2));
        assert!(budget.slice_over());
        assert!(!budget.slice_over(), "the next slice starts when one ends");
        std::thread::sleep(SLICE + Duration::from_millis(2));
        budget.resuming(std::ptr::null());
        assert!(!budget.slice_over(), "a resume starts a fresh slice");
    }

    #[test]
    fn time_trips_and_waiting_is_excluded() {
        let budget = Budget::new(u64::MAX, Duration::from_millis(20));
        budget.arm();
        std::thread::sleep(Duration::from_millis(30));
        budget.exclude(Duration::from_millis(30));
        assert!(budget.charge(1).is_ok());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(budget.charge(1), Err(Trip::Time));
    }
}
