//! rampart's built-in detectors: filters in fail2ban syntax shipped inside
//! the binary (`crates/guard/filters/*.conf`), so the common cases need no
//! fail2ban installation. They are rampart's own text (MIT OR Apache-2.0),
//! written with the injection rules of this crate's tests in mind.

use rampart_syntax::fail2ban::{ConfigSet, FilterDef};
use std::collections::BTreeMap;

/// (name, what it detects, file text).
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "sshd",
        "OpenSSH authentication failures (auth.log / journal)",
        include_str!("../../filters/sshd.conf"),
    ),
    (
        "nginx-auth",
        "nginx basic-auth failures (error.log)",
        include_str!("../../filters/nginx-auth.conf"),
    ),
    (
        "apache-auth",
        "Apache httpd authentication failures (error.log)",
        include_str!("../../filters/apache-auth.conf"),
    ),
    (
        "http-4xx",
        "HTTP 4xx answers, for burst limits (access.log)",
        include_str!("../../filters/http-4xx.conf"),
    ),
    (
        "http-badbots",
        "scanners and bad bots by User-Agent (access.log)",
        include_str!("../../filters/http-badbots.conf"),
    ),
    (
        "http-rate",
        "every HTTP request, for per-address rate limits (access.log)",
        include_str!("../../filters/http-rate.conf"),
    ),
    (
        "wordpress",
        "POSTs to wp-login.php and xmlrpc.php (access.log)",
        include_str!("../../filters/wordpress.conf"),
    ),
    (
        "postfix-sasl",
        "Postfix SMTP AUTH failures (mail.log)",
        include_str!("../../filters/postfix-sasl.conf"),
    ),
    (
        "dovecot",
        "Dovecot IMAP/POP3 login failures (mail.log)",
        include_str!("../../filters/dovecot.conf"),
    ),
];

/// The definition of a built-in detector, with filter arguments.
pub fn builtin(name: &str, args: &BTreeMap<String, String>) -> Option<FilterDef> {
    let (_, _, text) = BUILTIN.iter().find(|(n, _, _)| *n == name)?;
    let set = ConfigSet::from_text(&format!("builtin:{name}"), text);
    FilterDef::from_set(name, &set, args).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{CompileOptions, Filter};

    #[test]
    fn every_builtin_compiles_with_a_prefilter() {
        for (name, _, _) in BUILTIN {
            let def = builtin(name, &BTreeMap::new()).expect(name);
            let f = Filter::compile(&def, &CompileOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(f.notes()[0].starts_with("literal prefilter: "), "{name}");
        }
    }
}
