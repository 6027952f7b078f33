//! The JSON printer: a [`Ruleset`] in the libnftables JSON schema, for
//! `nft -j -f` (see `libnftables-json(5)`).
//!
//! The output mirrors the text printer command for command: each table is
//! added, deleted and added again (so loading replaces rampart's own tables
//! in one transaction and never touches tables of other owners), then its
//! sets, chains and rules are added.
//!
//! ```
//! let rs = rampart_nft::Ruleset::default();
//! let j = rampart_nft::to_json(&rs);
//! assert_eq!(j["nftables"][0]["metainfo"]["json_schema_version"], 1);
//! ```

use crate::ruleset::*;
use rampart_model::IpText;
use serde_json::{json, Map, Value};

/// The whole ruleset as one `{"nftables": [...]}` document.
pub fn to_json(rs: &Ruleset) -> Value {
    let mut cmds = vec![json!({"metainfo": {"json_schema_version": 1}})];
    for t in &rs.tables {
        let id = json!({"family": t.family.name(), "name": t.name});
        cmds.push(json!({"add": {"table": id.clone()}}));
        cmds.push(json!({"delete": {"table": id.clone()}}));
        cmds.push(json!({"add": {"table": id}}));
        for s in &t.sets {
            cmds.push(json!({"add": {"set": set(t, s)}}));
        }
        for c in &t.chains {
            cmds.push(json!({"add": {"chain": chain(t, c)}}));
        }
        for c in &t.chains {
            for r in &c.rules {
                let mut o = Map::new();
                o.insert("family".into(), t.family.name().into());
                o.insert("table".into(), t.name.clone().into());
                o.insert("chain".into(), c.name.clone().into());
                o.insert("expr".into(), r.stmts.iter().map(stmt).collect());
                if let Some(cm) = &r.comment {
                    o.insert("comment".into(), cm.clone().into());
                }
                cmds.push(json!({"add": {"rule": o}}));
            }
        }
    }
    json!({ "nftables": cmds })
}

fn set(t: &Table, s: &Set) -> Value {
    let mut o = Map::new();
    o.insert("family".into(), t.family.name().into());
    o.insert("table".into(), t.name.clone().into());
    o.insert("name".into(), s.name.clone().into());
    let types: Vec<Value> = s.key.iter().map(|k| k.name().into()).collect();
    o.insert(
        "type".into(),
        if types.len() == 1 {
            types[0].clone()
        } else {
            Value::Array(types)
        },
    );
    // `dynamic` is left out: nft 1.0.6's JSON parser rejects it, and nft
    // marks a set that a rule updates from the packet path by itself.
    let mut flags = Vec::new();
    if s.interval {
        flags.push("interval");
    }
    if s.timeout_flag {
        flags.push("timeout");
    }
    if !flags.is_empty() {
        o.insert("flags".into(), json!(flags));
    }
    if let Some(t) = s.timeout {
        o.insert("timeout".into(), t.into());
    }
    if let Some(n) = s.size {
        o.insert("size".into(), n.into());
    }
    // nft 1.0.6 reads but does not keep `auto-merge` from JSON; elements
    // that overlap then fail the load instead of being merged.
    if s.auto_merge {
        o.insert("auto-merge".into(), true.into());
    }
    if !s.elements.is_empty() {
        let elems: Vec<Value> = s
            .elements
            .iter()
            .map(|e| {
                let val = if e.key.len() == 1 {
                    expr(&e.key[0])
                } else {
                    json!({"concat": e.key.iter().map(expr).collect::<Vec<_>>()})
                };
                if e.timeout.is_none() && e.comment.is_none() {
                    return val;
                }
                let mut m = Map::new();
                m.insert("val".into(), val);
                if let Some(t) = e.timeout {
                    m.insert("timeout".into(), t.into());
                }
                if let Some(c) = &e.comment {
                    m.insert("comment".into(), c.clone().into());
                }
                json!({ "elem": m })
            })
            .collect();
        o.insert("elem".into(), elems.into());
    }
    Value::Object(o)
}

