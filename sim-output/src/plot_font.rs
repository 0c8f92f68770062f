//! The font Preflight's SVG plots are measured with: DejaVu Sans, bundled
//! (`fonts/`, with its licence), so that a plot is laid out the same on
//! every machine and nothing asks the system's fontconfig.

/// The family name plots ask for (and pages list first).
pub const FAMILY: &str = "DejaVu Sans";

/// Registers the bundled font with plotters under [`FAMILY`] and
/// `sans-serif` (every style); idempotent. Call before drawing text.
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        static BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
        use plotters::style::FontStyle;
        for name in [FAMILY, "sans-serif"] {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                if plotters::style::register_font(name, style, BYTES).is_err() {
                    panic!("the bundled font is not a valid TrueType font");
                }
            }
        }
    });
}
