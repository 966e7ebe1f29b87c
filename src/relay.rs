//! Moving bytes: the session's two directions between stdin/stdout and the socket
//! (`session`), their bounded queues (`buffer`), the `-C` translation (`crlf`), the
//! zero-copy paths (`zerocopy`) and the non-blocking stdio handles (`stdio`).

pub(crate) mod buffer;
pub(crate) mod crlf;
pub(crate) mod session;
pub(crate) mod stdio;
pub(crate) mod zerocopy;
