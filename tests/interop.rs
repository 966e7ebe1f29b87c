//! rnc against the real tools: OpenBSD `nc`, `ncat` and `socat` (from /usr/bin) in both
//! roles and both directions over TCP, plus Unix and UDP round trips, and a real HTTP
//! server (Python's `http.server`) poked with `rnc -C`.
//!
//! Owns no harness code (that is `util`). A missing tool skips its test with a message.
//!
//! OpenBSD nc and ncat stop sending as soon as their peer half-closes, so rnc receiving
//! from them runs with `-d` (or an idle stdin pipe), which never half-closes; socat runs
//! with `-t 10` and copes with half-close either way.

use std::path::PathBuf;

use crate::util::{
    Input, Output, Rnc, assert_same_bytes, installed_tool, parse_port, pseudo_random,
    tcp_listen_port_of, temp_dir, write_file,
};

/// 1 MiB: several socket buffers' worth, still quick with three tools.
const SIZE: usize = 1024 * 1024;

/// One of the netcat-style tools rnc is compared with.
#[derive(Clone, Copy, Debug)]
enum Tool {
    Nc,
    Ncat,
    Socat,
}

impl Tool {
    /// The installed binary, or `None` (with a message) so the test can skip.
    fn path(self) -> Option<PathBuf> {
        installed_tool(match self {
            Tool::Nc => "nc",
            Tool::Ncat => "ncat",
            Tool::Socat => "socat",
        })
    }

    /// Arguments for a TCP listener on 127.0.0.1 with a kernel-chosen port.
    fn listener_args(self, sending: bool) -> Vec<String> {
        let args: &[&str] = match (self, sending) {
            (Tool::Nc, true) => &["-l", "-n", "-v", "-N", "127.0.0.1", "0"],
            (Tool::Nc, false) => &["-l", "-n", "-v", "-d", "127.0.0.1", "0"],
            (Tool::Ncat, _) => &["-l", "-v", "127.0.0.1", "0"],
            (Tool::Socat, _) => &[
                "-d",
                "-d",
                "-t",
                "10",
                "TCP-LISTEN:0,bind=127.0.0.1",
                "STDIO",
            ],
        };
        args.iter().map(ToString::to_string).collect()
    }

    /// Arguments for a TCP client of 127.0.0.1:`port` (stdin is the file or /dev/null).
    fn client_args(self, port: u16) -> Vec<String> {
        match self {
            Tool::Nc => vec!["-N".into(), "127.0.0.1".into(), port.to_string()],
            Tool::Ncat => vec!["127.0.0.1".into(), port.to_string()],
            Tool::Socat => vec![
                "-t".into(),
                "10".into(),
                "STDIO".into(),
                format!("TCP:127.0.0.1:{port}"),
            ],
        }
    }

    /// Whether the tool keeps sending after its peer half-closed.
    fn survives_half_close(self) -> bool {
        matches!(self, Tool::Socat)
    }

    /// Waits until the listening tool is ready and returns its port.
    fn listening_port(self, tool: &mut Rnc) -> u16 {
        match self {
            // `Listening on 127.0.0.1 PORT`
            Tool::Nc => {
                let line = tool.wait_stderr("Listening on");
                let port = line.split_whitespace().last().expect("port in nc's line");
                port.parse().expect("numeric port from nc")
            }
            // ncat says `Listening on 127.0.0.1:0`, after listen(): ask /proc for the port.
            Tool::Ncat => {
                tool.wait_stderr("Listening on");
                tcp_listen_port_of(tool.pid())
            }
            // `... N listening on AF=2 127.0.0.1:PORT`
            Tool::Socat => parse_port(&tool.wait_stderr("listening on")),
        }
    }
}

/// Spawns `tool` with string arguments.
fn spawn_tool(path: &std::path::Path, args: &[String], stdin: Input) -> Rnc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Rnc::tool(path, &args).stdin(stdin).spawn()
}

