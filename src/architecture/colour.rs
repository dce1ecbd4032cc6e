//! The two node groups of an env. Releases bring a build up on the idle colour and move the
//! load balancer to it, so the colour is named in the template (the `LiveColour` parameter,
//! group and target group tags), in the build pointers and in the versions log: one type for
//! all of them, so a typo is a compile error rather than a group that is never found.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The compute stack's parameter naming the colour the HTTPS listener forwards to. `ce deploy`
/// fills it from the listener as it is, so a deploy never moves traffic.
pub const LIVE_COLOUR_PARAMETER: &str = "LiveColour";

/// The tag (on groups, target groups and, propagated at launch, instances) naming the colour.
pub const COLOUR_TAG: &str = "Colour";

/// One of the env's two node groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// The group that existed before there were two: it keeps the env's original names.
    Blue,
    /// The second group.
    Green,
}

impl Colour {
    /// Both colours, blue first.
    pub const ALL: [Colour; 2] = [Colour::Blue, Colour::Green];

    /// `blue` or `green`.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
        }
    }

    /// `Blue` or `Green`, for logical ids and output names.
    pub fn title(self) -> &'static str {
        match self {
            Colour::Blue => "Blue",
            Colour::Green => "Green",
        }
    }

    /// The other colour.
    pub fn other(self) -> Colour {
        match self {
            Colour::Blue => Colour::Green,
            Colour::Green => Colour::Blue,
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A colour that is neither `blue` nor `green`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown colour {0:?}: expected blue or green")]
pub struct UnknownColour(pub String);

impl FromStr for Colour {
    type Err = UnknownColour;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(Colour::Blue),
            "green" => Ok(Colour::Green),
            _ => Err(UnknownColour(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_in_any_case_and_print_lowercase() {
        assert_eq!("Green".parse::<Colour>(), Ok(Colour::Green));
        assert_eq!(" blue ".parse::<Colour>(), Ok(Colour::Blue));
        assert_eq!(Colour::Green.to_string(), "green");
        assert!(
            "red"
                .parse::<Colour>()
                .unwrap_err()
                .to_string()
                .contains("blue or green")
        );
    }

    #[test]
    fn each_colour_has_the_other() {
        for c in Colour::ALL {
            assert_ne!(c, c.other());
            assert_eq!(c, c.other().other());
        }
    }
}
