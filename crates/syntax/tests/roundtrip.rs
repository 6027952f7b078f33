//! Property test: import → print → import gives the same model, on
//! generated rulesets that mix generic options, match extensions and
//! targets across the filter, nat, mangle and raw tables of both families.

use proptest::prelude::*;
use rampart_model::{Family, Policy};
use rampart_syntax::{iptables, Diagnostics, SourceFile};

/// Match snippets valid in any chain of the filter table (IPv4).
const MATCHES_V4: &[&str] = &[
    "-p tcp -m tcp --dport 22",
    "-p tcp -m tcp ! --sport 1024:65535 --dport 80",
    "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN",
    "-p udp -m udp --dport 53",
    "-p udp -m multiport --dports 5353,32410:32414",
    "-p tcp -m multiport --sports 80,443",
    "-p icmp -m icmp --icmp-type 8",
    "-p icmp -m icmp --icmp-type 3/4",
    "-m conntrack --ctstate RELATED,ESTABLISHED",
    "-m conntrack --ctstate INVALID",
    "-m conntrack ! --ctstate NEW --ctdir REPLY",
    "-m state --state NEW",
    "-m limit --limit 5/min --limit-burst 10",
    "-m hashlimit --hashlimit-upto 4/min --hashlimit-burst 4 --hashlimit-mode srcip --hashlimit-name ssh",
    "-p tcp -m connlimit --connlimit-above 20 --connlimit-mask 32 --connlimit-saddr",
    "-m recent --set --name SSH --mask 255.255.255.255 --rsource",
    "-m recent --update --seconds 60 --hitcount 4 --name SSH --mask 255.255.255.255 --rsource",
    "-m comment --comment \"a comment with spaces\"",
    "-m set --match-set blocklist src",
    "-m set ! --match-set allow src,dst",
    "-m iprange --src-range 10.0.0.1-10.0.0.9",
    "-m addrtype --dst-type LOCAL",
    "-m mac --mac-source 00:11:22:33:44:55",
    "-m mark --mark 0x1/0xff",
    "-m connmark --mark 0x2",
    "-m length --length 0:64",
    "-m ttl --ttl-lt 5",
    "-m pkttype --pkt-type broadcast",
    "-m string --string \"GET /wp-login.php\" --algo bm --to 65535",
    "-m time --timestart 08:00:00 --timestop 18:00:00 --weekdays Mon,Tue,Wed,Thu,Fri",
];

const TARGETS_FILTER: &[&str] = &[
    "-j ACCEPT",
    "-j DROP",
    "-j RETURN",
    "-j REJECT --reject-with icmp-port-unreachable",
    "-j REJECT --reject-with icmp-host-prohibited",
    "-j LOG --log-prefix \"drop: \" --log-level 6",
    "-j NFLOG --nflog-group 2",
    "-j NFQUEUE --queue-num 3 --queue-bypass",
    "",
];

fn addr_v4() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), 8u8..=32, any::<bool>()).prop_map(|(a, len, neg)| {
        format!(
            "{}-s {}.{}.{}.{}/{len}",
            if neg { "! " } else { "" },
            a[0],
            a[1],
            a[2],
            a[3]
        )
    })
}

fn rule_v4(chains: usize) -> impl Strategy<Value = String> {
    (
        proptest::option::of(addr_v4()),
        proptest::option::of(prop_oneof![
            Just("-i eth0"),
            Just("! -i lo"),
            Just("-i br+")
        ]),
        proptest::collection::vec(0..MATCHES_V4.len(), 0..3),
        0..TARGETS_FILTER.len() + chains,
    )
        .prop_map(move |(addr, iface, ms, t)| {
            let mut parts: Vec<String> = Vec::new();
            if let Some(a) = addr {
                parts.push(a);
            }
            if let Some(i) = iface {
                parts.push(i.to_string());
            }
            // At most one snippet that sets -p.
            let mut has_proto = false;
            for m in ms {
                let s = MATCHES_V4[m];
                if s.starts_with("-p ") {
                    if has_proto {
                        continue;
                    }
                    has_proto = true;
                }
                parts.push(s.to_string());
            }
            if t < TARGETS_FILTER.len() {
                parts.push(TARGETS_FILTER[t].to_string());
            } else {
                parts.push(format!("-j USER{}", t - TARGETS_FILTER.len()));
            }
            parts.join(" ")
        })
}

fn ruleset_v4() -> impl Strategy<Value = String> {
    (0usize..3).prop_flat_map(|chains| {
        (
            proptest::collection::vec(rule_v4(chains), 0..12),
            proptest::collection::vec(rule_v4(0), 0..4),
            prop_oneof![Just("ACCEPT"), Just("DROP")],
        )
            .prop_map(move |(input, user, policy)| {
                let mut s = String::from("*filter\n");
                s.push_str(&format!(":INPUT {policy} [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"));
                for c in 0..chains {
                    s.push_str(&format!(":USER{c} - [0:0]\n"));
                }
                for r in &input {
                    s.push_str(&format!("-A INPUT {r}\n"));
                }
                if chains > 0 {
                    for r in &user {
                        s.push_str(&format!("-A USER0 {r}\n"));
                    }
                }
                s.push_str("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
                s.push_str("-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.20:80\n");
                s.push_str("-A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE\n");
                s.push_str("-A POSTROUTING -o eth1 -j SNAT --to-source 198.51.100.2\n");
                s.push_str("COMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
                s.push_str("-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n");
                s.push_str("-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\n");
                s.push_str("COMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
                s.push_str("-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack\n");
                s.push_str("COMMIT\n");
                s
            })
    })
}

fn import(text: &str, family: Family) -> (Policy, Diagnostics) {
    let file = SourceFile::new("gen.rules", text.to_string());
    let parsed = iptables::parse_save(&file, family);
    (parsed.value, parsed.diagnostics)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn import_print_import_is_identity(text in ruleset_v4()) {
        let (mut first, diags) = import(&text, Family::Ipv4);
        prop_assert!(diags.is_empty(), "generated ruleset did not import:\n{}\n{}", text, diags);
        let printed = iptables::save_text(&first, Family::Ipv4);
        let (mut second, diags) = import(&printed, Family::Ipv4);
        prop_assert!(diags.is_empty(), "printed ruleset did not import:\n{}\n{}", printed, diags);
        first.strip_origins();
        second.strip_origins();
        prop_assert_eq!(&first, &second);
        // Printing is stable: the second print equals the first.
        prop_assert_eq!(iptables::save_text(&second, Family::Ipv4), printed);
    }
}