/// The tool listens and sends a file; rnc connects and receives it.
fn tool_listener_sends_to_rnc(tool: Tool) {
    let Some(path) = tool.path() else { return };
    let dir = temp_dir();
    let data = pseudo_random(SIZE, 30);
    let file = write_file(dir.path(), "f", &data);
    let mut listener = spawn_tool(&path, &tool.listener_args(true), Input::File(file));
    let port = tool.listening_port(&mut listener).to_string();
    let rnc = if tool.survives_half_close() {
        Rnc::with(&["127.0.0.1", &port]).stdin(Input::Null).spawn()
    } else {
        Rnc::with(&["-d", "127.0.0.1", &port]).spawn()
    };
    let received = rnc.finish();
    received.assert_code(0);
    assert_same_bytes(&received.stdout, &data);
    listener.finish().assert_code(0);
}

/// The tool listens and receives; rnc connects and sends a file.
fn rnc_sends_to_tool_listener(tool: Tool) {
    let Some(path) = tool.path() else { return };
    let dir = temp_dir();
    let data = pseudo_random(SIZE, 31);
    let file = write_file(dir.path(), "f", &data);
    let mut listener = spawn_tool(&path, &tool.listener_args(false), Input::Null);
    let port = tool.listening_port(&mut listener).to_string();
    let rnc = Rnc::with(&["127.0.0.1", &port])
        .stdin(Input::File(file))
        .stdout(Output::Null)
        .spawn();
    let received = listener.finish();
    received.assert_code(0);
    assert_same_bytes(&received.stdout, &data);
    rnc.finish().assert_code(0);
}

/// rnc listens and receives (idle stdin pipe); the tool connects and sends a file.
fn tool_client_sends_to_rnc(tool: Tool) {
    let Some(path) = tool.path() else { return };
    let dir = temp_dir();
    let data = pseudo_random(SIZE, 32);
    let file = write_file(dir.path(), "f", &data);
    let mut rnc = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let client = spawn_tool(&path, &tool.client_args(port), Input::File(file));
    let received = rnc.finish();
    received.assert_code(0);
    assert_same_bytes(&received.stdout, &data);
    client.finish().assert_code(0);
}

/// rnc listens and sends a file; the tool connects with stdin at EOF and receives it.
fn rnc_listener_sends_to_tool(tool: Tool) {
    let Some(path) = tool.path() else { return };
    let dir = temp_dir();
    let data = pseudo_random(SIZE, 33);
    let file = write_file(dir.path(), "f", &data);
    let mut rnc = Rnc::with(&["-l", "127.0.0.1", "0"])
        .stdin(Input::File(file))
        .spawn();
    let port = rnc.listening_port();
    // The tool half-closes at once; rnc, with a file on stdin, still sends all of it.
    let client = spawn_tool(&path, &tool.client_args(port), Input::Null);
    let received = client.finish();
    received.assert_code(0);
    assert_same_bytes(&received.stdout, &data);
    rnc.finish().assert_code(0);
}

#[test]
fn interop_nc_listener_sends_to_rnc() {
    tool_listener_sends_to_rnc(Tool::Nc);
}

#[test]
fn interop_ncat_listener_sends_to_rnc() {
    tool_listener_sends_to_rnc(Tool::Ncat);
}

#[test]
fn interop_socat_listener_sends_to_rnc() {
    tool_listener_sends_to_rnc(Tool::Socat);
}

#[test]
fn interop_rnc_sends_to_nc_listener() {
    rnc_sends_to_tool_listener(Tool::Nc);
}

#[test]
fn interop_rnc_sends_to_ncat_listener() {
    rnc_sends_to_tool_listener(Tool::Ncat);
}

#[test]
fn interop_rnc_sends_to_socat_listener() {
    rnc_sends_to_tool_listener(Tool::Socat);
}

#[test]
fn interop_nc_client_sends_to_rnc_listener() {
    tool_client_sends_to_rnc(Tool::Nc);
}

#[test]
fn interop_ncat_client_sends_to_rnc_listener() {
    tool_client_sends_to_rnc(Tool::Ncat);
}

#[test]
fn interop_socat_client_sends_to_rnc_listener() {
    tool_client_sends_to_rnc(Tool::Socat);
}

#[test]
fn interop_rnc_listener_sends_to_nc_client() {
    rnc_listener_sends_to_tool(Tool::Nc);
}

