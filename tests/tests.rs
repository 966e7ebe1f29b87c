//! The single integration test binary: spawns the real rnc and checks what a user sees.
//!
//! One binary (Cargo.toml: `autotests = false`, one `[[test]]`) so the suite links once.
//! Each module owns one area; shared harness code lives in `util` only.

mod util;

mod cli;
mod eof_grid;
mod faults;
mod habits;
mod hostile;
mod integrity;
mod interop;
mod limits;
mod logs;
mod many;
mod proxy;
mod scan;
mod tcp;
mod tls;
mod tty;
mod udp;
mod unix;
mod verbose;
