//! `-m sctp`: `--sport`, `--dport` (aliases `--source-port`,
//! `--destination-port`) and `--chunk-types MATCH CHUNKS`.

use crate::iptables::ext::*;
use rampart_model::matches::sctp::{
    ChunkFlags, ChunkMatch, ChunkSet, Sctp, SctpChunk, SctpChunks, CHUNK_NAMES, MAX_FLAGGED_CHUNKS,
};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "sctp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sport", "source-port"], Arity::One),
        OptSpec::new(&["dport", "destination-port"], Arity::One),
        OptSpec::new(&["chunk-types"], Arity::Two),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::SCTP])?;
    at_most_once(opts)?;
    let mut m = Sctp::default();
    for o in opts {
        match o.name {
            "sport" => m.sport = Some(Neg::inverted(parse_port_range(&o.arg())?, o.invert)),
            "dport" => m.dport = Some(Neg::inverted(parse_port_range(&o.arg())?, o.invert)),
            "chunk-types" => m.chunks = Some(Neg::inverted(parse_chunks(o)?, o.invert)),
            _ => {}
        }
    }
    Ok(Match::Sctp(m))
}

fn parse_chunks(o: &OptOcc) -> Result<SctpChunks, RuleError> {
    let (mt, list) = (o.arg(), o.arg2());
    let match_type = match mt.text.to_ascii_lowercase().as_str() {
        "any" => ChunkMatch::Any,
        "all" => ChunkMatch::All,
        "only" => ChunkMatch::Only,
        _ => {
            return Err(
                RuleError::new(mt.span, format!("bad chunk match type `{}`", mt.text))
                    .with_help("use `any`, `all` or `only`, then the chunk list"),
            )
        }
    };
    if list.text.starts_with('-') || list.text.starts_with('!') {
        return Err(
            RuleError::new(list.span, "`--chunk-types` needs two values")
                .with_help("e.g. `--chunk-types any INIT,COOKIE_ECHO`"),
        );
    }
    let chunks = match list.text.to_ascii_uppercase().as_str() {
        "ALL" => ChunkSet::All,
        "NONE" => ChunkSet::None,
        _ => parse_chunk_list(&list)?,
    };
    Ok(SctpChunks { match_type, chunks })
}

/// `NAME[:FLAGS][,...]`: flag letters in upper case must be set, in lower
/// case clear.
fn parse_chunk_list(tok: &Token) -> Result<ChunkSet, RuleError> {
    let mut chunks: Vec<SctpChunk> = Vec::new();
    for part in tok.text.split(',').filter(|p| !p.is_empty()) {
        let (name, flags) = match part.split_once(':') {
            Some((n, f)) => (n, Some(f)),
            None => (part, None),
        };
        let &(_, chunk_type, letters) = CHUNK_NAMES
            .iter()
            .find(|(n, ..)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("unknown SCTP chunk type `{name}`")).with_help(
                    format!(
                        "chunk types are {}",
                        CHUNK_NAMES
                            .iter()
                            .map(|c| c.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let mut fl: Option<ChunkFlags> = None;
        for c in flags.unwrap_or("").chars() {
            let upper = c.to_ascii_uppercase();
            let pos = letters
                .char_indices()
                .find(|&(_, l)| l == upper && l != '-')
                .map(|(i, _)| i)
                .ok_or_else(|| {
                    RuleError::new(tok.span, format!("chunk type {name} has no flag `{c}`"))
                })?;
            if chunk_type == 64 {
                // iptables files I_DATA flags under chunk type 15 (its
                // table index), so the kernel would test another chunk.
                return Err(RuleError::new(
                    tok.span,
                    "flags on I_DATA are not supported: iptables applies them to the wrong chunk type",
                ));
            }
            let bit = 1u8 << (7 - pos);
            let f = fl.get_or_insert(ChunkFlags { value: 0, mask: 0 });
            f.mask |= bit;
            if c.is_ascii_uppercase() {
                f.value |= bit;
            }
        }
        match chunks.iter_mut().find(|c| c.chunk_type == chunk_type) {
            Some(prev) => {
                if let Some(f) = fl {
                    let p = prev.flags.get_or_insert(ChunkFlags { value: 0, mask: 0 });
                    p.mask |= f.mask;
                    p.value |= f.value;
                }
            }
            None => chunks.push(SctpChunk {
                chunk_type,
                flags: fl,
            }),
        }
    }
    if chunks.iter().filter(|c| c.flags.is_some()).count() > MAX_FLAGGED_CHUNKS {
        return Err(RuleError::new(
            tok.span,
            format!("at most {MAX_FLAGGED_CHUNKS} chunk types can have flags"),
        ));
    }
    if chunks.is_empty() {
        return Ok(ChunkSet::None);
    }
    chunks.sort_by_key(|c| c.chunk_type);
    Ok(ChunkSet::List(chunks))
}

fn chunk_text(c: &SctpChunk) -> String {
    let Some(&(name, _, letters)) = CHUNK_NAMES.iter().find(|n| n.1 == c.chunk_type) else {
        return c.chunk_type.to_string();
    };
    let mut s = name.to_string();
    if let Some(f) = c.flags.filter(|f| f.mask != 0) {
        s.push(':');
        for (i, l) in letters.chars().enumerate() {
            let bit = 1u8 << (7 - i);
            if f.mask & bit != 0 {
                s.push(if f.value & bit != 0 {
                    l
                } else {
                    l.to_ascii_lowercase()
                });
            }
        }
    }
    s
}

pub(crate) fn save(m: &Sctp, _: &SaveCtx, out: &mut String) {
    for (name, p) in [("sport", &m.sport), ("dport", &m.dport)] {
        if let Some(p) = p {
            save_opt_val(out, p.invert, name, p.value);
        }
    }
    if let Some(c) = &m.chunks {
        save_opt_val(out, c.invert, "chunk-types", c.value.match_type.name());
        out.push(' ');
        match &c.value.chunks {
            ChunkSet::All => out.push_str("ALL"),
            ChunkSet::None => out.push_str("NONE"),
            ChunkSet::List(l) => {
                let parts: Vec<String> = l.iter().map(chunk_text).collect();
                out.push_str(&parts.join(","));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    fn sctp(rest: &str) -> Result<String, String> {
        roundtrip(&format!("-p sctp -m sctp {rest}"))
            .map(|s| s.trim_start_matches("-p sctp -m sctp").trim().to_string())
    }

    #[test]
    fn chunks_sorted_merged_and_flagged() {
        assert_eq!(
            sctp("--chunk-types any ABORT:t,init,DATA:B,DATA:e"),
            Ok("--chunk-types any DATA:Be,INIT,ABORT:t".into())
        );
        assert_eq!(
            sctp("--chunk-types all ASCONF,DATA"),
            Ok("--chunk-types all DATA,ASCONF".into())
        );
        assert_eq!(
            sctp("--sport : ! --chunk-types ONLY none"),
            Ok("--sport 0:65535 ! --chunk-types only NONE".into())
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "--chunk-types any DATA:x",
            "--chunk-types some DATA",
            "--chunk-types any BOGUS",
            "--chunk-types any I_DATA:E",
            "--sport 5:3",
            "--dport 65536",
        ] {
            assert!(sctp(bad).is_err(), "{bad}");
        }
        assert!(sctp("--chunk-types any DATA:B,ABORT:T,SHUTDOWN_COMPLETE:T").is_ok());
        assert!(roundtrip("-p sctp -m sctp --chunk-types all").is_err());
    }
}
