//! `-m helper`: `--helper NAME`.

use crate::iptables::ext::*;
use rampart_model::matches::helper::Helper;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "helper",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["helper"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "helper") else {
        return Err(cx
            .error("`helper` needs `--helper NAME`")
            .with_help("e.g. `-m helper --helper ftp`"));
    };
    let arg = o.arg();
    if arg.text.len() > Helper::MAX_LEN {
        // iptables would cut the name silently; say so instead.
        return Err(RuleError::new(
            arg.span,
            format!(
                "helper name `{}` is longer than {} bytes",
                arg.text,
                Helper::MAX_LEN
            ),
        ));
    }
    Ok(Match::Helper(Helper {
        name: Neg::inverted(arg.text.clone(), o.invert),
    }))
}

pub(crate) fn save(m: &Helper, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.name.invert, "helper");
    save_string(out, &m.name.value);
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn quoting_and_limits() {
        assert_eq!(
            roundtrip("-m helper ! --helper ftp-2121"),
            Ok("-m helper ! --helper ftp-2121".into())
        );
        assert_eq!(
            roundtrip("-m helper --helper \"\""),
            Ok("-m helper --helper \"\"".into())
        );
        assert!(roundtrip("-m helper").is_err());
        assert!(roundtrip("-m helper --helper 0123456789012345678901234567890").is_err());
    }
}
