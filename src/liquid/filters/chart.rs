//! `bar_chart`: an accessible SVG bar chart drawn on the server (no
//! script, no CDN) from an array of hashes:
//! `{{ days | bar_chart: label: "day", value: "sum", title: "Volume", format: "money", currency: "usd" }}`.
//!
//! Values are read exactly (integers, or decimal text kept as digits);
//! floats are used only for the bars' geometry. Every label comes from
//! data and is escaped. The autoescape rewrite trusts this filter's output
//! (`autoescape::TRUSTED_LAST_FILTERS`), as it does `html_safe`'s.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use liquid_core::Expression;
use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;
use super::html::escape_html;
use crate::liquid::value::{scalar_kind, ScalarKind};
use crate::money::Currency;

/// More items than this: only the last `MAX_BARS` are drawn.
pub const MAX_BARS: usize = 400;
/// A label (from data) is cut to this many characters.
const MAX_LABEL_CHARS: usize = 80;
/// Digits a value may have before and after its decimal point; more
/// counts as 0 (so sums of `MAX_BARS` values always fit an `i128`).
const MAX_WHOLE_DIGITS: usize = 20;
const MAX_FRACTION_DIGITS: usize = 12;

/// The drawing's coordinate system (the `viewBox`); CSS sizes the chart.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
/// Room for the y-axis labels on the left and the first/last labels below.
const PLOT_LEFT: f64 = 80.0;
const PLOT_RIGHT: f64 = WIDTH - 8.0;
const PLOT_TOP: f64 = 12.0;
const PLOT_BOTTOM: f64 = HEIGHT - 24.0;

/// An exact decimal number: `units / 10^scale`, without trailing zeros in
/// the fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    const ZERO: Decimal = Decimal { units: 0, scale: 0 };

    pub(crate) fn integer(value: i64) -> Decimal {
        Decimal {
            units: i128::from(value),
            scale: 0,
        }
    }

    /// `-12.50`, `+3`, `.5`; anything else (exponents, spaces inside,
    /// too many digits) is `None`.
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        if whole.len() > MAX_WHOLE_DIGITS || fraction.len() > MAX_FRACTION_DIGITS {
            return None;
        }
        let units: i128 = format!("0{whole}{fraction}").parse().ok()?;
        Some(Decimal {
            units: if negative { -units } else { units },
            scale: fraction.len() as u32,
        })
    }

    fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }

    fn units_at(self, scale: u32) -> Option<i128> {
        self.units
            .checked_mul(10_i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let units = self.units_at(scale)?.checked_add(other.units_at(scale)?)?;
        Some(Decimal { units, scale }.normalized())
    }

    /// Half, exactly (one more fraction digit at most).
    fn half(self) -> Decimal {
        match self.units.checked_mul(5) {
            Some(units) => Decimal {
                units,
                scale: self.scale + 1,
            }
            .normalized(),
            None => Decimal {
                units: self.units / 2,
                scale: self.scale,
            },
        }
    }

    fn is_integer(self) -> bool {
        self.scale == 0
    }

    /// For geometry only.
    fn to_f64(self) -> f64 {
        self.units as f64 / 10_f64.powi(self.scale as i32)
    }

    /// Plain decimal text: `-12.5`, `3`.
    fn text(self) -> String {
        fixed_text(self.units, self.scale)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let scale = self.scale.max(other.scale);
        match (self.units_at(scale), other.units_at(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Cannot happen within the digit limits; geometry decides then.
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

/// `units / 10^scale` with exactly `scale` fraction digits.
fn fixed_text(units: i128, scale: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let magnitude = units.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{magnitude}");
    }
    let divisor = 10_u128.pow(scale);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / divisor,
        magnitude % divisor,
        width = scale as usize
    )
}

/// How values are shown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueFormat {
    /// Decimal text as given (`12.5`).
    Number,
    /// Integer minor units shown in major units with the currency's
    /// exponent and code (`12.35 USD`, `500 JPY`).
    Money(Currency),
}

impl ValueFormat {
    fn show(&self, value: Decimal) -> String {
        match self {
            ValueFormat::Number => value.text(),
            ValueFormat::Money(currency) => {
                let amount = match i64::try_from(value.units) {
                    Ok(minor) if value.is_integer() => currency.decimal_text(minor),
                    _ => fixed_text(value.units, currency.exponent),
                };
                format!("{amount} {}", currency.code.to_ascii_uppercase())
            }
        }
    }

    /// What a value read from data counts as: money is whole minor units.
    fn accept(&self, value: Decimal) -> Decimal {
        match self {
            ValueFormat::Money(_) if !value.is_integer() => Decimal::ZERO,
            _ => value,
        }
    }
}

/// One bar: its label (from data, unescaped) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub label: String,
    pub value: Decimal,
}

