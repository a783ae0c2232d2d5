//! The faults payments injects, as flags (`--error-rate 0.1`), environment
//! variables (`PAYMENTS_ERROR_RATE=0.1`) or JSON for `PUT /admin/faults`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use throughline::testing::{Faults, Latency, Outage};

/// The fault settings, all off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share of requests that hang for `hang_ms`, then answer 504.
    pub timeout_rate: f64,
    /// How long a timed-out request hangs (default 10 s).
    pub hang_ms: Option<u64>,
    /// Latency added to each request, uniform between these bounds.
    pub latency_ms: Option<(u64, u64)>,
    /// An outage (every request 503) starting this long after the faults are
    /// set, for `outage_ms`.
    pub outage_after_ms: Option<u64>,
    /// The outage's length; with no start, the outage starts at once.
    pub outage_ms: Option<u64>,
    /// The random seed, so a run can be replayed.
    pub seed: u64,
}

/// A setting that cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub struct FaultSpecError(pub String);

impl std::fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FaultSpecError {}

impl FaultSpec {
    /// Reads `PAYMENTS_*` variables through `var`, then `--flag value` pairs,
    /// which win.
    pub fn parse(
        var: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, FaultSpecError> {
        let mut spec = FaultSpec::default();
        for name in NAMES {
            if let Some(value) = var(&format!("PAYMENTS_{}", name.to_uppercase().replace('-', "_"))) {
                spec.set(name, &value)?;
            }
        }
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| FaultSpecError(format!("unexpected argument {flag:?}")))?;
            let value = args.next().ok_or_else(|| FaultSpecError(format!("{flag} needs a value")))?;
            spec.set(name, &value)?;
        }
        spec.validate()?;
        Ok(spec)
    }

    /// The longest a request may be made to hang or wait: a minute.
    pub const MAX_DELAY_MS: u64 = 60_000;
    /// The longest an outage (or the wait before it) may be: an hour.
    pub const MAX_OUTAGE_MS: u64 = 3_600_000;

    /// Checks what flags, variables and `PUT /admin/faults` all must pass:
    /// rates from 0 to 1, a hang or latency up to
    /// [`MAX_DELAY_MS`](Self::MAX_DELAY_MS), an outage up to
    /// [`MAX_OUTAGE_MS`](Self::MAX_OUTAGE_MS), a latency range whose minimum
    /// is not above its maximum.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        for (name, rate) in [("error-rate", self.error_rate), ("timeout-rate", self.timeout_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultSpecError(format!("{name}: {rate} is not a rate from 0 to 1")));
            }
        }
        let (min, max) = self.latency_ms.unwrap_or((0, 0));
        if min > max {
            return Err(FaultSpecError(format!("latency-ms: {min}..{max} has MIN above MAX")));
        }
        let delays = [
            ("hang-ms", self.hang_ms, Self::MAX_DELAY_MS),
            ("latency-ms", self.latency_ms.map(|(_, max)| max), Self::MAX_DELAY_MS),
            ("outage-after-ms", self.outage_after_ms, Self::MAX_OUTAGE_MS),
            ("outage-ms", self.outage_ms, Self::MAX_OUTAGE_MS),
        ];
        for (name, millis, most) in delays {
            if let Some(millis) = millis.filter(|ms| *ms > most) {
                return Err(FaultSpecError(format!("{name}: {millis} is more than {most} ms")));
            }
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), FaultSpecError> {
        let bad = |what: &str| FaultSpecError(format!("{name}: {value:?} is not {what}"));
        let rate = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| bad("a rate from 0 to 1"))
        };
        let millis = || value.parse::<u64>().map_err(|_| bad("a number of milliseconds"));
        match name {
            "error-rate" => self.error_rate = rate()?,
            "timeout-rate" => self.timeout_rate = rate()?,
            "hang-ms" => self.hang_ms = Some(millis()?),
            "latency-ms" => {
                let (min, max) = value.split_once("..").unwrap_or((value, value));
                let min = min.parse().map_err(|_| bad("MIN..MAX milliseconds"))?;
                let max = max.parse().map_err(|_| bad("MIN..MAX milliseconds"))?;
                if min > max {
                    return Err(bad("MIN..MAX milliseconds with MIN <= MAX"));
                }
                self.latency_ms = Some((min, max));
            }
            "outage-after-ms" => self.outage_after_ms = Some(millis()?),
            "outage-ms" => self.outage_ms = Some(millis()?),
            "seed" => self.seed = value.parse().map_err(|_| bad("a number"))?,
            _ => {
                return Err(FaultSpecError(format!("unknown setting --{name}; known: {}", NAMES.join(", "))));
            }
        }
        Ok(())
    }

    /// The faults for the injection layer.
    pub fn faults(&self) -> Faults {
        let mut faults = Faults::new(self.seed).error_rate(self.error_rate).timeout_rate(self.timeout_rate);
        faults = faults.hang(Duration::from_millis(self.hang_ms.unwrap_or(10_000)));
        if let Some((min, max)) = self.latency_ms {
            let (min, max) = (Duration::from_millis(min), Duration::from_millis(max));
            faults =
                faults.latency(if min == max { Latency::Fixed(min) } else { Latency::Uniform { min, max } });
        }
        if let Some(length) = self.outage_ms {
            let start = Duration::from_millis(self.outage_after_ms.unwrap_or(0));
            faults = faults.outage(Outage { start, length: Duration::from_millis(length) });
        }
        faults
    }
}

const NAMES: [&str; 7] =
    ["error-rate", "timeout-rate", "hang-ms", "latency-ms", "outage-after-ms", "outage-ms", "seed"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_environment() {
        let env = |name: &str| (name == "PAYMENTS_ERROR_RATE").then(|| "0.2".to_owned());
        let args =
            ["--timeout-rate", "0.1", "--error-rate", "0.3", "--latency-ms", "5..50"].map(String::from);
        let spec = FaultSpec::parse(env, args).unwrap();
        assert_eq!(spec.error_rate, 0.3);
        assert_eq!(spec.timeout_rate, 0.1);
        assert_eq!(spec.latency_ms, Some((5, 50)));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let none = |_: &str| None;
        let error = FaultSpec::parse(none, ["--error-rate", "2"].map(String::from)).unwrap_err();
        assert_eq!(error.0, "error-rate: \"2\" is not a rate from 0 to 1");
        assert!(FaultSpec::parse(none, ["--latency-ms", "9..1"].map(String::from)).is_err());
        assert!(
            FaultSpec::parse(none, ["--colour", "red"].map(String::from)).unwrap_err().0.contains("known")
        );
        assert!(FaultSpec::parse(none, ["--seed".to_owned()]).is_err());
    }
}
