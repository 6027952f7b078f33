//! `-m mac`: `[!] --mac-source XX:XX:XX:XX:XX:XX`.

use crate::iptables::ext::*;
use rampart_model::matches::mac::Mac;
use rampart_model::MacAddr;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mac",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["mac-source"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "mac-source") else {
        return Err(cx
            .error("`-m mac` needs `--mac-source`")
            .with_help("for example `-m mac --mac-source 00:11:22:33:44:55`"));
    };
    let tok = o.arg();
    // Colons only, exactly six groups of one or two hex digits.
    let mac = (!tok.text.contains('-'))
        .then(|| MacAddr::parse(&tok.text))
        .flatten()
        .ok_or_else(|| {
            RuleError::new(tok.span, format!("invalid MAC address `{}`", tok.text))
                .with_help("write six hex bytes separated by `:`, e.g. 00:11:22:33:44:55")
        })?;
    // There is no Ethernet source address after routing.
    cx.require_hook(&[Hook::Prerouting, Hook::Input, Hook::Forward])?;
    Ok(Match::Mac(Mac {
        source: Neg::inverted(mac, o.invert),
    }))
}

pub(crate) fn save(m: &Mac, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.source.invert, "mac-source", m.source.value);
}
