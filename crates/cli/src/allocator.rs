//! glibc's allocator, set up for a prover's memory: few, large, short-lived tables.
//!
//! A proof allocates and frees tables of hundreds of megabytes many times over (GPT-2 124M:
//! ~16 GB of fresh pages for an 8.4 GB peak). With glibc's defaults each such table is its own
//! `mmap`, returned to the kernel when freed, so the next one is faulted in again 4 KiB at a
//! time and zeroed by the kernel: 3.96 M page faults, and 15–21 s of the 32–38 s command in
//! the kernel (`perf`: `clear_page_erms`, `exc_page_fault`, TLB shootdowns). Four of glibc's
//! tunables make freed tables reusable and faulted in 2 MiB at a time:
//!
//! - `mmap_max=0`: large blocks come from the heap, not from a mapping of their own;
//! - `trim_threshold=64 GiB`: the heap's free top is kept for the next table;
//! - `arena_max=1`: the pool threads allocate from that one heap too (a thread's own arena
//!   would map large blocks after all);
//! - `hugetlb=1`: the heap is advised into transparent huge pages (glibc 2.35 and later).
//!
//! Measured on GPT-2 124M (`zkgrad prove --pcs whir`, alternating, two runs each): 5.9–6.2 k
//! page faults instead of 3.95 M, system time 6.2–6.4 s instead of 14.7–20.8 s, proving
//! 12.6–13.9 s instead of 16.3–17.3 s, the whole command 25.2–25.5 s instead of 32.1–37.7 s,
//! peak RSS 8.93 GB instead of 8.39 GB; nanoGPT 117 ms instead of 136 ms (9 runs each).
//!
//! Tunables are read when the process starts, so [`tune`] replaces the process (`exec`, the same
//! pid, arguments and descriptors) by the same program with them set — once: a process that
//! already has any `glibc.malloc.` tunable (set by us, or by the user, whose choice stands) is
//! left as it is, and so is one with `ZKGRAD_MALLOC=system`. Children inherit the setting.
//! Elsewhere than on Linux with glibc this does nothing. The cost is one `exec`, about a
//! millisecond.

/// The tunables set, in `GLIBC_TUNABLES` syntax.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
const TUNABLES: &str = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736:\
glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1";

/// What `GLIBC_TUNABLES` should become, or `None` to leave the process as it is.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn tuned(current: Option<&str>, opt_out: Option<&str>) -> Option<String> {
    if opt_out == Some("system") {
        return None;
    }
    match current {
        Some(c) if c.contains("glibc.malloc.") => None,
        Some(c) if !c.is_empty() => Some(format!("{}:{c}", TUNABLES)),
        _ => Some(TUNABLES.to_string()),
    }
}

/// Re-executes this program with [`TUNABLES`] set, unless it has them (or the user's own
/// `glibc.malloc.` choices, or `ZKGRAD_MALLOC=system`). Returns only if it did not: on another
/// platform, or where `exec` failed (the program then runs with glibc's defaults).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt as _;
        let current = std::env::var("GLIBC_TUNABLES").ok();
        let opt_out = std::env::var("ZKGRAD_MALLOC").ok();
        let Some(value) = tuned(current.as_deref(), opt_out.as_deref()) else {
            return;
        };
        // A `GLIBC_TUNABLES` that is not UTF-8 reads as absent above; leave such a process be.
        if std::env::var_os("GLIBC_TUNABLES").is_some() && current.is_none() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(argv0) = args.next() {
            cmd.arg0(argv0);
        }
        // `exec` returns only on failure; the program then goes on untuned.
        let _ = cmd.args(args).env("GLIBC_TUNABLES", value).exec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_tunables_once_and_keeps_the_users() {
        let ours = TUNABLES;
        assert_eq!(tuned(None, None).as_deref(), Some(ours));
        assert_eq!(tuned(Some(""), None).as_deref(), Some(ours));
        // Other tunables are kept, after ours (a later setting of the same name wins).
        assert_eq!(
            tuned(Some("glibc.rtld.nns=2"), None),
            Some(format!("{ours}:glibc.rtld.nns=2"))
        );
        // Already set (by the exec itself), or the user's own malloc choice: left alone.
        assert_eq!(tuned(Some(ours), None), None);
        assert_eq!(tuned(Some("glibc.malloc.arena_max=4"), None), None);
        assert_eq!(tuned(None, Some("system")), None);
        assert_eq!(tuned(None, Some("other")).as_deref(), Some(ours));
    }
}
