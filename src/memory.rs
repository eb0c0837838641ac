//! Giving freed memory back to the system. glibc's allocator keeps what the program frees in
//! its arenas and returns only the top of each heap by itself, so after a large realm, many
//! queues or a burst of big requests are freed, the process would stay at its peak.
//! `give_back` asks it to return every free page (`malloc_trim(0)`); the server calls it after
//! the admin API frees a lot and once a minute. Other allocators (musl's, macOS's) return
//! memory on their own, and there it does nothing.

/// Returns the allocator's free pages to the system; whether any went back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn give_back() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and may be called at any time; glibc locks each
    // arena while it trims it.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Returns the allocator's free pages to the system; whether any went back.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}

/// `give_back` on a blocking thread: a large heap takes milliseconds to walk, which a runtime
/// worker should not spend.
pub(crate) async fn give_back_later() {
    let _ = tokio::task::spawn_blocking(give_back).await;
}
