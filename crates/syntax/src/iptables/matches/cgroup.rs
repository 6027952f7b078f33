//! `-m cgroup` (revision 2): `[!] --cgroup CLASSID` or `[!] --path PATH`.

use crate::iptables::ext::*;
use rampart_model::matches::cgroup::Cgroup;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cgroup",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["cgroup"], Arity::One),
        OptSpec::new(&["path"], Arity::One),
    ],
    build,
};

/// `XT_CGROUP_PATH_MAX` less the terminating NUL.
const PATH_MAX: usize = 511;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Cgroup::default();
    for (i, o) in opts.iter().enumerate() {
        if i > 0 {
            return Err(
                RuleError::new(o.span, "`--cgroup` and `--path` cannot be used together")
                    .with_help(
                        "`--cgroup` is a cgroup v1 class id, `--path` a cgroup v2 path; give one",
                    ),
            );
        }
        match o.name {
            "cgroup" => {
                m.classid = Some(Neg::inverted(parse_u32(&o.arg(), "class id")?, o.invert));
            }
            "path" => {
                let tok = o.arg();
                if tok.text.len() > PATH_MAX {
                    return Err(RuleError::new(
                        tok.span,
                        format!("cgroup path is longer than {PATH_MAX} bytes"),
                    ));
                }
                m.path = Some(Neg::inverted(tok.text.clone(), o.invert));
            }
            _ => {}
        }
    }
    if opts.is_empty() {
        return Err(cx
            .error("`-m cgroup` needs `--cgroup` or `--path`")
            .with_help("for example `-m cgroup --path user.slice`"));
    }
    // Only local sockets have a cgroup.
    cx.require_hook(&[Hook::Input, Hook::Output, Hook::Postrouting])?;
    Ok(Match::Cgroup(m))
}

pub(crate) fn save(m: &Cgroup, _: &SaveCtx, out: &mut String) {
    if let Some(p) = &m.path {
        save_opt(out, p.invert, "path");
        save_string(out, &p.value);
    }
    if let Some(c) = m.classid {
        save_opt_val(out, c.invert, "cgroup", c.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_like_xtables_save_string() {
        let mut out = String::new();
        save_string(&mut out, "/");
        save_string(&mut out, "");
        save_string(&mut out, "user-1_x");
        save_string(&mut out, "a\"b");
        assert_eq!(out, r#" "/" "" user-1_x "a\"b""#);
    }
}