#[derive(Debug, Clone)]
pub(crate) struct ChartOptions {
    pub title: String,
    pub format: ValueFormat,
    /// Prefix of the ids `aria-labelledby` points at; made from the
    /// content when not given.
    pub id: Option<String>,
}

/// A value as the chart reads it: an integer, a float (through its
/// shortest decimal text) or text that is a decimal number; anything else
/// is 0.
pub(crate) fn chart_value(value: Option<&dyn ValueView>) -> Decimal {
    let Some(scalar) = value.and_then(|v| v.as_scalar()) else {
        return Decimal::ZERO;
    };
    let parsed = match scalar_kind(&scalar) {
        ScalarKind::Integer => scalar.to_integer().map(Decimal::integer),
        ScalarKind::Float => scalar
            .to_float()
            .filter(|f| f.is_finite())
            .and_then(|f| Decimal::parse(&f.to_string())),
        ScalarKind::Str => Decimal::parse(scalar.to_kstr().as_str()),
        ScalarKind::Bool | ScalarKind::Date | ScalarKind::DateTime => None,
    };
    parsed.unwrap_or(Decimal::ZERO)
}

fn label_text(value: Option<&dyn ValueView>) -> String {
    let text = match value {
        None => return String::new(),
        Some(v) if v.is_nil() => return String::new(),
        Some(v) => match v.as_scalar() {
            Some(scalar) => scalar.to_kstr().to_string(),
            None => v.render().to_string(),
        },
    };
    text.chars()
        .take(MAX_LABEL_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Only `[A-Za-z0-9_-]`, so an id is safe in any attribute.
fn id_prefix(options: &ChartOptions, bars: &[Bar]) -> String {
    match &options.id {
        Some(id) if !id.trim().is_empty() => id
            .trim()
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect(),
        _ => {
            // Deterministic, so a cached page and a fresh one agree.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            options.title.hash(&mut hasher);
            for bar in bars {
                bar.label.hash(&mut hasher);
                bar.value.units.hash(&mut hasher);
                bar.value.scale.hash(&mut hasher);
            }
            format!("pf-chart-{:08x}", hasher.finish() as u32)
        }
    }
}

/// Coordinates with one decimal: enough for a 640-wide drawing.
fn coordinate(value: f64) -> String {
    format!("{value:.1}")
}

/// The chart's SVG for `bars` (the caller keeps at most `MAX_BARS`).
pub(crate) fn render_bar_chart(bars: &[Bar], options: &ChartOptions) -> String {
    let id = id_prefix(options, bars);
    let title = escape_html(&options.title);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"pf-bar-chart\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         preserveAspectRatio=\"xMidYMid meet\">\
         <title id=\"{id}-title\">{title}</title>"
    );
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        let _ = write!(
            svg,
            "<desc id=\"{id}-desc\">No data</desc>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" fill=\"currentColor\">No data</text></svg>",
            coordinate(WIDTH / 2.0),
            coordinate(HEIGHT / 2.0)
        );
        return svg;
    };
    let show = |value: Decimal| options.format.show(value);
    // Lowest and highest bars: the first of equals, in data order.
    let mut lowest = first;
    let mut highest = first;
    let mut total = Decimal::ZERO;
    for bar in bars {
        if bar.value < lowest.value {
            lowest = bar;
        }
        if bar.value > highest.value {
            highest = bar;
        }
        // Within the digit limits the sum always fits; keep going if not.
        total = total.checked_add(bar.value).unwrap_or(total);
    }
    let count = bars.len();
    let span_text = if count == 1 {
        format!("1 bar: {}", first.label)
    } else {
        format!("{count} bars, {} to {}", first.label, last.label)
    };
    let _ = write!(
        svg,
        "<desc id=\"{id}-desc\">{}</desc>",
        escape_html(&format!(
            "{span_text}. Lowest {} ({}), highest {} ({}), total {}.",
            show(lowest.value),
            lowest.label,
            show(highest.value),
            highest.label,
            show(total)
        ))
    );

    // The value range always includes 0, so bars grow from the baseline.
    let top = highest.value.max(Decimal::ZERO);
    let bottom = lowest.value.min(Decimal::ZERO);
    let range = top.to_f64() - bottom.to_f64();
    let range = if range > 0.0 { range } else { 1.0 };
    let plot_height = PLOT_BOTTOM - PLOT_TOP;
    let y_of = |value: f64| PLOT_TOP + (top.to_f64() - value) / range * plot_height;
    let baseline = y_of(0.0);

    // A few y-axis labels: the top, its half, 0, and the bottom when below 0.
    let mut ticks = vec![Decimal::ZERO];
    if top > Decimal::ZERO {
        let half = match options.format {
            // Money labels stay whole minor units.
            ValueFormat::Money(_) => Decimal {
                units: top.units / 2,
                scale: 0,
            },
            ValueFormat::Number => top.half(),
        };
        ticks.push(half);
        ticks.push(top);
    }
    if bottom < Decimal::ZERO {
        ticks.push(bottom);
    }
    svg.push_str("<g class=\"pf-bar-chart-axis\" font-size=\"11\" fill=\"currentColor\">");
    for tick in &ticks {
        let y = y_of(tick.to_f64());
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{y}\" y2=\"{y}\" stroke=\"currentColor\" stroke-opacity=\"0.15\"/>\
             <text x=\"{label_x}\" y=\"{label_y}\" text-anchor=\"end\">{text}</text>",
            left = coordinate(PLOT_LEFT),
            right = coordinate(PLOT_RIGHT),
            y = coordinate(y),
            label_x = coordinate(PLOT_LEFT - 6.0),
            label_y = coordinate(y + 4.0),
            text = escape_html(&show(*tick)),
        );
    }
    let label_y = coordinate(HEIGHT - 6.0);
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{label_y}\" text-anchor=\"start\">{}</text>",
        coordinate(PLOT_LEFT),
        escape_html(&first.label)
    );
    if count > 1 {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{label_y}\" text-anchor=\"end\">{}</text>",
            coordinate(PLOT_RIGHT),
            escape_html(&last.label)
        );
    }
    svg.push_str("</g>");

    let slot = (PLOT_RIGHT - PLOT_LEFT) / count as f64;
    let bar_width = slot * 0.8;
    svg.push_str("<g class=\"pf-bar-chart-bars\" fill=\"currentColor\">");
    for (index, bar) in bars.iter().enumerate() {
        let y = y_of(bar.value.to_f64());
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
            coordinate(PLOT_LEFT + index as f64 * slot + (slot - bar_width) / 2.0),
            coordinate(y.min(baseline)),
            coordinate(bar_width),
            coordinate((y - baseline).abs()),
            escape_html(&format!("{}: {}", bar.label, show(bar.value)))
        );
    }
    let _ = write!(
        svg,
        "</g><line class=\"pf-bar-chart-baseline\" x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"currentColor\"/></svg>",
        coordinate(PLOT_LEFT),
        coordinate(PLOT_RIGHT),
        y = coordinate(baseline)
    );
    svg
}