fn chain(t: &Table, c: &Chain) -> Value {
    let mut o = Map::new();
    o.insert("family".into(), t.family.name().into());
    o.insert("table".into(), t.name.clone().into());
    o.insert("name".into(), c.name.clone().into());
    if let Some(b) = &c.base {
        o.insert("type".into(), b.kind.name().into());
        o.insert("hook".into(), b.hook.name().into());
        o.insert("prio".into(), b.priority.value.into());
        o.insert(
            "policy".into(),
            match b.policy {
                ChainPolicy::Accept => "accept",
                ChainPolicy::Drop => "drop",
            }
            .into(),
        );
    }
    Value::Object(o)
}

/// One statement as a JSON object.
pub fn stmt(s: &Stmt) -> Value {
    match s {
        Stmt::Match(m) => {
            let op = match m.op {
                Op::AnyBit => "in",
                op => op.symbol(),
            };
            json!({"match": {"op": op, "left": expr(&m.left), "right": expr(&m.right)}})
        }
        Stmt::Counter => json!({"counter": {"packets": 0, "bytes": 0}}),
        Stmt::Limit(l) => limit(l),
        Stmt::CtCount { count, over } => {
            let mut o = Map::new();
            o.insert("val".into(), (*count).into());
            if *over {
                o.insert("inv".into(), true.into());
            }
            json!({ "ct count": o })
        }
        Stmt::SetUpdate(u) => {
            let elem = match u.timeout {
                None => expr(&u.key),
                Some(t) => json!({"elem": {"val": expr(&u.key), "timeout": t}}),
            };
            let mut o = Map::new();
            o.insert("op".into(), u.op.name().into());
            o.insert("elem".into(), elem);
            o.insert("set".into(), format!("@{}", u.set).into());
            if !u.stmts.is_empty() {
                o.insert("stmt".into(), u.stmts.iter().map(stmt).collect());
            }
            json!({ "set": o })
        }
        Stmt::Log(l) => {
            let mut o = Map::new();
            if let Some(p) = &l.prefix {
                o.insert("prefix".into(), p.clone().into());
            }
            if let Some(g) = l.group {
                o.insert("group".into(), g.into());
            }
            if let Some(n) = l.snaplen {
                o.insert("snaplen".into(), n.into());
            }
            if let Some(n) = l.queue_threshold {
                o.insert("queue-threshold".into(), n.into());
            }
            if let Some(lv) = l.level {
                o.insert("level".into(), lv.into());
            }
            let mut flags = Vec::new();
            for f in &l.flags {
                match *f {
                    "tcp sequence,options" => flags.extend(["tcp sequence", "tcp options"]),
                    f => flags.push(f),
                }
            }
            if !flags.is_empty() {
                o.insert("flags".into(), json!(flags));
            }
            json!({ "log": o })
        }
        Stmt::Reject(r) => match r {
            Reject::Icmp(t) => json!({"reject": {"type": "icmp", "expr": t}}),
            Reject::Icmpv6(t) => json!({"reject": {"type": "icmpv6", "expr": t}}),
            Reject::TcpReset => json!({"reject": {"type": "tcp reset"}}),
        },
        Stmt::Nat(n) => {
            let mut o = Map::new();
            if let Some(a) = &n.addr {
                o.insert("addr".into(), expr(a));
            }
            if let Some(p) = &n.port {
                o.insert("port".into(), expr(p));
            }
            if !n.flags.is_empty() {
                o.insert("flags".into(), json!(n.flags));
            }
            if n.prefix {
                o.insert("type_flags".into(), json!(["prefix"]));
            }
            let body = if o.is_empty() {
                Value::Null
            } else {
                Value::Object(o)
            };
            let mut m = Map::new();
            m.insert(n.kind.name().into(), body);
            Value::Object(m)
        }
        Stmt::Mangle { target, value } => {
            json!({"mangle": {"key": expr(target), "value": expr(value)}})
        }
        Stmt::Notrack => json!({ "notrack": null }),
        Stmt::Queue(q) => {
            let mut o = Map::new();
            o.insert("num".into(), expr(&q.num));
            let mut flags = Vec::new();
            if q.bypass {
                flags.push("bypass");
            }
            if q.fanout {
                flags.push("fanout");
            }
            if !flags.is_empty() {
                o.insert("flags".into(), json!(flags));
            }
            json!({ "queue": o })
        }
        Stmt::Verdict(v) => match v {
            Verdict::Accept => json!({ "accept": null }),
            Verdict::Drop => json!({ "drop": null }),
            Verdict::Return => json!({ "return": null }),
            Verdict::Jump(c) => json!({"jump": {"target": c}}),
            Verdict::Goto(c) => json!({"goto": {"target": c}}),
        },
    }
}

