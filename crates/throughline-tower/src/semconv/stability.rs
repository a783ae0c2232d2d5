//! `OTEL_SEMCONV_STABILITY_OPT_IN`: which generation of attribute names to emit.

/// Which attribute names are emitted: the stable ones, or the stable ones
/// and the names that preceded them (`http.method`, `http.status_code`, ...),
/// for backends whose dashboards still read the old names.
///
/// ```
/// use throughline_tower::semconv::SemconvStability;
///
/// assert_eq!(SemconvStability::parse("http/dup"), SemconvStability::Duplicate);
/// assert_eq!(SemconvStability::parse("database, http"), SemconvStability::Stable);
/// assert_eq!(SemconvStability::parse(""), SemconvStability::Stable);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SemconvStability {
    /// Only the stable names (`http` or nothing in the variable).
    #[default]
    Stable,
    /// The stable names and the old ones (`http/dup`).
    Duplicate,
}

impl SemconvStability {
    /// The environment variable [`from_env`](Self::from_env) reads.
    pub const ENV: &'static str = "OTEL_SEMCONV_STABILITY_OPT_IN";

    /// Reads [`ENV`](Self::ENV); unset or unreadable means [`Stable`](Self::Stable).
    pub fn from_env() -> Self {
        std::env::var(Self::ENV).map(|value| Self::parse(&value)).unwrap_or_default()
    }

    /// Parses a comma-separated opt-in list; only `http/dup` changes the
    /// default, and it wins over `http` as the specification says.
    pub fn parse(value: &str) -> Self {
        if value.split(',').any(|token| token.trim() == "http/dup") { Self::Duplicate } else { Self::Stable }
    }

    /// Whether the old names are emitted too.
    pub const fn emits_old(self) -> bool {
        matches!(self, Self::Duplicate)
    }
}
