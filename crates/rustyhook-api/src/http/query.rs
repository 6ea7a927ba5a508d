//! Query-string values as Svix's SDKs send them: booleans as the text `true`/`false`, and lists
//! either as repeated parameters (`event_types=a&event_types=b`) or joined with commas
//! (`event_types=a,b`), or both. A parameter inside a flattened struct reaches serde as text,
//! so each helper accepts text as well as the typed value.

use serde::de::value::StringDeserializer;
use serde::{Deserialize, Deserializer};

/// A boolean parameter: `true`/`false` (any case), `1`/`0`, or a JSON boolean.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "{t:?} is not a boolean: use true or false"
            ))),
        },
    }
}

/// A list parameter: repeated, comma-joined, or both; empty items are dropped, and each item
/// is parsed as `T` (so a bad name is a 422 naming it). No items at all is `None`.
pub fn list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let raw = match Option::<OneOrMany>::deserialize(d)? {
        None => return Ok(None),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    };
    let items = raw
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| T::deserialize(StringDeserializer::<D::Error>::new(s.to_owned())))
        .collect::<Result<Vec<T>, _>>()?;
    Ok((!items.is_empty()).then_some(items))
}

/// `true`, for parameters that default to on (`with_content`).
pub fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(default = "yes", deserialize_with = "flag")]
        with_content: bool,
        #[serde(default, deserialize_with = "list")]
        event_types: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(flatten)]
        inner: Inner,
        #[allow(dead_code)]
        status: Option<String>,
    }

    fn parse(q: &str) -> Result<Outer, String> {
        serde_html_form::from_str(q).map_err(|e| e.to_string())
    }

    #[test]
    fn booleans_and_lists_parse_as_the_sdks_send_them_even_when_flattened() {
        let p = parse("with_content=false&event_types=a.b,c.d&event_types=e.f").expect("parses");
        assert!(!p.inner.with_content);
        assert_eq!(
            p.inner.event_types.as_deref(),
            Some(&["a.b".to_owned(), "c.d".to_owned(), "e.f".to_owned()][..])
        );
        let p = parse("with_content=True&event_types=a.b").expect("parses");
        assert!(p.inner.with_content);
        assert_eq!(
            p.inner.event_types.as_deref(),
            Some(&["a.b".to_owned()][..])
        );
        let p = parse("").expect("parses");
        assert!(p.inner.with_content, "with_content defaults to true");
        assert_eq!(p.inner.event_types, None);
        assert_eq!(
            parse("event_types=,").expect("parses").inner.event_types,
            None
        );
        assert!(parse("with_content=maybe").is_err());
    }
}
