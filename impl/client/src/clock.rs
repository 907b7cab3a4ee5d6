//! The wall clock, read in one place. The core never reads a clock (time
//! comes in as `now`); every driver that needs the present takes it from
//! here, and clippy's `disallowed-methods` (clippy.toml) refuses
//! `SystemTime::now` anywhere else, so a test or a replay that wants to see
//! where time enters the system finds it here.

use podcore::time::{MicroTime, Time};

/// Milliseconds since the Unix epoch, now. A clock set before 1970 reads as
/// the epoch rather than failing: nothing in podchain can act on such a time.
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> Time {
    Time(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
}

/// Now as the daemons' log lines begin: RFC 3339 with microsecond digits
/// (the clock's milliseconds), so one change can be followed across them.
pub fn log_stamp() -> String {
    MicroTime::from(wall_now()).to_rfc3339()
}
