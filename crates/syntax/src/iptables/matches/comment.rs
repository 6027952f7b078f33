//! `-m comment --comment TEXT`: a note on the rule, at most 255 bytes.

use crate::iptables::ext::*;
use rampart_model::matches::comment::Comment;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "comment",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["comment"], Arity::One)],
    build,
};

/// `XT_MAX_COMMENT_LEN - 1`.
const MAX_LEN: usize = 255;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "comment") else {
        return Err(cx
            .error("`-m comment` needs `--comment TEXT`")
            .with_help("add `--comment \"why this rule exists\"`"));
    };
    o.check_invert(false)?;
    let t = o.arg();
    if t.text.len() > MAX_LEN {
        return Err(RuleError::new(
            t.span,
            format!(
                "comment is {} bytes long; the kernel keeps at most {MAX_LEN}",
                t.text.len()
            ),
        ));
    }
    Ok(Match::Comment(Comment { comment: t.text }))
}

pub(crate) fn save(m: &Comment, _: &SaveCtx, out: &mut String) {
    out.push_str(" --comment");
    save_string(out, &m.comment);
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn quoting_follows_xtables_save_string() {
        // Each checked against iptables 1.8.9.
        for (input, printed) in [
            ("foo", "foo"),
            ("foo.bar", "\"foo.bar\""),
            ("\"it's\"", "\"it\\'s\""),
            ("'a\"b'", "\"a\\\"b\""),
            ("''", "\"\""),
            ("\"a\\\\b\"", "\"a\\\\b\""),
            ("'two words'", "\"two words\""),
        ] {
            assert_eq!(
                roundtrip(&format!("-m comment --comment {input}"), Family::Ipv4)
                    .expect("valid test input"),
                format!("-m comment --comment {printed}"),
                "{input}"
            );
        }
    }

    #[test]
    fn length_limit() {
        let ok = "x".repeat(255);
        assert!(roundtrip(&format!("-m comment --comment {ok}"), Family::Ipv4).is_ok());
        assert!(roundtrip(&format!("-m comment --comment {ok}x"), Family::Ipv4).is_err());
        assert!(roundtrip("-m comment ! --comment x", Family::Ipv4).is_err());
    }
}
