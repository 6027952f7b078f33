//! `-j HMARK`: `--hmark-tuple LIST`, `--hmark-src-prefix`,
//! `--hmark-dst-prefix`, the port/SPI/protocol masks and values,
//! `--hmark-rnd`, `--hmark-mod`, `--hmark-offset`.
//!
//! `--hmark-tuple src,dst,sport,dport,spi,proto` is shorthand for full
//! masks and is printed as those masks; only `ct` keeps the tuple form.

use crate::iptables::ext::*;
use rampart_model::targets::hmark::Hmark;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "HMARK",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["hmark-tuple"], Arity::One),
        OptSpec::new(&["hmark-src-prefix"], Arity::One),
        OptSpec::new(&["hmark-dst-prefix"], Arity::One),
        OptSpec::new(&["hmark-sport-mask"], Arity::One),
        OptSpec::new(&["hmark-dport-mask"], Arity::One),
        OptSpec::new(&["hmark-spi-mask"], Arity::One),
        OptSpec::new(&["hmark-sport"], Arity::One),
        OptSpec::new(&["hmark-dport"], Arity::One),
        OptSpec::new(&["hmark-spi"], Arity::One),
        OptSpec::new(&["hmark-proto-mask"], Arity::One),
        OptSpec::new(&["hmark-rnd"], Arity::One),
        OptSpec::new(&["hmark-mod"], Arity::One),
        OptSpec::new(&["hmark-offset"], Arity::One),
    ],
    build,
};

/// `--hmark-tuple` words, tried in this order against a (possibly
/// abbreviated, case-insensitive) word as iptables does.
const TUPLE: [&str; 7] = ["ct", "src", "dst", "sport", "dport", "proto", "spi"];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let plen = match cx.family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    let mut h = Hmark::default();
    let mut modulus = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        let u16v = || parse_uint(&tok, "value", 0, 0xffff).map(|v| v as u16);
        match o.name {
            "hmark-tuple" => parse_tuple(&tok, &mut h, plen)?,
            "hmark-src-prefix" => h.src_prefix = Some(parse_uint(&tok, "prefix", 0, plen)? as u8),
            "hmark-dst-prefix" => h.dst_prefix = Some(parse_uint(&tok, "prefix", 0, plen)? as u8),
            "hmark-sport-mask" => h.sport_mask = Some(u16v()?),
            "hmark-dport-mask" => h.dport_mask = Some(u16v()?),
            "hmark-spi-mask" => h.spi_mask = Some(parse_u32(&tok, "SPI mask")?),
            "hmark-sport" => h.sport = Some(u16v()?),
            "hmark-dport" => h.dport = Some(u16v()?),
            "hmark-spi" => h.spi = Some(parse_u32(&tok, "SPI")?),
            "hmark-proto-mask" => h.proto_mask = Some(u16v()?),
            "hmark-rnd" => h.rnd = Some(parse_u32(&tok, "random seed")?),
            "hmark-mod" => {
                modulus = Some(parse_uint(&tok, "modulus", 1, u64::from(u32::MAX))? as u32)
            }
            _ => h.offset = Some(parse_u32(&tok, "offset")?),
        }
    }
    h.modulus = modulus.ok_or_else(|| {
        cx.error("`HMARK` needs --hmark-mod")
            .with_help("e.g. `--hmark-mod 4 --hmark-rnd 0x1234 --hmark-tuple src,dst`")
    })?;
    if h.rnd.is_none() {
        return Err(cx
            .error("`HMARK` needs --hmark-rnd (the hash seed)")
            .with_help("e.g. `--hmark-rnd 0xcafe`"));
    }
    if h.spi_mask.is_some() && (h.sport_mask.is_some() || h.dport_mask.is_some()) {
        let o = find(opts, "hmark-spi-mask").map_or(cx.name_span, |o| o.span);
        return Err(
            RuleError::new(o, "the SPI mask cannot be combined with the port masks")
                .with_help("the SPI takes the place of the ports in the hash; choose one"),
        );
    }
    let hashes_something = h.src_prefix.is_some()
        || h.dst_prefix.is_some()
        || h.sport_mask.is_some()
        || h.dport_mask.is_some()
        || h.spi_mask.is_some()
        || h.sport.is_some()
        || h.dport.is_some()
        || h.spi.is_some()
        || h.proto_mask.is_some()
        || h.ct;
    if !hashes_something {
        return Err(cx
            .error("`HMARK` needs to know what to hash")
            .with_help("add e.g. `--hmark-tuple src,dst,sport,dport,proto`"));
    }
    Ok(Target::Hmark(h))
}

