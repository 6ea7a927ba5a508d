//! Glob patterns for routes and file filters.
//!
//! A route's `pattern` may hold `|`-separated alternatives (`*.jpg|*.png`). File filters match
//! paths relative to the watched folder, so `*.scss` matches `main.scss` in the root and
//! `_*.scss` matches a partial anywhere a plain name would: a pattern without a `/` matches a
//! file's name in any folder, as `.gitignore` does.

use std::fmt;

use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::{Deserialize, Deserializer};

/// One or more glob alternatives.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    /// Each alternative: matched against the whole path, and against the file name alone when
    /// the alternative has no `/`.
    alternatives: Vec<(GlobMatcher, bool)>,
}

impl Pattern {
    /// Parses `a|b|c`; each alternative is a glob (`*`, `**`, `?`, `[ab]`, `{x,y}`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alt in text.split('|') {
            let alt = alt.trim();
            if alt.is_empty() {
                return Err(format!("pattern {text:?} has an empty alternative"));
            }
            let glob = GlobBuilder::new(alt)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("pattern {alt:?} is not a valid glob: {e}"))?;
            alternatives.push((glob.compile_matcher(), !alt.contains('/')));
        }
        Ok(Self {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// Whether `path` (relative, `/`-separated) matches any alternative.
    pub fn matches(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.alternatives
            .iter()
            .any(|(m, by_name)| m.is_match(path) || (*by_name && m.is_match(name)))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A single glob (no `|`), as used in `include`/`exclude` lists.
#[derive(Clone, Debug)]
pub struct PathGlob(Pattern);

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Glob::new(&text)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a valid glob: {e}")))?;
        Pattern::parse(&text)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// `include`/`exclude` for watched files: a path passes when it matches some include (or there
/// are none) and no exclude. Excludes win.
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    include: Vec<PathGlob>,
    exclude: Vec<PathGlob>,
}

impl PathFilter {
    /// A filter from parsed globs.
    pub fn new(include: Vec<PathGlob>, exclude: Vec<PathGlob>) -> Self {
        Self { include, exclude }
    }

    /// Whether the relative path passes. A path under an excluded folder (`target/**` or
    /// `node_modules/**`) is excluded too.
    pub fn allows(&self, relative: &str) -> bool {
        if self.exclude.iter().any(|g| g.0.matches(relative)) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|g| g.0.matches(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(items: &[&str]) -> Vec<PathGlob> {
        items
            .iter()
            .map(|s| PathGlob(Pattern::parse(s).expect("valid")))
            .collect()
    }

    #[test]
    fn alternatives_match_names_in_any_folder() {
        let p = Pattern::parse("*.jpg|*.png").expect("valid");
        assert!(p.matches("cat.jpg"));
        assert!(p.matches("photos/2024/cat.png"));
        assert!(!p.matches("notes.csv"));
        let temp = Pattern::parse("temp/*").expect("valid");
        assert!(temp.matches("temp/x.csv"));
        assert!(!temp.matches("other/temp/x.csv"));
        assert!(Pattern::parse("*").expect("valid").matches("a/b/c.txt"));
    }

    #[test]
    fn filters_match_relative_to_the_watched_folder() {
        let f = PathFilter::new(globs(&["*.scss", "*.sass"]), globs(&["_*.scss"]));
        assert!(f.allows("main.scss"));
        assert!(f.allows("components/button.scss"));
        assert!(!f.allows("_variables.scss"));
        assert!(!f.allows("components/_mixins.scss"));
        assert!(!f.allows("main.css"));
        let rust = PathFilter::new(
            globs(&["**/*.rs", "Cargo.toml"]),
            globs(&["target/**", "**/*.bak"]),
        );
        assert!(rust.allows("src/main.rs"));
        assert!(rust.allows("main.rs"));
        assert!(rust.allows("Cargo.toml"));
        assert!(!rust.allows("target/debug/build.rs"));
        assert!(!rust.allows("src/old.rs.bak"));
    }

    #[test]
    fn an_empty_alternative_is_an_error() {
        assert!(Pattern::parse("*.jpg||*.png").is_err());
    }
}
