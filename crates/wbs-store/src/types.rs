//! The typed values of the store's interface: [`CaseId`], [`BlobId`],
//! [`TokenName`] and [`Day`]. Each is checked when it is made, so a value of
//! one of these types is always well formed, and a store never sees a path
//! trick as a blob id, a time of day as a date, or a token name that the
//! command line could not name again.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::ids::{is_blob_id, is_case_id};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $check:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        /// Like the string it is (`"siti"`), so messages read the same as
        /// before the type existed.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            /// Checks `s` and makes it one; [`StoreError::Invalid`] if it is not.
            pub fn parse(s: &str) -> Result<Self, StoreError> {
                if $check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(StoreError::Invalid(format!("{:?} is not {}", s, $what)))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Made by the store itself from a freshly drawn id.
            #[allow(dead_code)]
            pub(crate) fn new_unchecked(s: String) -> Self {
                debug_assert!($check(&s));
                Self(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, StoreError> {
                if $check(&s) {
                    Ok(Self(s))
                } else {
                    Err(StoreError::Invalid(format!("{:?} is not {}", s, $what)))
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                Self::parse(s)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

string_id!(
    /// The identifier of a case: 20 lower-case Crockford base32 symbols
    /// (100 random bits), unrelated to any receipt code.
    CaseId,
    is_case_id,
    "a case id"
);

string_id!(
    /// The identifier of a blob: 26 lower-case Crockford base32 symbols
    /// (130 random bits). A file backend turns it into a path only after
    /// this check, so a forged id can never reach outside its directory.
    BlobId,
    is_blob_id,
    "a blob id"
);

string_id!(
    /// The name of an investigator token: 1 to 64 ASCII letters, digits,
    /// `-`, `_`, `.` or `@`.
    ///
    /// The one rule for token names in the whole workspace: the command
    /// line, the control channel, the store and a restore all use it, so a
    /// token that exists can always be named again to list or revoke it.
    /// Names end up in the audit log and in one-line requests, so they never
    /// hold spaces or control characters.
    TokenName,
    is_token_name,
    "a token name (1-64 characters of letters, digits, - _ . @)"
);

/// Whether `s` follows the rule of [`TokenName`].
pub fn is_token_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// A UTC calendar date, the only kind of time the store keeps about
/// anything a reporter does. Written `YYYY-MM-DD` (in JSON too); there is
/// no way to put a time of day into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(i64);

impl Day {
    /// Today (UTC).
    pub fn today() -> Day {
        Day(wbs_protocol::date::today_days())
    }

    /// The day `days` days after 1970-01-01.
    pub const fn from_unix_days(days: i64) -> Day {
        Day(days)
    }

    /// Days since 1970-01-01.
    pub fn unix_days(self) -> i64 {
        self.0
    }

    /// Parses `YYYY-MM-DD`; anything else (a time of day included) is
    /// [`StoreError::Invalid`].
    pub fn parse(s: &str) -> Result<Day, StoreError> {
        wbs_protocol::date::unix_days_from_date(s)
            .map(Day)
            .ok_or_else(|| StoreError::Invalid(format!("a date must be YYYY-MM-DD, got {s:?}")))
    }

    /// The day `n` days later (earlier for negative `n`).
    pub fn plus_days(self, n: i64) -> Day {
        Day(self.0 + n)
    }
}

impl TryFrom<String> for Day {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Day, StoreError> {
        Day::parse(&s)
    }
}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

impl std::str::FromStr for Day {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Day, StoreError> {
        Day::parse(s)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&wbs_protocol::date::date_from_unix_days(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_refuse_times() {
        let d = Day::parse("2024-02-29").unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2024-02-29\"");
        assert_eq!(serde_json::from_str::<Day>("\"2024-02-29\"").unwrap(), d);
        for bad in [
            "2024-02-30",
            "2024-05-01T10:00:00Z",
            "2024-05-01 10:00",
            "",
            "x",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<Day>(&format!("{bad:?}")).is_err());
        }
        assert!(d.plus_days(1) > d);
    }

    #[test]
    fn ids_are_checked_on_every_way_in() {
        assert!(CaseId::parse("../../etc/passwd").is_err());
        assert!(serde_json::from_str::<BlobId>("\"../x\"").is_err());
        let c = CaseId::parse(&"a".repeat(20)).unwrap();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            format!("\"{}\"", "a".repeat(20))
        );
        assert!(c == "a".repeat(20));
    }

    #[test]
    fn one_token_name_rule() {
        for ok in ["alice", "desk-1", "a.b_c@d", &"x".repeat(64)] {
            TokenName::parse(ok).unwrap();
        }
        for bad in [
            "",
            "with space",
            " alice",
            "tab\t",
            "é",
            &"x".repeat(65),
            "a/b",
        ] {
            assert!(TokenName::parse(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<TokenName>(&format!("{bad:?}")).is_err());
        }
    }
}
