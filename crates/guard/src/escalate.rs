//! Ban lengths for repeat offenders: fail2ban's `bantime.increment`.
//!
//! fail2ban (`server/jail.py`, `setBanTimeExtra`; `server/observer.py`,
//! `incrBanTime`) computes a new ban's length only when the address was
//! banned before (`count` = earlier bans, in this jail or, with
//! `overalljails`, in all jails):
//!
//! - with `multipliers`: `bantime * factor * multipliers[min(count, len-1)]`;
//! - else with the formula, by default
//!   `ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor`,
//!   never less than `bantime`;
//! - then at most `maxtime`, then plus a random `0..rndtime`.
//!
//! The first ban (`count == 0`) and permanent bans are never changed.

use crate::config::BantimeIncrement;
use crate::Error;

/// A validated `bantime_increment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Increment {
    pub factor: f64,
    pub growth: Growth,
    pub maxtime: Option<u64>,
    pub rndtime: Option<u64>,
    pub overalljails: bool,
}

/// How a ban grows with the count of earlier bans.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Growth {
    /// fail2ban's default formula: `bantime * 2^min(count, 20) * factor`.
    Doubling,
    /// fail2ban's "more aggressive" example formula:
    /// `bantime * exp((count + 1) * factor) / exp(factor)`.
    Exponential,
    /// `bantime * factor * multipliers[min(count, len - 1)]`.
    Multipliers(Vec<u64>),
}

/// fail2ban's default formula, without blanks.
const DOUBLING: &str = "ban.Time*(1<<(ban.Countifban.Count<20else20))*banFactor";
/// The other formula jail.conf shows.
const EXPONENTIAL: &str = "ban.Time*math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)";

impl Increment {
    /// Validates the configuration; `None` when it is disabled. `place`
    /// names the jail in errors.
    pub fn from_config(c: &BantimeIncrement, place: &str) -> Result<Option<Increment>, Error> {
        if !c.enabled {
            return Ok(None);
        }
        let err = |key: &str, message: String| Error::Config {
            place: format!("{place}: bantime_increment.{key}"),
            message,
        };
        if !(c.factor.is_finite() && c.factor > 0.0) {
            return Err(err(
                "factor",
                format!("{} is not a positive number", c.factor),
            ));
        }
        let growth = if !c.multipliers.is_empty() {
            Growth::Multipliers(c.multipliers.clone())
        } else {
            match c.formula.as_deref() {
                None => Growth::Doubling,
                Some(f) => {
                    let squeezed: String = f.chars().filter(|c| !c.is_whitespace()).collect();
                    if squeezed == DOUBLING {
                        Growth::Doubling
                    } else if squeezed == EXPONENTIAL {
                        Growth::Exponential
                    } else {
                        return Err(err(
                            "formula",
                            format!(
                                "{f:?} is not one of fail2ban's two formulas (rampart does not \
                                 evaluate Python); use `multipliers` for another growth"
                            ),
                        ));
                    }
                }
            }
        };
        let secs = |key: &str, d: Option<crate::Duration>| -> Result<Option<u64>, Error> {
            match d {
                None => Ok(None),
                Some(d) => d
                    .seconds()
                    .map(Some)
                    .ok_or_else(|| err(key, format!("{d} is negative"))),
            }
        };
        Ok(Some(Increment {
            factor: c.factor,
            growth,
            maxtime: secs("maxtime", c.maxtime)?,
            rndtime: secs("rndtime", c.rndtime)?,
            overalljails: c.overalljails,
        }))
    }

