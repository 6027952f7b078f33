//! The built-in service catalogue: `service = ["ssh"]` instead of port
//! numbers.
//!
//! Left out on purpose: protocols that need a conntrack helper to work behind
//! a stateful firewall (ftp, tftp, sip, h323, pptp): opening their control
//! port alone does not make them work, and the helper assignment is not part
//! of the native format. Write their ports with `port = [..]` and configure
//! the helper yourself.

/// A named service: the destination ports it listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    /// TCP ports and ranges (inclusive).
    pub tcp: &'static [(u16, u16)],
    /// UDP ports and ranges (inclusive).
    pub udp: &'static [(u16, u16)],
    pub description: &'static str,
}

const fn svc(
    name: &'static str,
    tcp: &'static [(u16, u16)],
    udp: &'static [(u16, u16)],
    description: &'static str,
) -> Service {
    Service {
        name,
        tcp,
        udp,
        description,
    }
}

static CATALOGUE: &[Service] = &[
    svc("ssh", &[(22, 22)], &[], "Secure shell"),
    svc("http", &[(80, 80)], &[], "Web server (plain HTTP)"),
    svc("https", &[(443, 443)], &[], "Web server over TLS"),
    svc("http3", &[], &[(443, 443)], "HTTP/3 (QUIC) on 443/udp"),
    svc("http-alt", &[(8080, 8080)], &[], "Alternative HTTP port"),
    svc("smtp", &[(25, 25)], &[], "Mail transfer between servers"),
    svc(
        "submission",
        &[(587, 587)],
        &[],
        "Mail submission by clients (STARTTLS)",
    ),
    svc(
        "submissions",
        &[(465, 465)],
        &[],
        "Mail submission by clients over TLS (also called smtps)",
    ),
    svc(
        "smtps",
        &[(465, 465)],
        &[],
        "Alias of submissions (465/tcp)",
    ),
    svc("imap", &[(143, 143)], &[], "Mailbox access (IMAP)"),
    svc(
        "imaps",
        &[(993, 993)],
        &[],
        "Mailbox access over TLS (IMAPS)",
    ),
    svc("pop3", &[(110, 110)], &[], "Mailbox download (POP3)"),
    svc(
        "pop3s",
        &[(995, 995)],
        &[],
        "Mailbox download over TLS (POP3S)",
    ),
    svc("sieve", &[(4190, 4190)], &[], "ManageSieve mail filters"),
    svc("dns", &[(53, 53)], &[(53, 53)], "Domain name server"),
    svc("dot", &[(853, 853)], &[], "DNS over TLS"),
    svc("ntp", &[], &[(123, 123)], "Network time"),
    svc("openvpn", &[], &[(1194, 1194)], "OpenVPN (default port)"),
    svc(
        "wireguard",
        &[],
        &[(51820, 51820)],
        "WireGuard (default port)",
    ),
    svc(
        "ipsec",
        &[],
        &[(500, 500), (4500, 4500)],
        "IKE and IPsec NAT-T",
    ),
    svc("mysql", &[(3306, 3306)], &[], "MySQL / MariaDB"),
    svc("postgresql", &[(5432, 5432)], &[], "PostgreSQL"),
    svc("redis", &[(6379, 6379)], &[], "Redis"),
    svc("mongodb", &[(27017, 27017)], &[], "MongoDB"),
    svc("memcached", &[(11211, 11211)], &[], "Memcached (TCP only)"),
    svc(
        "elasticsearch",
        &[(9200, 9200)],
        &[],
        "Elasticsearch HTTP API",
    ),
    svc("rsync", &[(873, 873)], &[], "rsync daemon"),
    svc("ldap", &[(389, 389)], &[], "LDAP"),
    svc("ldaps", &[(636, 636)], &[], "LDAP over TLS"),
    svc(
        "samba",
        &[(139, 139), (445, 445)],
        &[(137, 138)],
        "Windows file sharing (SMB and NetBIOS)",
    ),
    svc("nfs", &[(2049, 2049)], &[(2049, 2049)], "NFSv4"),
    svc(
        "plex",
        &[(32400, 32400)],
        &[(1900, 1900), (32410, 32410), (32412, 32412), (32414, 32414)],
        "Plex Media Server (web/app and local discovery)",
    ),
    svc(
        "jellyfin",
        &[(8096, 8096), (8920, 8920)],
        &[(1900, 1900), (7359, 7359)],
        "Jellyfin media server",
    ),
    svc(
        "jitsi",
        &[(80, 80), (443, 443), (4443, 4443)],
        &[(10000, 10000)],
        "Jitsi Meet (web and video bridge)",
    ),
    svc(
        "syncthing",
        &[(22000, 22000)],
        &[(21027, 21027), (22000, 22000)],
        "Syncthing sync and discovery",
    ),
    svc("minecraft", &[(25565, 25565)], &[], "Minecraft Java server"),
    svc(
        "mosquitto",
        &[(1883, 1883), (8883, 8883)],
        &[],
        "MQTT broker",
    ),
    svc("prometheus", &[(9090, 9090)], &[], "Prometheus server"),
    svc(
        "node-exporter",
        &[(9100, 9100)],
        &[],
        "Prometheus node exporter",
    ),
    svc("grafana", &[(3000, 3000)], &[], "Grafana"),
    svc("cockpit", &[(9090, 9090)], &[], "Cockpit web console"),
    svc(
        "kubernetes-api",
        &[(6443, 6443)],
        &[],
        "Kubernetes API server",
    ),
    svc("docker-registry", &[(5000, 5000)], &[], "Docker registry"),
    svc("snmp", &[], &[(161, 161)], "SNMP agent"),
    svc("syslog", &[(514, 514)], &[(514, 514)], "Remote syslog"),
    svc("dhcp", &[], &[(67, 67)], "DHCP server (IPv4)"),
    svc("dhcpv6", &[], &[(547, 547)], "DHCPv6 server"),
    svc(
        "mdns",
        &[],
        &[(5353, 5353)],
        "Multicast DNS (Avahi, Bonjour)",
    ),
    svc("tor", &[(9001, 9001)], &[], "Tor relay (ORPort)"),
];

/// Every built-in service, in catalogue order.
pub fn service_catalogue() -> &'static [Service] {
    CATALOGUE
}

/// The service of this name.
pub fn service(name: &str) -> Option<&'static Service> {
    CATALOGUE.iter().find(|s| s.name == name)
}

/// Names helpers-based protocols that are refused with a reason.
pub(crate) fn refused_service(name: &str) -> Option<&'static str> {
    match name {
        "ftp" | "tftp" | "sip" | "h323" | "pptp" | "irc" => Some(
            "needs a conntrack helper to pass a stateful firewall; open its ports with `port = [..]` and assign the helper yourself",
        ),
        _ => None,
    }
}