#[derive(Debug, FilterParameters)]
struct BarChartArgs {
    #[parameter(
        description = "The key of each item's label (default \"label\").",
        arg_type = "str",
        mode = "keyword"
    )]
    label: Option<Expression>,
    #[parameter(
        description = "The key of each item's value (default \"value\").",
        arg_type = "str",
        mode = "keyword"
    )]
    value: Option<Expression>,
    #[parameter(description = "The chart's accessible title.", arg_type = "str", mode = "keyword")]
    title: Option<Expression>,
    #[parameter(
        description = "\"number\" (default) or \"money\" (integer minor units).",
        arg_type = "str",
        mode = "keyword"
    )]
    format: Option<Expression>,
    #[parameter(
        description = "The currency of money values, e.g. \"usd\".",
        arg_type = "str",
        mode = "keyword"
    )]
    currency: Option<Expression>,
    #[parameter(
        description = "Prefix of the chart's element ids.",
        arg_type = "str",
        mode = "keyword"
    )]
    id: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "bar_chart",
    description = "An accessible SVG bar chart of an array of hashes: `bar_chart: label: \"day\", value: \"sum\", title: \"…\", format: \"money\", currency: \"usd\"`.",
    parameters(BarChartArgs),
    parsed(BarChartFilter)
)]
pub struct BarChart;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "bar_chart"]
struct BarChartFilter {
    #[parameters]
    args: BarChartArgs,
}

