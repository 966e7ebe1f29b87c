//! rnc's pure parsers as a library, for a second consumer: the fuzz targets in `fuzz/`.
//!
//! The binary (`src/main.rs`) uses these modules from here rather than compiling them
//! itself, so there is one copy of each, at its usual place in the tree. Only code that
//! turns bytes or text into values, with no dependency on the rest of rnc and no I/O (but
//! the services table and interface names that `config/address.rs` looks up), goes here;
//! everything else stays `pub(crate)` in the binary, and nothing here uses the binary.

/// Command-line values: hosts, ports and port lists.
pub mod config {
    pub mod address;
    pub mod ports;
}

/// Before bytes flow: the proxy handshake, sans I/O (`net/proxy.rs` in the binary drives it).
pub mod net {
    pub mod proxy {
        pub mod handshake;
        mod http;
        mod socks;
    }
}

/// The terminal's pure parts.
pub mod tty {
    pub mod keys;
    pub mod sanitize;
}

/// Moving bytes: the pure layers.
pub mod relay {
    pub mod hexdump;
    /// `-t`'s telnet parser; the layer around it is `relay/telnet.rs` in the binary.
    pub mod telnet {
        pub mod parser;
    }
}
