//! Python's text for numbers, the subset Keras' callbacks produce: `repr(float)` (what
//! `CSVLogger` writes) and `str.format` templates such as `weights.{epoch:02d}-{val_loss:.2f}`
//! (what `ModelCheckpoint` fills in). No crate formats numbers as Python does; the rules
//! here are Python's `format` mini-language for `d`, `f`, `e`, `g` and `%` with fill, align,
//! sign, zero padding and width.

use crate::callbacks::Logs;
use crate::error::{Result, TransferError};

/// A value a template can name: the epoch is an integer, logged figures are floats.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(i64),
    Float(f64),
}

/// Python's `repr(x)` of a float: the shortest digits that read back as `x`, in fixed
/// notation for exponents -4..16 (`0.0001`, `123.5`, `1.0`), else scientific (`1e-05`).
pub fn python_repr(x: f64) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let (negative, digits, exponent) = shortest_digits(x);
    let body = match (-4..16).contains(&exponent) {
        true => fixed_from_digits(&digits, exponent, true),
        false => scientific_from_digits(&digits, exponent),
    };
    format!("{}{body}", if negative { "-" } else { "" })
}

pub(crate) fn non_finite(x: f64) -> String {
    match (x.is_nan(), x.is_sign_negative()) {
        (true, _) => "nan".into(),
        (false, true) => "-inf".into(),
        (false, false) => "inf".into(),
    }
}