impl Filter for BarChartFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let format = match args.format.as_deref().unwrap_or("number") {
            "number" => ValueFormat::Number,
            "money" => {
                let code = args
                    .currency
                    .as_deref()
                    .ok_or_else(|| filter_error("bar_chart", "format \"money\" needs a currency"))?;
                let currency = Currency::parse(code).map_err(|why| filter_error("bar_chart", why.to_string()))?;
                ValueFormat::Money(currency)
            }
            other => {
                return Err(filter_error(
                    "bar_chart",
                    format!("unknown format {other:?} (use \"number\" or \"money\")"),
                ))
            }
        };
        let label_key = args.label.as_deref().unwrap_or("label");
        let value_key = args.value.as_deref().unwrap_or("value");
        let bars: Vec<Bar> = match input.as_array() {
            Some(items) => {
                let skip = items.size().max(0) as usize;
                let skip = skip.saturating_sub(MAX_BARS);
                items
                    .values()
                    .skip(skip)
                    .map(|item| {
                        let object = item.as_object();
                        Bar {
                            label: label_text(object.and_then(|o| o.get(label_key))),
                            value: format.accept(chart_value(object.and_then(|o| o.get(value_key)))),
                        }
                    })
                    .collect()
            }
            // Nil, or anything that is not a list: nothing to draw.
            None => Vec::new(),
        };
        let options = ChartOptions {
            title: args.title.as_deref().unwrap_or("Bar chart").to_string(),
            format,
            id: args.id.as_deref().map(str::to_string),
        };
        Ok(Value::scalar(render_bar_chart(&bars, &options)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liquid::test_support::render;
    use liquid::object;

    fn bar(label: &str, value: i64) -> Bar {
        Bar {
            label: label.to_string(),
            value: Decimal::integer(value),
        }
    }

    fn options(format: ValueFormat) -> ChartOptions {
        ChartOptions {
            title: "Volume".into(),
            format,
            id: Some("c".into()),
        }
    }

    fn money(code: &str) -> ValueFormat {
        ValueFormat::Money(Currency::parse(code).unwrap())
    }

    /// `(attribute value)` of every `<rect>`'s `name`.
    fn rect_attributes(svg: &str, name: &str) -> Vec<f64> {
        svg.split("<rect ")
            .skip(1)
            .map(|rect| {
                let start = rect.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let end = start + rect[start..].find('"').unwrap();
                rect[start..end].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn hostile_labels_and_titles_are_escaped() {
        let bars = vec![
            bar("<script>alert(1)</script>", 5),
            bar("\" onload=\"x", 7),
            bar("a&b'c", 1),
        ];
        let svg = render_bar_chart(
            &bars,
            &ChartOptions {
                title: "</title><script>".into(),
                format: ValueFormat::Number,
                id: Some("x\" onclick=\"y".into()),
            },
        );
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("\" onload"), "{svg}");
        assert!(!svg.contains("\" onclick"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;: 5"), "{svg}");
        assert!(svg.contains("a&amp;b&#39;c"), "{svg}");
        assert!(svg.contains("<title id=\"x--onclick--y-title\">&lt;/title&gt;&lt;script&gt;</title>"));
        assert_eq!(svg.matches("<rect ").count(), 3);
    }

    #[test]
    fn no_data_is_an_svg_saying_so() {
        let svg = render_bar_chart(&[], &options(ValueFormat::Number));
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c-title c-desc\""));
        assert!(svg.contains("<desc id=\"c-desc\">No data</desc>"));
        assert!(svg.contains(">No data</text>"));
        assert!(!svg.contains("<rect"));
        for input in [
            "{{ nothing | bar_chart }}",
            "{{ 'text' | bar_chart }}",
            "{{ list | bar_chart }}",
        ] {
            let out = render(input, object!({"list": [], "nothing": nil}));
            assert!(out.contains(">No data</desc>"), "{input}: {out}");
        }
    }

    #[test]
    fn bar_heights_are_proportional_to_values() {
        let bars = vec![bar("a", 100), bar("b", 50), bar("c", 0), bar("d", 25)];
        let svg = render_bar_chart(&bars, &options(ValueFormat::Number));
        let heights = rect_attributes(&svg, "height");
        let full = PLOT_BOTTOM - PLOT_TOP;
        assert_eq!(heights, vec![full, full / 2.0, 0.0, full / 4.0]);
        let ys = rect_attributes(&svg, "y");
        for (y, height) in ys.iter().zip(&heights) {
            assert!(
                (y + height - PLOT_BOTTOM).abs() < 0.11,
                "bars stand on the baseline: {svg}"
            );
        }
        let xs = rect_attributes(&svg, "x");
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "in data order: {xs:?}");
        assert!(svg.contains("<desc id=\"c-desc\">4 bars, a to d. Lowest 0 (c), highest 100 (a), total 175.</desc>"));
        // y-axis labels: 0, half and top.
        for label in [">0</text>", ">50</text>", ">100</text>"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        assert!(svg.contains("class=\"pf-bar-chart-baseline\""));
        assert!(svg.contains("viewBox=\"0 0 640 240\""));
    }

    #[test]
    fn negative_values_hang_below_the_baseline() {
        let svg = render_bar_chart(&[bar("a", 30), bar("b", -10)], &options(ValueFormat::Number));
        let heights = rect_attributes(&svg, "height");
        let full = PLOT_BOTTOM - PLOT_TOP;
        assert!((heights[0] - full * 0.75).abs() < 0.11 && (heights[1] - full * 0.25).abs() < 0.11);
        assert!(svg.contains(">-10</text>"));
    }

    #[test]
    fn money_is_shown_with_the_currency_exponent() {
        let svg = render_bar_chart(&[bar("2026-12-07", 1235), bar("2026-12-08", 5)], &options(money("usd")));
        assert!(svg.contains("<title>2026-12-07: 12.35 USD</title>"), "{svg}");
        assert!(svg.contains("<title>2026-12-08: 0.05 USD</title>"), "{svg}");
        assert!(svg.contains("total 12.40 USD."), "{svg}");
        let svg = render_bar_chart(&[bar("2026-12-07", 1235)], &options(money("jpy")));
        assert!(svg.contains("<title>2026-12-07: 1235 JPY</title>"), "{svg}");
        assert!(svg.contains("1 bar: 2026-12-07. Lowest 1235 JPY"), "{svg}");
        // Money axis labels stay whole minor units.
        assert!(svg.contains(">617 JPY</text>"), "{svg}");
    }

    #[test]
    fn values_are_numbers_or_count_as_zero() {
        let read = |value: Value| chart_value(Some(&value as &dyn ValueView));
        assert_eq!(read(Value::scalar(12i64)), Decimal::integer(12));
        assert_eq!(read(Value::scalar("12.50")).text(), "12.5");
        assert_eq!(read(Value::scalar(" -3 ")), Decimal::integer(-3));
        assert_eq!(read(Value::scalar(2.25f64)).text(), "2.25");
        for odd in [
            Value::scalar("12 apples"),
            Value::scalar("1e5"),
            Value::scalar(true),
            Value::Nil,
            Value::scalar(f64::NAN),
            Value::scalar("1".repeat(30)),
        ] {
            assert_eq!(read(odd.clone()), Decimal::ZERO, "{odd:?}");
        }
        assert_eq!(chart_value(None), Decimal::ZERO);
        // Money is whole minor units: a fraction counts as 0.
        assert_eq!(money("usd").accept(Decimal::parse("1.5").unwrap()), Decimal::ZERO);
        assert_eq!(
            Decimal::parse("0.1")
                .unwrap()
                .checked_add(Decimal::parse("0.2").unwrap()),
            Decimal::parse("0.3")
        );
    }

    #[test]
    fn the_filter_takes_named_arguments_and_is_not_escaped() {
        let globals = object!({"days": [
            {"day": "2026-12-06", "sum": 100},
            {"day": "2026-12-07", "sum": "1235"},
            {"day": "<b>", "sum": "oops"},
        ]});
        let source = crate::liquid::autoescape_outputs(
            "{{ days | bar_chart: label: \"day\", value: \"sum\", title: \"Volume, last 30 days\", format: \"money\", currency: \"usd\" }}",
        );
        let svg = render(&source, globals);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains(">Volume, last 30 days</title>"));
        assert!(svg.contains("<title>2026-12-07: 12.35 USD</title>"), "{svg}");
        assert!(svg.contains("<title>&lt;b&gt;: 0.00 USD</title>"), "{svg}");
        assert!(svg.contains("aria-labelledby=\"pf-chart-"), "{svg}");
        assert!(!source.contains("pf_escape"), "the rewrite trusts bar_chart: {source}");
    }

    #[test]
    fn only_the_last_bars_are_drawn() {
        let items: Vec<Value> = (0..MAX_BARS as i64 + 5)
            .map(|i| Value::Object(object!({"label": i, "value": i})))
            .collect();
        let svg = render("{{ items | bar_chart }}", object!({"items": Value::Array(items)}));
        assert_eq!(svg.matches("<rect ").count(), MAX_BARS);
        assert!(svg.contains("400 bars, 5 to 404."), "{}", &svg[..400]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let out = crate::liquid::test_support::render_err("{{ x | bar_chart: format: 'pie' }}", object!({"x": nil}));
        assert!(out.contains("unknown format"), "{out}");
        let out = crate::liquid::test_support::render_err("{{ x | bar_chart: format: 'money' }}", object!({"x": nil}));
        assert!(out.contains("needs a currency"), "{out}");
        let out = crate::liquid::test_support::render_err(
            "{{ x | bar_chart: format: 'money', currency: 'dollars' }}",
            object!({"x": nil}),
        );
        assert!(out.contains("currency"), "{out}");
    }
}
