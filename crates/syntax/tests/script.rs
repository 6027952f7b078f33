//! The shell-script front end: realistic scripts, pasted-text hazards,
//! unsupported constructs, and golden files of the diagnostics
//! (`tests/golden/script/*.txt`; run with `UPDATE_GOLDEN=1` to rewrite
//! them after a deliberate change, then review the diff).

#![allow(clippy::unwrap_used)] // tests panic on purpose

use rampart_model::{ElemPart, Family, IpNet, Policy, SetKind, TableKind, Target};
use rampart_syntax::diag::SourceFile;
use rampart_syntax::script::{
    fix_pasted_text, ipset_save_text, looks_like_script, parse_ipset_save, parse_script,
};
use rampart_syntax::Parsed;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn load(name: &str) -> SourceFile {
    let path = dir().join("script").join(name);
    let text = std::fs::read_to_string(&path).expect("test script exists");
    SourceFile::new(format!("tests/script/{name}"), text)
}

fn parse(name: &str) -> Parsed<Policy> {
    parse_script(&load(name))
}

fn chain_len(p: &Policy, f: Family, t: TableKind, c: &str) -> usize {
    p.table(f, t)
        .and_then(|t| t.chain(c))
        .map_or(0, |c| c.rules.len())
}

/// Diagnostics rendered as the CLI prints them, plus a one-line summary of
/// what was read.
fn render(parsed: &Parsed<Policy>) -> String {
    let p = &parsed.value;
    format!(
        "{}-- {} rule(s), {} set(s), {} sysctl(s), {} diagnostic(s)\n",
        parsed.diagnostics,
        p.rule_count(),
        p.sets.len(),
        p.sysctls.len(),
        parsed.diagnostics.len()
    )
}

fn golden(name: &str) {
    let parsed = parse(&format!("{name}.sh"));
    let got = render(&parsed);
    let path = dir().join("golden/script").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "diagnostics of {name}.sh differ from {}; rerun with UPDATE_GOLDEN=1 and review the diff\n--- got ---\n{got}\n--- want ---\n{want}",
        path.display()
    );
}

#[test]
fn golden_webserver() {
    golden("webserver");
}

#[test]
fn golden_unsupported() {
    golden("unsupported");
}

#[test]
fn golden_pasted() {
    golden("pasted");
}

#[test]
#[ignore = "needs the set match (m2)"]
fn golden_blocklist() {
    golden("blocklist");
}

#[test]
fn web_server_script_with_variables_continuations_and_sudo() {
    let parsed = parse("webserver.sh");
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    let v4 = p.table(Family::Ipv4, TableKind::Filter).unwrap();
    let input = v4.chain("INPUT").unwrap();
    assert_eq!(input.policy, Some(rampart_model::ChainPolicy::Drop));
    // lo, ssh, 80, 443, then 8080 inserted first, then the jump.
    assert_eq!(input.rules.len(), 6);
    assert_eq!(
        input.rules[5].target,
        Some(Target::Jump {
            chain: "LOGDROP".into()
        })
    );
    let ssh = &input.rules[2];
    assert_eq!(
        ssh.source.unwrap().value,
        IpNet::new([198, 51, 100, 0].into(), 24).unwrap()
    );
    // The continued command's origin is its first line.
    let o = ssh.origin.as_ref().unwrap();
    assert_eq!((o.line, o.column), (22, 1));
    assert_eq!(o.file, "tests/script/webserver.sh");
    assert_eq!(chain_len(p, Family::Ipv4, TableKind::Filter, "LOGDROP"), 1);
    assert_eq!(chain_len(p, Family::Ipv6, TableKind::Filter, "INPUT"), 2);
    assert_eq!(chain_len(p, Family::Ipv4, TableKind::Raw, "PREROUTING"), 1);
    // `exit 0` ends the script: the last line is not read.
    assert_eq!(p.rule_count(), 6 + 1 + 2 + 1);
    let sysctls: Vec<(&str, &str)> = p
        .sysctls
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    assert_eq!(
        sysctls,
        [
            ("net.ipv4.tcp_syncookies", "1"),
            ("net.ipv4.ip_forward", "0"),
            ("net.ipv4.conf.all.rp_filter", "1"),
            ("net.ipv6.conf.all.forwarding", "0"),
        ]
    );
    assert!(looks_like_script(&load("webserver.sh").text));
}