fn limit(l: &Limit) -> Value {
    let mut o = Map::new();
    o.insert("rate".into(), l.rate.into());
    o.insert("per".into(), l.unit.into());
    o.insert("burst".into(), l.burst.into());
    if l.over {
        o.insert("inv".into(), true.into());
    }
    json!({ "limit": o })
}

fn tcp_option_name(kind: u8) -> Value {
    match kind {
        0 => "eol".into(),
        1 => "nop".into(),
        2 => "maxseg".into(),
        3 => "window".into(),
        4 => "sack-perm".into(),
        5 => "sack".into(),
        8 => "timestamp".into(),
        n => n.to_string().into(),
    }
}

/// One expression as JSON.
pub fn expr(e: &Expr) -> Value {
    match e {
        Expr::Payload { proto, field } => {
            json!({"payload": {"protocol": proto.name(), "field": field}})
        }
        Expr::Meta(k) => json!({"meta": {"key": k.name()}}),
        Expr::Ct { dir, key } => {
            let mut o = Map::new();
            let k = match key {
                CtKey::Saddr(p) | CtKey::Daddr(p) => {
                    o.insert("family".into(), p.name().into());
                    if matches!(key, CtKey::Saddr(_)) {
                        "saddr".to_string()
                    } else {
                        "daddr".to_string()
                    }
                }
                k => k.name(),
            };
            o.insert("key".into(), k.into());
            if let Some(d) = dir {
                o.insert("dir".into(), d.name().into());
            }
            json!({ "ct": o })
        }
        Expr::Fib { daddr, iif, oif } => {
            let mut flags = vec![if *daddr { "daddr" } else { "saddr" }];
            if *iif {
                flags.push("iif");
            }
            if *oif {
                flags.push("oif");
            }
            json!({"fib": {"result": "type", "flags": flags}})
        }
        Expr::RtMtu => json!({"rt": {"key": "mtu"}}),
        Expr::TcpOptionExists { kind } => json!({"tcp option": {"name": tcp_option_name(*kind)}}),
        Expr::TcpMaxseg => json!({"tcp option": {"name": "maxseg", "field": "size"}}),
        Expr::And(a, m) => json!({"&": [expr(a), expr(m)]}),
        Expr::AndXor { base, and, xor } => {
            json!({"^": [{"&": [expr(base), and]}, xor]})
        }
        Expr::Concat(v) => json!({"concat": v.iter().map(expr).collect::<Vec<_>>()}),
        Expr::Num(n) => (*n).into(),
        Expr::Hex(n) => (*n).into(),
        Expr::Sym(s) => s.clone().into(),
        // `\*` keeps a literal star; a trailing `*` is nft's wildcard.
        Expr::Str(s) => s.clone().into(),
        Expr::Addr(a) => IpText(*a).to_string().into(),
        Expr::Prefix(a, p) => json!({"prefix": {"addr": IpText(*a).to_string(), "len": p}}),
        Expr::Mac(m) => m.to_string().to_ascii_lowercase().into(),
        Expr::Millis(ms) => format!("{ms}ms").into(),
        Expr::Range(a, b) => json!({"range": [expr(a), expr(b)]}),
        Expr::Bits(v) | Expr::FlagList(v) if v.len() == 1 => v[0].clone().into(),
        Expr::Bits(v) | Expr::FlagList(v) => json!(v),
        Expr::AnonSet(v) => json!({"set": v.iter().map(expr).collect::<Vec<_>>()}),
        Expr::SetRef(n) => format!("@{n}").into(),
        Expr::Bool(b) => (*b).into(),
    }
}
