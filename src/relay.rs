//! Moving bytes: the session (`session`) with its two directions (`direction`, one type
//! used twice, with the `Source`/`Sink` traits) between stdin/stdout and the socket,
//! their bounded queues (`buffer`), the `-C` translation (`crlf`), `-i`'s pauses (`pace`), `-t`'s telnet refusals (`telnet`), a
//! `-u -l -k` listener's table of peers (`peers`), the traffic logs (`tap`, `hexdump`), the
//! zero-copy paths (`zerocopy`) and the non-blocking stdio handles (`stdio`).

pub(crate) mod buffer;
pub(crate) mod child;
pub(crate) mod connection;
pub(crate) mod crlf;
pub(crate) mod direction;
pub(crate) mod ends;
pub(crate) mod hub;
pub(crate) mod pace;
pub(crate) mod peers;
pub(crate) mod session;
pub(crate) mod stdio;
pub(crate) mod tap;
pub(crate) mod telnet;
pub(crate) mod tls;
pub(crate) mod zerocopy;

// `--hex-dump`'s text is in the library target, which the fuzz targets share.
pub(crate) use rnc::relay::hexdump;
