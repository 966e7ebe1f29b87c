//! Host, port and port-list parsing (`config/address.rs`, `config/ports.rs`) on any text:
//! no panic; a port is digits that `u16` takes (0 only where allowed) or a service name; a
//! literal address parses back to itself from its own text; a name is kept as written; a
//! port list is ascending, each port once, and its short description parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnc::config::address::{Host, parse_host, parse_port};
use rnc::config::ports::{describe_ports, is_port_list, parse_port_list, parse_scan_parallel};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (numeric, allow_zero) = (flags & 1 != 0, flags & 2 != 0);

    if let Ok(port) = parse_port(text, numeric, allow_zero) {
        assert!(allow_zero || port != 0, "{text:?}");
        if text.bytes().all(|b| b.is_ascii_digit()) {
            assert_eq!(text.parse::<u16>().ok(), Some(port), "{text:?}");
        } else {
            assert!(!numeric, "-n took the service name {text:?}");
        }
    }

    match parse_host(text, numeric) {
        Ok(Host::Literal { ip, scope_id }) => {
            let again = parse_host(&ip.to_string(), true).expect("an address's own text");
            assert_eq!(again, Host::Literal { ip, scope_id: 0 }, "{text:?}");
            assert!(scope_id == 0 || ip.is_ipv6(), "{text:?}");
        }
        Ok(Host::Name(name)) => {
            assert!(!numeric, "-n took the name {text:?}");
            assert_eq!(name, text);
        }
        Err(e) => assert!(!e.0.contains('\n'), "{e:?}"),
    }

    let _ = is_port_list(text);
    let _ = parse_scan_parallel(text);
    if let Ok(ports) = parse_port_list(&[text], numeric) {
        assert!(ports.windows(2).all(|w| w[0] < w[1]), "{text:?}");
        assert!(!ports.contains(&0), "{text:?}");
        if !ports.is_empty() {
            let short = describe_ports(&ports);
            assert_eq!(
                parse_port_list(&[&short], true).as_ref(),
                Ok(&ports),
                "{short}"
            );
        }
    }
});
