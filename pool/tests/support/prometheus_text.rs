//! A strict reader of Prometheus' text exposition format (0.0.4), for the
//! tests of `/metrics`: stricter than Prometheus itself (no blank lines,
//! no comments but HELP and TYPE, no timestamps), so anything it accepts
//! a real scraper accepts too.

#![allow(dead_code)] // each test file uses its own part

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub kind: String,
    pub help: String,
    pub samples: Vec<Sample>,
}

/// Families by name, in a map; every check of the format already passed.
pub type Families = BTreeMap<String, Family>;

/// Reads `text` and checks it: every family has HELP then TYPE before its
/// samples, names and labels are well formed, values are numbers, no
/// series repeats, counters are `_total` and never negative, histogram
/// buckets are cumulative and end at `+Inf` equal to `_count`.
pub fn parse(text: &str) -> Result<Families, String> {
    let mut families = Families::new();
    let mut current: Option<String> = None;
    let mut help: Option<(String, String)> = None;
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".to_string());
    }
    for (index, line) in text.lines().enumerate() {
        let at = |what: &str| format!("line {}: {what}: {line:?}", index + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text"))?;
            if !metric_name(name) {
                return Err(at("bad metric name"));
            }
            if help.is_some() || families.contains_key(name) {
                return Err(at("HELP repeated, or a family given twice"));
            }
            help = Some((name.to_string(), unescape(text, false).map_err(|e| at(&e))?));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type"))?;
            let Some((help_name, help_text)) = help.take() else {
                return Err(at("TYPE without HELP just before it"));
            };
            if help_name != name {
                return Err(at("TYPE of another family than its HELP"));
            }
            if !matches!(kind, "counter" | "gauge" | "histogram") {
                return Err(at("unknown type"));
            }
            families.insert(
                name.to_string(),
                Family {
                    kind: kind.to_string(),
                    help: help_text,
                    samples: Vec::new(),
                },
            );
            current = Some(name.to_string());
        } else if line.starts_with('#') || line.trim().is_empty() {
            return Err(at("a comment other than HELP or TYPE, or an empty line"));
        } else {
            if help.is_some() {
                return Err(at("a sample between HELP and TYPE"));
            }
            let sample = sample(line).map_err(|e| at(&e))?;
            let family_name = current
                .as_ref()
                .ok_or_else(|| at("a sample before any TYPE"))?;
            let family = families.get_mut(family_name).expect("inserted with TYPE");
            let allowed: Vec<String> = if family.kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|suffix| format!("{family_name}{suffix}"))
                    .collect()
            } else {
                vec![family_name.clone()]
            };
            if !allowed.contains(&sample.name) {
                return Err(at("a sample outside its family"));
            }
            family.samples.push(sample);
        }
    }
    if help.is_some() {
        return Err("HELP without TYPE at the end".to_string());
    }
    for (name, family) in &families {
        check_family(name, family)?;
    }
    Ok(families)
}

fn check_family(name: &str, family: &Family) -> Result<(), String> {
    let mut series = BTreeSet::new();
    for sample in &family.samples {
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(format!("{name}: series {sample:?} repeated"));
        }
    }
    match family.kind.as_str() {
        "counter" => {
            if !name.ends_with("_total") {
                return Err(format!("counter {name} does not end in _total"));
            }
            if let Some(bad) = family
                .samples
                .iter()
                .find(|sample| !(sample.value.is_finite() && sample.value >= 0.0))
            {
                return Err(format!("counter {name} has value {}", bad.value));
            }
        }
        "histogram" => check_histogram(name, family)?,
        _ => {}
    }
    Ok(())
}

fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    let bucket = format!("{name}_bucket");
    let mut by_labels: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    for sample in family.samples.iter().filter(|s| s.name == bucket) {
        let mut labels = sample.labels.clone();
        let le = labels
            .remove("le")
            .ok_or_else(|| format!("{name}: a bucket without le"))?;
        let bound = number(&le).map_err(|e| format!("{name}: le {le:?}: {e}"))?;
        by_labels
            .entry(labels)
            .or_default()
            .push((bound, sample.value));
    }
    for (labels, buckets) in &by_labels {
        if !buckets
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1)
        {
            return Err(format!(
                "{name}{labels:?}: buckets not cumulative: {buckets:?}"
            ));
        }
        let (last_bound, last_count) = *buckets.last().expect("at least one");
        if last_bound != f64::INFINITY {
            return Err(format!("{name}{labels:?}: the last bucket is not +Inf"));
        }
        let find = |suffix: &str| {
            family
                .samples
                .iter()
                .find(|s| s.name == format!("{name}{suffix}") && s.labels == *labels)
                .map(|s| s.value)
                .ok_or_else(|| format!("{name}{labels:?}: no {suffix}"))
        };
        if find("_count")? != last_count {
            return Err(format!("{name}{labels:?}: +Inf bucket is not _count"));
        }
        let sum = find("_sum")?;
        if sum.is_nan() || sum < 0.0 {
            return Err(format!("{name}{labels:?}: _sum is {sum}"));
        }
    }
    Ok(())
}

fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// HELP text allows `\\` and `\n`; label values also `\"`.
fn unescape(text: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            other => return Err(format!("bad escape \\{other:?}")),
        }
    }
    Ok(out)
}

/// A value as Go's ParseFloat takes it, plus the three spellings of the
/// format; Rust's own `inf` and `nan` are refused.
fn number(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
        {
            text.parse().map_err(|e| format!("{e}"))
        }
        _ => Err("not a number".to_string()),
    }
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .ok_or("no value")?;
    let name = &line[..name_end];
    if !metric_name(name) {
        return Err("bad metric name".to_string());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once("=\"").ok_or("a label without =\"")?;
            if !label_name(label) {
                return Err(format!("bad label name {label:?}"));
            }
            // The value ends at the first quote not escaped.
            let mut end = None;
            let mut escaped = false;
            for (offset, c) in after.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(offset);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("an unterminated label value")?;
            let value = unescape(&after[..end], true)?;
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label {label} repeated"));
            }
            rest = &after[end + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
                if rest.starts_with('}') {
                    return Err("a comma before }".to_string());
                }
            } else if !rest.starts_with('}') {
                return Err("labels not separated by a comma".to_string());
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or("no single space before the value")?;
    if value.contains(' ') {
        return Err("more than a value (a timestamp?)".to_string());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value: number(value)?,
    })
}

/// The value of the one sample of `name` with exactly `labels`.
pub fn value(families: &Families, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    families
        .values()
        .flat_map(|family| &family.samples)
        .find(|sample| sample.name == name && sample.labels == wanted)
        .map(|sample| sample.value)
}
