//! `-m time`: time of day, weekday, day of month and date ranges.

use serde::{Deserialize, Serialize};

/// `-m time`. Every field is resolved: an absent option holds the value
/// that matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    /// `--timestart`, seconds since midnight (default 0).
    pub time_start: u32,
    /// `--timestop`, seconds since midnight (default 86399, 23:59:59).
    pub time_stop: u32,
    /// `--datestart`, seconds since the Unix epoch, UTC (default 0).
    pub date_start: u32,
    /// `--datestop`, seconds since the Unix epoch (default 2^31-1).
    pub date_stop: u32,
    /// `[!] --weekdays`: bit 1 Monday .. bit 7 Sunday (default all).
    pub weekdays: u8,
    /// `[!] --monthdays`: bit 1 .. bit 31 (default all).
    pub monthdays: u32,
    /// `--kerneltz`: use the kernel's time zone instead of UTC.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kerneltz: bool,
    /// `--contiguous`: a `timestop` before `timestart` ends the next day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contiguous: bool,
}

impl Time {
    pub const MAX_DAYTIME: u32 = 24 * 60 * 60 - 1;
    pub const MAX_DATE: u32 = i32::MAX as u32;
    /// Monday..Sunday, bits 1..7.
    pub const ALL_WEEKDAYS: u8 = 0xfe;
    /// Days 1..31, bits 1..31.
    pub const ALL_MONTHDAYS: u32 = 0xffff_fffe;
}

impl Default for Time {
    fn default() -> Self {
        Time {
            time_start: 0,
            time_stop: Self::MAX_DAYTIME,
            date_start: 0,
            date_stop: Self::MAX_DATE,
            weekdays: Self::ALL_WEEKDAYS,
            monthdays: Self::ALL_MONTHDAYS,
            kerneltz: false,
            contiguous: false,
        }
    }
}