/// Sign, significant digits and decimal exponent of the first digit (Rust's shortest
/// round-trip digits, as Python's).
fn shortest_digits(x: f64) -> (bool, String, i32) {
    let text = format!("{:e}", x.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    (x.is_sign_negative(), mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

/// `digits` (first digit at 10^`exponent`) in fixed notation; `point_zero` keeps `.0` on
/// whole numbers, as `repr` does.
fn fixed_from_digits(digits: &str, exponent: i32, point_zero: bool) -> String {
    if exponent < 0 {
        return format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize));
    }
    let whole = exponent as usize + 1;
    match digits.len() > whole {
        true => format!("{}.{}", &digits[..whole], &digits[whole..]),
        false => {
            let integer = format!("{digits}{}", "0".repeat(whole - digits.len()));
            if point_zero { format!("{integer}.0") } else { integer }
        }
    }
}

/// `digits` in Python's scientific notation: `d[.ddd]e±XX`.
fn scientific_from_digits(digits: &str, exponent: i32) -> String {
    let mantissa = match digits.len() {
        1 => digits.to_string(),
        _ => format!("{}.{}", &digits[..1], &digits[1..]),
    };
    format!("{mantissa}{}", python_exponent(exponent))
}

fn python_exponent(exponent: i32) -> String {
    format!("e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
}

/// Python's `format(x, ".{precision}e")` (sign included).
pub(crate) fn exponential(x: f64, precision: usize) -> String {
    let text = format!("{:.*e}", precision, x);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    format!("{mantissa}{}", python_exponent(exponent.parse().unwrap_or(0)))
}

/// Python's `format(x, ".{precision}g")`: `precision` significant digits, fixed or
/// scientific by the rounded exponent, trailing zeros removed.
fn general(x: f64, precision: usize) -> String {
    let precision = precision.max(1);
    let rounded = format!("{:.*e}", precision - 1, x.abs());
    let (mantissa, exponent) = rounded.split_once('e').unwrap_or((&rounded, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits = mantissa.replace('.', "");
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    match exponent >= -4 && exponent < precision as i32 {
        true => fixed_from_digits(digits, exponent, false),
        false => scientific_from_digits(digits, exponent),
    }
}

/// A parsed format spec: `[[fill]align][sign][0][width][.precision][type]`.
#[derive(Debug, Default)]
struct Spec {
    fill: char,
    align: Option<char>,
    sign: Option<char>,
    width: usize,
    precision: Option<usize>,
    kind: Option<char>,
}

fn parse_spec(spec: &str, field: &str) -> Result<Spec> {
    let bad = || TransferError::Config(format!("format spec `{spec}` of `{{{field}}}` is not supported"));
    let chars: Vec<char> = spec.chars().collect();
    let mut out = Spec { fill: ' ', ..Spec::default() };
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        (out.fill, out.align, i) = (chars[0], Some(chars[1]), 2);
    } else if chars.first().is_some_and(|&c| is_align(c)) {
        (out.align, i) = (Some(chars[0]), 1);
    }
    if let Some(&c @ ('+' | '-' | ' ')) = chars.get(i) {
        (out.sign, i) = (Some(c), i + 1);
    }
    if chars.get(i) == Some(&'0') {
        if out.align.is_none() {
            (out.fill, out.align) = ('0', Some('='));
        }
        i += 1;
    }
    let number = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>().parse::<usize>().ok()
    };
    out.width = number(&mut i).unwrap_or(0);
    if chars.get(i) == Some(&'.') {
        i += 1;
        out.precision = Some(number(&mut i).ok_or_else(bad)?);
    }
    if let Some(&c) = chars.get(i) {
        out.kind = Some(c);
        i += 1;
    }
    match i == chars.len() {
        true => Ok(out),
        false => Err(bad()),
    }
}

/// Python's `format(value, spec)` for the types Keras' templates meet.
fn format_value(value: Value, spec: &str, field: &str) -> Result<String> {
    let spec_parsed = parse_spec(spec, field)?;
    let wrong_type = |kind: char, of: &str| {
        TransferError::Config(format!("unknown format code `{kind}` for a {of} in `{{{field}:{spec}}}`"))
    };
    let (negative, body) = match (value, spec_parsed.kind) {
        (Value::Int(n), None | Some('d')) => (n < 0, n.unsigned_abs().to_string()),
        (Value::Int(n), Some(kind)) => {
            return format_value(Value::Float(n as f64), spec, field).map_err(|_| wrong_type(kind, "integer"));
        }
        (Value::Float(_), Some('d')) => return Err(wrong_type('d', "float")),
        (Value::Float(x), kind) if !x.is_finite() => {
            let text = non_finite(x.abs());
            let text = if matches!(kind, Some('F' | 'E' | 'G')) { text.to_uppercase() } else { text };
            (x.is_sign_negative() && !x.is_nan(), text)
        }
        (Value::Float(x), None) => match spec_parsed.precision {
            None => (x.is_sign_negative(), python_repr(x.abs())),
            Some(p) => (x.is_sign_negative(), general(x, p)),
        },
        (Value::Float(x), Some('f' | 'F')) => {
            (x.is_sign_negative(), format!("{:.*}", spec_parsed.precision.unwrap_or(6), x.abs()))
        }
        (Value::Float(x), Some('e')) => {
            (x.is_sign_negative(), exponential(x.abs(), spec_parsed.precision.unwrap_or(6)))
        }
        (Value::Float(x), Some('E')) => {
            (x.is_sign_negative(), exponential(x.abs(), spec_parsed.precision.unwrap_or(6)).to_uppercase())
        }
        (Value::Float(x), Some('g')) => (x.is_sign_negative(), general(x, spec_parsed.precision.unwrap_or(6))),
        (Value::Float(x), Some('%')) => {
            (x.is_sign_negative(), format!("{:.*}%", spec_parsed.precision.unwrap_or(6), (x * 100.0).abs()))
        }
        (Value::Float(_), Some(kind)) => return Err(wrong_type(kind, "float")),
    };
    let sign = match (negative, spec_parsed.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    let len = sign.chars().count() + body.chars().count();
    let pad = spec_parsed.width.saturating_sub(len);
    let fill = |n: usize| spec_parsed.fill.to_string().repeat(n);
    Ok(match spec_parsed.align.unwrap_or('>') {
        '<' => format!("{sign}{body}{}", fill(pad)),
        '^' => format!("{}{sign}{body}{}", fill(pad / 2), fill(pad - pad / 2)),
        '=' => format!("{sign}{}{body}", fill(pad)),
        _ => format!("{}{sign}{body}", fill(pad)),
    })
}

/// Keras' `filepath.format(epoch=epoch + 1, **logs)`: `{name}` and `{name:spec}` fields
/// filled from the 1-based `epoch` and the logged figures, `{{` and `}}` for braces. A field
/// naming a figure that was not logged is an error naming the figures that were.
pub fn fill_template(template: &str, epoch: usize, logs: &Logs) -> Result<String> {
    let failed = |why: String| TransferError::Config(format!("cannot fill the file template `{template}`: {why}"));
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let brace = &rest[at..];
        if brace.starts_with("{{") || brace.starts_with("}}") {
            out.push_str(&brace[..1]);
            rest = &brace[2..];
            continue;
        }
        if brace.starts_with('}') {
            return Err(failed("single `}` (write `}}` for a brace)".into()));
        }
        let end = brace.find('}').ok_or_else(|| failed("a `{` is never closed".into()))?;
        let field = &brace[1..end];
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        let value =
            match name {
                "epoch" => Value::Int(epoch as i64),
                _ => Value::Float(logs.get(name).ok_or_else(|| {
                    failed(format!("no figure `{name}` is logged (logged: epoch,{})", logs.key_list()))
                })?),
            };
        out.push_str(&format_value(value, spec, name)?);
        rest = &brace[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected texts are what CPython 3.11 prints for the same calls.
    #[test]
    fn repr_matches_python() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789.0, "123456789.0"),
            (1e16, "1e+16"),
            (1.25e17, "1.25e+17"),
            (9.999999747378752e-05, "9.999999747378752e-05"),
            (0.6931471824645996, "0.6931471824645996"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, python) in cases {
            assert_eq!(python_repr(x), python, "repr({x})");
        }
    }

    #[test]
    fn templates_fill_as_python_format() {
        let logs = Logs::from_pairs([("loss", 0.123456), ("val_loss", 0.98765), ("lr", 1e-5)]);
        let cases = [
            ("weights.{epoch:02d}-{val_loss:.2f}.safetensors", "weights.07-0.99.safetensors"),
            ("{epoch}_{loss}", "7_0.123456"),
            ("{epoch:03}|{loss:.3e}|{lr:g}|{val_loss:.1%}", "007|1.235e-01|1e-05|98.8%"),
            ("{loss:>10.4f}|{loss:<8.2f}|{epoch:^5d}|{loss:+.1f}", "    0.1235|0.12    |  7  |+0.1"),
            ("{{literal}}-{val_loss:g}", "{literal}-0.98765"),
            ("{loss:.3g} {lr:.3g} {epoch:.1f}", "0.123 1e-05 7.0"),
        ];
        for (template, python) in cases {
            assert_eq!(fill_template(template, 7, &logs).unwrap(), python, "{template}");
        }
        for (template, why) in [
            ("{val_acc:.2f}", "no figure `val_acc` is logged (logged: epoch,loss,val_loss,lr)"),
            ("{loss:02d}", "unknown format code `d` for a float"),
            ("{epoch", "never closed"),
            ("a}b", "single `}`"),
            ("{loss:.2q}", "unknown format code `q`"),
        ] {
            let err = fill_template(template, 7, &logs).unwrap_err().to_string();
            assert!(err.contains(why), "{template}: {err}");
        }
    }
}
