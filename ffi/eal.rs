//! EAL start-up, lcores and launching work on them.

use std::ffi::{CString, c_int, c_void};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{DpdkError, check, sys};

/// An EAL logical core id. Prints as `lcore3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

impl fmt::Display for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lcore{}", self.0)
    }
}

static STARTED: AtomicBool = AtomicBool::new(false);

/// Proof that the EAL is initialised in this process. DPDK allows that once per process,
/// so there is at most one `Eal`; everything that needs the EAL borrows it.
pub struct Eal {
    _once: (),
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (`args[0]` is the program name, as in `argv`).
    ///
    /// # Errors
    /// Fails if the EAL was already started in this process, if an argument holds a NUL
    /// byte, or if DPDK refuses the arguments or the machine.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::new(
                "rte_eal_init",
                "second start",
                libc::EALREADY,
            ));
        }
        let owned: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                DpdkError::new("rte_eal_init", "argument with a NUL byte", libc::EINVAL)
            })?;
        // rte_eal_init keeps pointers into argv for the life of the process (it permutes and
        // stores them), so the strings and the array are leaked on purpose: one small
        // allocation per process.
        let argv: &mut Vec<*mut libc::c_char> = Box::leak(Box::new(
            owned.into_iter().map(CString::into_raw).collect::<Vec<_>>(),
        ));
        let argc = argv.len();
        // C's contract: argv[argc] is a null pointer.
        argv.push(std::ptr::null_mut());
        let argc = c_int::try_from(argc)
            .map_err(|_| DpdkError::new("rte_eal_init", "too many arguments", libc::E2BIG))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever (leaked
        // above); this is the only call of rte_eal_init in the process (STARTED).
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::from_errno("rte_eal_init", args.join(" ")));
        }
        Ok(Eal { _once: () })
    }

    /// The lcore that runs `main` (and the management thread).
    pub fn main_lcore(&self) -> LcoreId {
        // SAFETY: valid once the EAL is initialised, which `self` proves.
        LcoreId(unsafe { sys::rte_get_main_lcore() })
    }

    /// Whether `lcore` was given to the EAL (`-l`/`--lcores`).
    pub fn lcore_enabled(&self, lcore: LcoreId) -> bool {
        if lcore.0 >= sys::RTE_MAX_LCORE {
            return false;
        }
        // SAFETY: rte_lcore_is_enabled bounds-checks its argument.
        unsafe { sys::rte_lcore_is_enabled(lcore.0) != 0 }
    }

    /// The NUMA socket of `lcore`, or `None` for an lcore the EAL does not run.
    pub fn lcore_socket(&self, lcore: LcoreId) -> Option<i32> {
        if !self.lcore_enabled(lcore) {
            return None;
        }
        // SAFETY: the id is below RTE_MAX_LCORE (checked by lcore_enabled), which is all
        // rte_lcore_to_socket_id indexes with.
        Some(unsafe { sys::rte_lcore_to_socket_id(lcore.0) } as i32)
    }

    /// Whether the EAL runs on hugepages (not under `--no-huge`).
    pub fn has_hugepages(&self) -> bool {
        // SAFETY: valid once the EAL is initialised.
        unsafe { sys::rte_eal_has_hugepages() != 0 }
    }

    /// The time-stamp counter's frequency in Hz, as the EAL measured it.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: valid once the EAL is initialised.
        unsafe { sys::v6fwd_tsc_hz() }
    }

    /// Runs `work` on `lcore`, a worker lcore that is idle. The lcore stays busy until `work`
    /// returns; [`Eal::wait_lcore`] collects its return value. A panic in `work` is caught
    /// before it reaches C and becomes the return value -1.
    ///
    /// # Errors
    /// Fails if `lcore` is the main lcore, not enabled, or busy.
    pub fn remote_launch<F>(&self, lcore: LcoreId, work: F) -> Result<(), DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        // rte_eal_remote_launch indexes its lcore table unchecked, and an lcore without a
        // worker thread (the main one, a disabled one) would never run the work.
        if lcore == self.main_lcore() || !self.lcore_enabled(lcore) {
            return Err(DpdkError::new("rte_eal_remote_launch", lcore, libc::EINVAL));
        }
        let boxed: Box<Box<dyn FnOnce() -> i32 + Send>> = Box::new(Box::new(work));
        let arg = Box::into_raw(boxed).cast::<c_void>();
        // SAFETY: `trampoline` takes back ownership of `arg` exactly once when DPDK runs it;
        // on failure DPDK never runs it and ownership is taken back below.
        let ret = unsafe { sys::rte_eal_remote_launch(Some(trampoline), arg, lcore.0) };
        if ret < 0 {
            // SAFETY: the launch failed, so DPDK holds no copy of `arg`.
            drop(unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() -> i32 + Send>>()) });
        }
        check("rte_eal_remote_launch", lcore, ret)
    }

    /// Waits for the work on `lcore` to finish and returns what it returned (0 for an
    /// lcore that runs none).
    pub fn wait_lcore(&self, lcore: LcoreId) -> i32 {
        if lcore == self.main_lcore() || !self.lcore_enabled(lcore) {
            return 0;
        }
        // SAFETY: the id is a worker lcore below RTE_MAX_LCORE (checked above), which is
        // what rte_eal_wait_lcore indexes with; it only waits.
        unsafe { sys::rte_eal_wait_lcore(lcore.0) }
    }

    /// Releases the EAL's resources (`rte_eal_cleanup`).
    ///
    /// # Safety
    /// Every launched lcore has been waited for, every port closed and every mempool
    /// dropped: cleanup frees the memory they live in.
    pub unsafe fn cleanup(self) {
        // SAFETY: the caller guarantees that nothing still uses DPDK's memory.
        unsafe { sys::rte_eal_cleanup() };
    }
}

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the box leaked by `remote_launch` for this one launch.
    let work = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() -> i32 + Send>>()) };
    // No panic may unwind into DPDK's C frames.
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(-1)
}