    /// The length of a ban whose base length is `base` seconds when the
    /// address was banned `count` times before; `random` is in `[0, 1)`.
    pub fn ban_time(&self, base: u64, count: u32, random: f64) -> u64 {
        if count == 0 {
            return base;
        }
        let b = base as f64;
        let grown = match &self.growth {
            Growth::Multipliers(m) => {
                let i = (count as usize).min(m.len().saturating_sub(1));
                b * self.factor * m.get(i).copied().unwrap_or(1) as f64
            }
            Growth::Doubling => b.max(b * f64::from(1u32 << count.min(20)) * self.factor),
            Growth::Exponential => b.max(
                b * (f64::from(count.saturating_add(1)) * self.factor).exp() / self.factor.exp(),
            ),
        };
        let capped = match self.maxtime {
            Some(m) => grown.min(m as f64),
            None => grown,
        };
        let with_random = match self.rndtime {
            Some(r) => capped + random * r as f64,
            None => capped,
        };
        // `as` saturates at u64::MAX for huge and infinite values.
        with_random as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Duration;

    fn inc(c: BantimeIncrement) -> Increment {
        Increment::from_config(&c, "jail x")
            .expect("valid")
            .expect("enabled")
    }

    /// fail2ban's default formula evaluated the way Python does
    /// (`ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor`,
    /// then `max(ban.Time, ...)`), written out independently.
    fn fail2ban_default(time: f64, count: u32, factor: f64) -> f64 {
        let shift = if count < 20 { count } else { 20 };
        let v = time * (1u64 << shift) as f64 * factor;
        if v > time {
            v
        } else {
            time
        }
    }

    #[test]
    fn default_formula_matches_fail2ban() {
        for factor in [1.0, 0.5, 2.0, 3.0] {
            let i = inc(BantimeIncrement {
                factor,
                ..Default::default()
            });
            for count in 0..30 {
                let expect = if count == 0 {
                    600.0
                } else {
                    fail2ban_default(600.0, count, factor)
                };
                assert_eq!(
                    i.ban_time(600, count, 0.0),
                    expect as u64,
                    "factor {factor} count {count}"
                );
            }
        }
        // 600 s doubles: 1200, 2400, 4800 ...; capped at count 20.
        let i = inc(BantimeIncrement::default());
        assert_eq!(i.ban_time(600, 1, 0.0), 1200);
        assert_eq!(i.ban_time(600, 3, 0.0), 4800);
        assert_eq!(i.ban_time(600, 25, 0.0), 600 << 20);
    }

    #[test]
    fn the_default_formula_written_out_is_the_default() {
        let i = inc(BantimeIncrement {
            formula: Some("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor".into()),
            ..Default::default()
        });
        assert_eq!(i.growth, Growth::Doubling);
    }

    #[test]
    fn exponential_formula_with_jail_conf_factor_matches_doubling_values() {
        // jail.conf: "the same values only for factor 2.0 / 2.885385".
        let i = inc(BantimeIncrement {
            factor: 2.0 / 2.885385,
            formula: Some(
                "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)".into(),
            ),
            ..Default::default()
        });
        for count in 1..8u32 {
            let t = i.ban_time(600, count, 0.0) as f64;
            let doubling = 600.0 * f64::from(1u32 << count);
            assert!(
                (t - doubling).abs() / doubling < 0.001,
                "{count}: {t} vs {doubling}"
            );
        }
    }

    #[test]
    fn unknown_formulas_are_refused_with_the_key() {
        let e = Increment::from_config(
            &BantimeIncrement {
                formula: Some("__import__('os').system('id')".into()),
                ..Default::default()
            },
            "jail sshd",
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("jail sshd: bantime_increment.formula"), "{e}");
    }

    #[test]
    fn multipliers_index_by_count_and_stick_at_the_last() {
        // jail.conf's example for bantime=60: 1 min, 5 min, 30 min, 1 h ...
        let i = inc(BantimeIncrement {
            multipliers: vec![1, 5, 30, 60, 300, 720, 1440, 2880],
            ..Default::default()
        });
        let got: Vec<u64> = (0..10).map(|c| i.ban_time(60, c, 0.0)).collect();
        assert_eq!(
            got,
            [60, 300, 1800, 3600, 18_000, 43_200, 86_400, 172_800, 172_800, 172_800]
        );
        // With multipliers there is no max(bantime, ...): 0 shortens.
        let i = inc(BantimeIncrement {
            multipliers: vec![1, 0],
            factor: 2.0,
            ..Default::default()
        });
        assert_eq!(i.ban_time(60, 1, 0.0), 0);
    }

    #[test]
    fn maxtime_caps_and_rndtime_adds() {
        let i = inc(BantimeIncrement {
            maxtime: Some(Duration(3000)),
            rndtime: Some(Duration(100)),
            ..Default::default()
        });
        assert_eq!(i.ban_time(600, 1, 0.0), 1200);
        assert_eq!(i.ban_time(600, 4, 0.0), 3000);
        assert_eq!(i.ban_time(600, 4, 0.5), 3050);
        // The first ban is never changed, not even by rndtime.
        assert_eq!(i.ban_time(600, 0, 0.99), 600);
    }

    #[test]
    fn bad_values_are_refused() {
        for c in [
            BantimeIncrement {
                factor: 0.0,
                ..Default::default()
            },
            BantimeIncrement {
                maxtime: Some(Duration(-5)),
                ..Default::default()
            },
        ] {
            assert!(Increment::from_config(&c, "j").is_err());
        }
        assert_eq!(
            Increment::from_config(
                &BantimeIncrement {
                    enabled: false,
                    ..Default::default()
                },
                "j"
            )
            .expect("ok"),
            None
        );
    }
}