fn parse_tuple(tok: &Token, h: &mut Hmark, plen: u64) -> Result<(), RuleError> {
    for word in tok.text.split(',') {
        let lower = word.to_ascii_lowercase();
        let which = (!word.is_empty())
            .then(|| TUPLE.iter().find(|t| t.starts_with(&lower)))
            .flatten()
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("bad --hmark-tuple word `{word}`"))
                    .with_help("a comma list of src, dst, sport, dport, spi, proto, ct")
            })?;
        match *which {
            "ct" => h.ct = true,
            "src" => h.src_prefix = Some(plen as u8),
            "dst" => h.dst_prefix = Some(plen as u8),
            "sport" => h.sport_mask = Some(0xffff),
            "dport" => h.dport_mask = Some(0xffff),
            "proto" => h.proto_mask = Some(0xffff),
            _ => h.spi_mask = Some(u32::MAX),
        }
    }
    Ok(())
}

pub(crate) fn save(h: &Hmark, _: &SaveCtx, out: &mut String) {
    let mut w = |args: std::fmt::Arguments| {
        let _ = out.write_fmt(args);
    };
    if let Some(p) = h.src_prefix {
        w(format_args!(" --hmark-src-prefix {p}"));
    }
    if let Some(p) = h.dst_prefix {
        w(format_args!(" --hmark-dst-prefix {p}"));
    }
    if let Some(m) = h.sport_mask {
        w(format_args!(" --hmark-sport-mask 0x{m:04x}"));
    }
    if let Some(m) = h.dport_mask {
        w(format_args!(" --hmark-dport-mask 0x{m:04x}"));
    }
    if let Some(m) = h.spi_mask {
        w(format_args!(" --hmark-spi-mask 0x{m:08x}"));
    }
    if let Some(v) = h.sport {
        w(format_args!(" --hmark-sport 0x{v:04x}"));
    }
    if let Some(v) = h.dport {
        w(format_args!(" --hmark-dport 0x{v:04x}"));
    }
    if let Some(v) = h.spi {
        w(format_args!(" --hmark-spi 0x{v:08x}"));
    }
    if let Some(m) = h.proto_mask {
        w(format_args!(" --hmark-proto-mask 0x{m:02x}"));
    }
    if let Some(r) = h.rnd {
        w(format_args!(" --hmark-rnd 0x{r:08x}"));
    }
    w(format_args!(" --hmark-mod {}", h.modulus));
    if let Some(o) = h.offset {
        w(format_args!(" --hmark-offset {o}"));
    }
    if h.ct {
        w(format_args!(" --hmark-tuple ct"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn tuple_words_become_full_masks() {
        let mut h = Hmark::default();
        let tok = Token::new("src,DPORT,pro,c", Span::new(0, 0));
        parse_tuple(&tok, &mut h, 128).unwrap();
        assert_eq!(h.src_prefix, Some(128));
        assert_eq!(h.dport_mask, Some(0xffff));
        assert_eq!(h.proto_mask, Some(0xffff));
        assert!(h.ct);
        // "s" is tried against "src" first.
        let mut h = Hmark::default();
        parse_tuple(&Token::new("s", Span::new(0, 0)), &mut h, 32).unwrap();
        assert_eq!(h.src_prefix, Some(32));
        for bad in ["", "src,", "mac"] {
            let mut h = Hmark::default();
            assert!(parse_tuple(&Token::new(bad, Span::new(0, 0)), &mut h, 32).is_err());
        }
    }
}
