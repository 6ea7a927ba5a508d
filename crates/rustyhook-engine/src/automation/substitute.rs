//! `$NAME` and `${NAME}` in argv commands (and routes), which no shell expands: rustyhook does it,
//! once.

use std::collections::BTreeMap;

use rustyhook_core::handlers::Command;

/// `$NAME` and `${NAME}` in an argv command, which no shell expands.
pub(crate) fn substitute(c: &Command, env: &BTreeMap<String, String>) -> Command {
    match c {
        Command::Shell(_) => c.clone(),
        Command::Argv(argv) => Command::Argv(argv.iter().map(|a| expand(a, env)).collect()),
    }
}

/// Replaces each `$NAME` (the longest run of letters, digits and `_`) and `${NAME}` in `arg`
/// with its value, in one pass from left to right: a value is copied, never read again, so a
/// header holding `$SECRET` stays that text. Unknown names and a lone `$` are left as written.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            },
            None => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], &after[len..])
            }
        };
        match env.get(name).filter(|_| !name.is_empty()) {
            Some(value) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_substituted_value_is_never_expanded_again() {
        let e = env(&[
            ("RUSTYHOOK_HEADER_X_NAME", "leak=$ZZ_SECRET ${ZZ_SECRET}"),
            ("ZZ_SECRET", "hunter2"),
        ]);
        assert_eq!(
            expand("arg=$RUSTYHOOK_HEADER_X_NAME", &e),
            "arg=leak=$ZZ_SECRET ${ZZ_SECRET}"
        );
    }

    #[test]
    fn names_are_read_whole_and_unknown_ones_are_left_as_written() {
        let e = env(&[("FILE", "/a b"), ("FILES", "many")]);
        assert_eq!(expand("$FILE.bak", &e), "/a b.bak");
        assert_eq!(expand("$FILES", &e), "many");
        assert_eq!(expand("${FILE}S", &e), "/a bS");
        assert_eq!(
            expand("$FILEX $ ${NOPE} ${FILE", &e),
            "$FILEX $ ${NOPE} ${FILE"
        );
        assert_eq!(expand("cost: 5$", &e), "cost: 5$");
    }
}
