//! `ce`: see the library crate for everything; this is the process around it.
//!
//! # The entry point is C's `main` (glibc Linux)
//! Before a Rust `fn main` runs, the standard library's runtime set-up runs, and most of its
//! cost is one thing `ce` does not need: to find the main thread's stack guard it has glibc
//! read and `sscanf` all of `/proc/self/maps`, then it installs an alternate signal stack and
//! SIGSEGV/SIGBUS handlers, which only turn a stack overflow into a message, and takes them
//! down again at exit. That was about 0.1 ms of every run, a tenth of `ce --version`
//! (`benches/render.sh`; see the README). So on glibc Linux `ce` is `no_main` and does the rest
//! of that set-up itself, here: the standard streams are made sure to be open, SIGPIPE is
//! ignored (a closed pipe is then an `EPIPE` error, which `ce` treats as the end of its
//! output), a panic is caught and exits 101, and stdout is flushed at the end. What changes: a
//! stack overflow ends in a plain SIGSEGV instead of Rust's message, and a panic message names
//! the thread `<unnamed>` instead of `main`. Arguments are read as before: glibc hands them to
//! the standard library at load time (`.init_array`), which is why this is done only there;
//! elsewhere `ce` has an ordinary Rust `main`. Threads, the async runtime and unwinding are
//! unaffected.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod entry {
    use std::ffi::{c_char, c_int};
    use std::io::{self, Write};

    /// The process's entry point, called by the C runtime.
    #[unsafe(no_mangle)]
    extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
        open_standard_streams();
        // SAFETY: setting a signal's disposition to "ignore" runs no code of ours in a handler.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let code = match std::panic::catch_unwind(ce_infra::main) {
            Ok(status) => c_int::from(status.code()),
            // The panic hook has printed the message; 101 is Rust's exit code for a panic.
            Err(_) => 101,
        };
        let _ = io::stdout().flush();
        code
    }

    /// Opens `/dev/null` on any of stdin, stdout and stderr that is closed, as the standard
    /// library's set-up does: otherwise the next file `ce` opens would get that number, and
    /// output meant for the terminal would land in it.
    fn open_standard_streams() {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        let closed: Vec<c_int> = loop {
            // SAFETY: `fds` is a valid array of three pollfd for the call's duration.
            if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0 {
                break fds
                    .iter()
                    .filter(|p| p.revents & libc::POLLNVAL != 0)
                    .map(|p| p.fd)
                    .collect();
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // As the standard library does when poll cannot be used (a descriptor limit
                // below three, say): ask about each descriptor instead.
                _ => {
                    break (0..3)
                        .filter(|&fd| {
                            // SAFETY: F_GETFD only reads the descriptor's flags.
                            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
                            flags == -1
                                && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                        })
                        .collect();
                }
            }
        };
        for fd in closed {
            // SAFETY: a NUL-terminated path; the descriptor is left open on purpose. Opened in
            // order, the lowest free number is the closed stream's.
            let opened = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if opened != fd {
                // As the standard library does: running with a closed stream that cannot be
                // replaced is not safe.
                std::process::abort();
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(ce_infra::main().code())
}
