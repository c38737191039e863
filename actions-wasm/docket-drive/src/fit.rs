//! Thumbnail geometry: the box a thumbnail fits in, and its size in it.

/// The smallest box edge, in pixels.
pub const MIN_EDGE: u32 = 16;
/// The largest box edge, in pixels.
pub const MAX_EDGE: u32 = 1024;

/// The box edge for a requested `size`, clamped to `MIN_EDGE..=MAX_EDGE`.
pub fn edge(size: u32) -> u32 {
    size.clamp(MIN_EDGE, MAX_EDGE)
}

/// The size of a `width`×`height` image scaled, up or down, to fit an
/// `edge`×`edge` box with its aspect ratio kept: the longer side becomes
/// `edge`, the shorter one is rounded and at least 1 pixel.
pub fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (edge, edge);
    }
    let scaled = |short: u32, long: u32| {
        let exact =
            (u64::from(short) * u64::from(edge) * 2 + u64::from(long)) / (u64::from(long) * 2);
        u32::try_from(exact).unwrap_or(edge).clamp(1, edge)
    };
    if width >= height {
        (edge, scaled(height, width))
    } else {
        (scaled(width, height), edge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_clamped() {
        assert_eq!(edge(0), 16);
        assert_eq!(edge(200), 200);
        assert_eq!(edge(5000), 1024);
    }

    #[test]
    fn aspect_is_kept() {
        assert_eq!(fit(4000, 3000, 200), (200, 150));
        assert_eq!(fit(3000, 4000, 200), (150, 200));
        assert_eq!(fit(500, 500, 200), (200, 200));
        assert_eq!(fit(100, 50, 200), (200, 100));
        assert_eq!(fit(1000, 333, 200), (200, 67));
        assert_eq!(fit(10_000, 1, 200), (200, 1));
        assert_eq!(fit(1, 10_000, 16), (1, 16));
        assert_eq!(fit(u32::MAX, u32::MAX - 1, 1024), (1024, 1024));
    }
}
