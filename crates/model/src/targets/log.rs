//! `-j LOG`: log the packet's headers to the kernel log.

use serde::{Deserialize, Serialize};

/// `-j LOG`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Log {
    /// `--log-level` (syslog priority); `warning` when not given.
    #[serde(default)]
    pub level: LogLevel,
    /// `--log-prefix` (at most 29 bytes, no newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `--log-tcp-sequence`: log TCP sequence numbers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tcp_sequence: bool,
    /// `--log-tcp-options`: log TCP header options.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tcp_options: bool,
    /// `--log-ip-options`: log IP / IPv6 extension header options.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ip_options: bool,
    /// `--log-uid`: log the UID of the sending socket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uid: bool,
    /// `--log-macdecode`: decode the MAC header.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub macdecode: bool,
}

impl Log {
    /// Longest `--log-prefix` the kernel accepts (30-byte buffer with NUL).
    pub const MAX_PREFIX: usize = 29;
}

/// A syslog priority, `0` (emerg) to `7` (debug).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    #[default]
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Emerg,
        LogLevel::Alert,
        LogLevel::Crit,
        LogLevel::Err,
        LogLevel::Warning,
        LogLevel::Notice,
        LogLevel::Info,
        LogLevel::Debug,
    ];

    /// The numeric priority (what iptables-save prints).
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// The syslog name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Emerg => "emerg",
            LogLevel::Alert => "alert",
            LogLevel::Crit => "crit",
            LogLevel::Err => "err",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}