#[test]
fn ipset_blocklist_sets() {
    let parsed = parse("blocklist.sh");
    // Until the set match lands, only the two `-m set` lines may fail.
    for d in parsed.diagnostics.errors() {
        assert!(d.line >= 13, "{d}");
    }
    let p = &parsed.value;
    let bl = p.set("blocklist").unwrap();
    assert_eq!(bl.kind, SetKind::HashNet);
    assert_eq!(bl.family, Some(Family::Ipv4));
    assert_eq!(bl.options.hashsize, Some(4096));
    assert_eq!(bl.elements.len(), 3);
    assert!(matches!(bl.elements[2].parts[0], ElemPart::Range(..)));
    assert_eq!(p.set("blocklist6").unwrap().family, Some(Family::Ipv6));
    let web = p.set("web").unwrap();
    assert_eq!(web.timeout, Some(3600));
    assert_eq!(web.elements[0].comment.as_deref(), Some("front end"));
    assert_eq!(web.elements[0].timeout, Some(60));
    // The printer and the save reader agree.
    let text = ipset_save_text(p);
    let again = parse_ipset_save(&SourceFile::new("sets", text.clone()));
    assert!(again.diagnostics.is_empty(), "{}", again.diagnostics);
    let mut a = again.value.sets.clone();
    let mut b = p.sets.clone();
    a.iter_mut().for_each(|s| s.origin = None);
    b.iter_mut().for_each(|s| s.origin = None);
    assert_eq!(a, b, "{text}");
}

#[test]
#[ignore = "needs the set match (m2)"]
fn ipset_blocklist_rules() {
    let parsed = parse("blocklist.sh");
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    assert_eq!(parsed.value.rule_count(), 2);
}

#[test]
fn every_pasted_character_gets_its_own_diagnostic() {
    let parsed = parse("pasted.sh");
    let d = &parsed.diagnostics.0;
    let at: Vec<(u32, u32, &str)> = d
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    let expect = [
        (3, 10, "en dash `\u{2013}` (U+2013) where `-` was meant"),
        (3, 26, "en dash `\u{2013}` (U+2013) where `-` was meant"),
        (3, 27, "en dash `\u{2013}` (U+2013) where `-` was meant"),
        (3, 37, "em dash `\u{2014}` (U+2014) where `-` was meant"),
        (
            4,
            34,
            "left double quotation mark `\u{201C}` (U+201C) where `\"` was meant",
        ),
        (
            4,
            39,
            "right double quotation mark `\u{201D}` (U+201D) where `\"` was meant",
        ),
        (
            4,
            44,
            "left single quotation mark `\u{2018}` (U+2018) where `'` was meant",
        ),
        (
            4,
            51,
            "right single quotation mark `\u{2019}` (U+2019) where `'` was meant",
        ),
        (
            5,
            9,
            "no-break space (U+00A0) where a plain space was meant",
        ),
        (5, 46, "invisible zero-width space (U+200B) in the command"),
        (6, 38, "minus sign `\u{2212}` (U+2212) where `-` was meant"),
        (7, 26, "unknown option `--dportt`"),
    ];
    assert_eq!(at.len(), expect.len(), "{}", parsed.diagnostics);
    for (got, want) in at.iter().zip(expect) {
        assert_eq!((got.0, got.1), (want.0, want.1), "{got:?}");
        assert!(got.2.starts_with(want.2), "{got:?} vs {want:?}");
    }
    // Every hazard offers --fix, and the caret is one character wide.
    for x in d.iter().filter(|d| d.line < 7) {
        assert!(x.help.as_deref().unwrap_or("").contains("--fix"));
        assert_eq!(x.width, 1);
    }
    // The rules were still read, as if fixed.
    assert_eq!(parsed.value.rule_count(), 4);
}

#[test]
fn fix_pasted_text_makes_the_script_parse_clean() {
    let file = load("pasted.sh");
    let (fixed, n) = fix_pasted_text(&file.text);
    assert_eq!(n, 11);
    assert!(fixed.contains("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n"));
    assert!(fixed.contains("# Copied from a blog \u{2014} comments are fine."));
    let parsed = parse_script(&SourceFile::new("fixed.sh", fixed.clone()));
    let errs: Vec<String> = parsed
        .diagnostics
        .errors()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(errs, ["unknown option `--dportt`"]);
    assert_eq!(parsed.value.rule_count(), 4);
    // Fixing twice changes nothing more.
    assert_eq!(fix_pasted_text(&fixed), (fixed.clone(), 0));
}

