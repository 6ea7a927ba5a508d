//! Which destinations outgoing requests may reach. By default rustyhook refuses loopback,
//! private, link-local, shared (CGNAT), multicast and unspecified addresses, so that an endpoint
//! URL cannot be used to probe the network rustyhook runs in (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether outgoing requests to `ip` are refused unless private networks are allowed.
pub fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_restricted_v4(v4);
            }
            let s = v6.segments();
            let first = s[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // IPv4-compatible ::a.b.c.d (deprecated by RFC 4291): never a real destination,
                // and some stacks route ::127.0.0.1 to loopback.
                || s[..6] == [0; 6]
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
                || (first == 0x2001 && s[1] == 0xdb8) // documentation 2001:db8::/32
        }
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach (or are translated to)
/// that IPv4 host: mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d` (RFC 2765), NAT64
/// `64:ff9b::/96` and `64:ff9b:1::/48` (RFC 6052, 8215), and 6to4 `2002:AABB:CCDD::/48`.
/// Checking only the IPv6 form would let `[::ffff:0:7f00:1]` reach loopback.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Some(Ipv4Addr::new(a, b, c, d))
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => tail(hi, lo),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => tail(hi, lo),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => tail(hi, lo),
        [0x64, 0xff9b, 1, ..] => tail(s[6], s[7]),
        [0x2002, hi, lo, ..] => tail(hi, lo),
        _ => None,
    }
}

fn is_restricted_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_destinations() {
        let cases = [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("8.8.8.8", false),
            ("93.184.216.34", false),
            ("::1", true),
            ("::", true),
            ("fe80::1", true),
            ("fd00::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:8.8.8.8", false),
            ("64:ff9b::a00:1", true),
            ("64:ff9b::808:808", false),
            ("64:ff9b:1::7f00:1", true),
            ("::127.0.0.1", true),
            ("::8.8.8.8", true),
            ("::ffff:0:7f00:1", true),
            ("::ffff:0:808:808", false),
            ("::ffff:7f00:1", true),
            ("::ffff:a9fe:a9fe", true),
            ("2002:7f00:1::1", true),
            ("2002:c0a8:101::1", true),
            ("2002:808:808::1", false),
            ("100::1", true),
            ("2001:db8::1", true),
            ("ff02::1", true),
            ("2606:4700:4700::1111", false),
        ];
        for (ip, restricted) in cases {
            let parsed: IpAddr = ip.parse().expect("test addresses are valid");
            assert_eq!(is_restricted(parsed), restricted, "{ip}");
        }
    }
}