#[test]
fn interop_rnc_listener_sends_to_ncat_client() {
    rnc_listener_sends_to_tool(Tool::Ncat);
}

#[test]
fn interop_rnc_listener_sends_to_socat_client() {
    rnc_listener_sends_to_tool(Tool::Socat);
}

#[test]
fn interop_socat_unix_listener_with_rnc_client() {
    let Some(socat) = Tool::Socat.path() else {
        return;
    };
    let dir = temp_dir();
    let path = dir.path().join("s");
    let path_text = path.to_str().unwrap();
    let mut listener = Rnc::tool(
        &socat,
        &[
            "-d",
            "-d",
            "-t",
            "10",
            &format!("UNIX-LISTEN:{path_text}"),
            "STDIO",
        ],
    )
    .spawn();
    listener.wait_stderr("listening on");
    let mut rnc = Rnc::spawn(&["-U", path_text]);
    rnc.write_stdin(b"from rnc\n");
    assert_eq!(listener.stdout_exact(9), b"from rnc\n");
    listener.write_stdin(b"from socat\n");
    assert_eq!(rnc.stdout_exact(11), b"from socat\n");
    rnc.close_stdin();
    listener.close_stdin();
    rnc.finish().assert_code(0);
    listener.finish().assert_code(0);
}

#[test]
fn interop_nc_unix_client_with_rnc_listener() {
    let Some(nc) = Tool::Nc.path() else { return };
    let dir = temp_dir();
    let path = dir.path().join("s");
    let path_text = path.to_str().unwrap();
    let mut rnc = Rnc::spawn(&["-v", "-l", "-U", path_text]);
    assert_eq!(rnc.listening_addr(), path_text);
    let mut client = Rnc::tool(&nc, &["-N", "-U", path_text]).spawn();
    client.write_stdin(b"from nc\n");
    assert_eq!(rnc.stdout_exact(8), b"from nc\n");
    rnc.write_stdin(b"from rnc\n");
    assert_eq!(client.stdout_exact(9), b"from rnc\n");
    client.close_stdin();
    rnc.close_stdin();
    rnc.finish().assert_code(0);
    client.finish().assert_code(0);
    assert!(!path.exists(), "rnc left its socket file");
}

#[test]
fn interop_nc_udp_client_with_rnc_listener() {
    let Some(nc) = Tool::Nc.path() else { return };
    let mut rnc = Rnc::spawn(&["-u", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port().to_string();
    let mut client = Rnc::tool(&nc, &["-u", "127.0.0.1", &port]).spawn();
    client.write_stdin(b"hi rnc\n");
    assert_eq!(rnc.stdout_exact(7), b"hi rnc\n");
    rnc.write_stdin(b"hi nc\n");
    assert_eq!(client.stdout_exact(6), b"hi nc\n");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn interop_http_get_with_crlf() {
    let Some(python) = installed_tool("python3") else {
        return;
    };
    let dir = temp_dir();
    let body = b"hello from a real web server\n";
    write_file(dir.path(), "file.txt", body);
    let script = "import functools, http.server, sys\n\
                  handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
                  server = http.server.HTTPServer(('127.0.0.1', 0), handler)\n\
                  print(server.server_address[1], flush=True)\n\
                  server.serve_forever()\n";
    let mut server = Rnc::tool(&python, &["-c", script, dir.path().to_str().unwrap()]).spawn();
    let port = server.stdout_line();

    let mut rnc = Rnc::spawn(&["-C", "127.0.0.1", &port]);
    rnc.write_stdin(b"GET /file.txt HTTP/1.0\n\n");
    rnc.close_stdin();
    let exit = rnc.finish();
    exit.assert_code(0);
    let response = exit.stdout_text();
    assert!(
        response.starts_with("HTTP/1.0 200 "),
        "response:\n{response}"
    );
    let (_, got_body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in:\n{response}"));
    assert_eq!(got_body.as_bytes(), body);
    // The server logged the request line as it arrived, with CRLF stripped.
    server.wait_stderr("\"GET /file.txt HTTP/1.0\" 200");
}