#[test]
fn unsupported_constructs_name_their_line_and_reading_goes_on() {
    let parsed = parse("unsupported.sh");
    let errs: Vec<(u32, String)> = parsed
        .diagnostics
        .errors()
        .map(|d| (d.line, d.message.clone()))
        .collect();
    let has = |line: u32, needle: &str| {
        assert!(
            errs.iter().any(|(l, m)| *l == line && m.contains(needle)),
            "no error on line {line} containing {needle:?}:\n{}",
            parsed.diagnostics
        );
    };
    has(
        3,
        "`for` loops are not supported; skipped to the matching `done` on line 5",
    );
    has(7, "`if` statements");
    has(10, "function definitions");
    has(13, "command substitution `$(...)`");
    has(14, "assignment on line 13 was not understood");
    has(15, "backticks");
    has(16, "variable `$SMTP_PORT` is not set");
    has(17, "pipelines");
    has(18, "`iptables-restore` loads a whole ruleset");
    has(19, "`ipset restore` loads sets");
    has(20, "`case` statements");
    has(23, "unknown option `--dportt`");
    has(24, "set `nosuch` does not exist");
    has(25, "reading another file with `source`");
    has(26, "`while` loops");
    has(27, "here-documents");
    // Lines after each error were still read: ports 25 and 2222.
    let input = parsed
        .value
        .table(Family::Ipv4, TableKind::Filter)
        .and_then(|t| t.chain("INPUT"))
        .unwrap();
    let lines: Vec<u32> = input
        .rules
        .iter()
        .filter_map(|r| r.origin.as_ref().map(|o| o.line))
        .collect();
    assert_eq!(lines, [6, 30]);
    // The here-document body was not read as a command.
    assert!(!errs.iter().any(|(l, _)| *l == 28));
}

#[test]
fn a_loop_reading_a_file_is_one_error() {
    let text =
        "while read ip; do\n  ipset add bad $ip\ndone < /etc/bad.txt\niptables -A INPUT -j DROP\n";
    let parsed = parse_script(&SourceFile::new("w.sh", text));
    assert_eq!(parsed.diagnostics.len(), 1, "{}", parsed.diagnostics);
    assert_eq!(parsed.value.rule_count(), 1);
}

#[test]
fn caret_points_into_the_original_line_after_a_continuation() {
    let text = "iptables -A INPUT \\\n    -p tcp --dportt 22 -j ACCEPT\n";
    let parsed = parse_script(&SourceFile::new("c.sh", text));
    let d = &parsed.diagnostics.0[0];
    assert_eq!(
        d.to_string(),
        "c.sh:2:12: error: unknown option `--dportt`\n 2 |     -p tcp --dportt 22 -j ACCEPT\n   |            ^^^^^^^^\n   = help: did you mean `--dport` (of `tcp`)?"
    );
}

#[test]
fn and_or_lists_follow_the_shell() {
    let text = "\
iptables -N A && iptables -A A -j RETURN
iptables -N A || iptables -F A
iptables -N A && iptables -A A -j DROP
iptables -N B 2>/dev/null
iptables -D INPUT -j B
iptables -N A
";
    let parsed = parse_script(&SourceFile::new("a.sh", text));
    let d: Vec<(u32, bool)> = parsed
        .diagnostics
        .0
        .iter()
        .map(|d| (d.line, d.is_error()))
        .collect();
    // Line 3: `-N A` fails (exists): an error, and `-A A -j DROP` is not run.
    // Line 5: deleting a rule that is not there: a warning.
    // Line 6: an error.
    assert_eq!(
        d,
        [(3, true), (5, false), (6, true)],
        "{}",
        parsed.diagnostics
    );
    let a = parsed
        .value
        .table(Family::Ipv4, TableKind::Filter)
        .and_then(|t| t.chain("A"))
        .unwrap();
    assert!(a.rules.is_empty());
}

