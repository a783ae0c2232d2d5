//! `network.protocol.version` from the HTTP version.

use http::Version;

/// The value of `network.protocol.version` (and of the old `http.flavor`).
///
/// ```
/// use http::Version;
/// use throughline_tower::semconv::protocol_version;
///
/// assert_eq!(protocol_version(Version::HTTP_11), "1.1");
/// assert_eq!(protocol_version(Version::HTTP_2), "2");
/// ```
pub fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        // `Version` is non-exhaustive; a future version is still HTTP.
        _ => "_OTHER",
    }
}