#[test]
fn variables_defaults_and_field_splitting() {
    let text = "\
IPT=\"sudo /sbin/iptables -w\"
PORTS='22 80'
readonly NET=10.0.0.0/8
$IPT -A INPUT -s ${NET} -p tcp --dport ${SSH:-22} -j ACCEPT
$IPT -A INPUT -p tcp --dport ${WEB:=8080} -j ACCEPT
$IPT -A INPUT -p tcp --dport $WEB -j ACCEPT
unset WEB
$IPT -A INPUT -p tcp --dport \"$WEB\" -j ACCEPT
$IPT -A INPUT -p tcp --dport $PORTS -j ACCEPT
";
    let parsed = parse_script(&SourceFile::new("v.sh", text));
    let errs: Vec<(u32, u32, String)> = parsed
        .diagnostics
        .0
        .iter()
        .map(|d| (d.line, d.column, d.message.clone()))
        .collect();
    assert_eq!(errs.len(), 2, "{}", parsed.diagnostics);
    assert_eq!(
        (errs[0].0, errs[0].1, errs[0].2.as_str()),
        (8, 31, "variable `$WEB` is not set")
    );
    // `$PORTS` splits into two words: `80` is an unexpected word.
    assert_eq!(errs[1].0, 9);
    assert_eq!(parsed.value.rule_count(), 3);
}

#[test]
fn ipset_save_file_reports_every_error() {
    let text = "\
create a hash:ip family inet hashsize 1024 maxelem 65536
add a 192.0.2.1
add a 2001:db8::1
add b 192.0.2.2
create c hash:nett
add a 192.0.2.1
add a 192.0.2.3 timeout 5
";
    let parsed = parse_ipset_save(&SourceFile::new("s.ipset", text));
    let lines: Vec<u32> = parsed.diagnostics.0.iter().map(|d| d.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7], "{}", parsed.diagnostics);
    let d = &parsed.diagnostics.0[0];
    assert_eq!((d.column, d.width), (7, 11));
    assert!(parsed.diagnostics.0[1]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("ipset create b"));
    assert_eq!(parsed.value.sets[0].elements.len(), 1);
}

#[test]
fn sysctl_and_echo_forms() {
    let text = "\
echo 1 > /proc/sys/net/ipv4/ip_forward
echo -n '0' >/proc/sys/net/ipv4/conf/all/accept_redirects
sysctl net.ipv4.tcp_rmem='4096 87380 6291456'
sysctl -w net.ipv4.ip_forward=0
echo 1 > /proc/sys/net/ipv4/conf/*/rp_filter
sysctl -p /etc/sysctl.d/fw.conf
";
    let parsed = parse_script(&SourceFile::new("k.sh", text));
    let p = &parsed.value;
    let kv: Vec<(&str, &str)> = p
        .sysctls
        .iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect();
    assert_eq!(
        kv,
        [
            ("net.ipv4.ip_forward", "0"),
            ("net.ipv4.conf.all.accept_redirects", "0"),
            ("net.ipv4.tcp_rmem", "4096 87380 6291456"),
        ]
    );
    let lines: Vec<u32> = parsed.diagnostics.0.iter().map(|d| d.line).collect();
    assert_eq!(lines, [5, 6], "{}", parsed.diagnostics);
}

/// Arbitrary input never panics (a small stand-in for the fuzzer).
#[test]
fn never_panics_on_odd_input() {
    let pieces = [
        "iptables",
        " -A",
        " INPUT",
        "'",
        "\"",
        "\\",
        "\n",
        "$",
        "${",
        "}",
        "$(",
        ")",
        "(",
        "`",
        "#",
        ";",
        "&&",
        "||",
        "|",
        "<<",
        ">",
        "2>&1",
        "for",
        "do",
        "done",
        "\u{2013}",
        "\u{201C}",
        "\u{00A0}",
        "é",
        "ipset",
        " add",
        " create",
        " x",
        " hash:ip",
        " 1.2.3.4",
        "X=1",
        "$X",
        "${X:-",
        "{",
        "if",
        "fi",
        "case",
        "esac",
        "f()",
        "\r",
        " -I INPUT 0",
        " -R INPUT 0",
        " -D INPUT 0",
        " -D INPUT 1",
        " -E INPUT X",
        " -X",
        " -N X",
        " -j X",
        "sysctl a=",
        "echo 1 >/proc/sys/",
        " -exist",
        " 10.0.0.0/0",
        " del",
        "ip6tables",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20000 {
        let mut s = String::new();
        for _ in 0..(next() % 24) {
            s.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let f = SourceFile::new("f.sh", s.clone());
        let _ = parse_script(&f);
        let _ = parse_ipset_save(&f);
        let _ = fix_pasted_text(&s);
        let _ = looks_like_script(&s);
    }
}
