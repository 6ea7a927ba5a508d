//! The environment every child process (a handler's command, a plugin) starts from: the
//! server's own, minus what the server holds and must not hand on.
//!
//! A command may print its environment, and with `response: wait` its output is the webhook's
//! answer, so what a child inherits is readable by whoever may call the handler. Removed, always:
//! every `RUSTYHOOK_*` variable (the server's settings: admin token, secret key, database and
//! coordinator URLs, and any later setting), and every variable whose value holds one of the
//! secrets the server was given (the same token or password copied under another name, such as
//! `PGPASSWORD` or a `DATABASE_URL` the config interpolated).

/// Secrets shorter than this are only matched as a whole value: a short password would
/// otherwise strike out unrelated variables that happen to contain it.
const MIN_SUBSTRING_SECRET: usize = 8;

/// The server's environment with its secrets taken out, read once at start.
#[derive(Debug, Clone, Default)]
pub struct BaseEnv {
    /// What remains, in the order the process had it.
    vars: Vec<(String, String)>,
}

impl BaseEnv {
    /// This process's environment, minus rustyhook's settings and variables holding any of
    /// `secrets`. Variables that are not UTF-8 are left out too.
    pub fn from_process(secrets: &[String]) -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::new(vars, secrets)
    }

    /// `vars` minus rustyhook's settings and variables holding any of `secrets`.
    pub fn new(vars: impl IntoIterator<Item = (String, String)>, secrets: &[String]) -> Self {
        let secrets: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let holds_secret = |value: &str| {
            secrets
                .iter()
                .any(|s| value == *s || (s.len() >= MIN_SUBSTRING_SECRET && value.contains(s)))
        };
        Self {
            vars: vars
                .into_iter()
                .filter(|(k, v)| !k.starts_with("RUSTYHOOK_") && !holds_secret(v))
                .collect(),
        }
    }

    /// What a handler's command starts from: all of it when it inherits the environment,
    /// otherwise only the variables named in `passthrough`.
    pub fn select(&self, inherit: bool, passthrough: &[String]) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(k, _)| inherit || passthrough.iter().any(|p| p == k))
            .cloned()
            .collect()
    }
}

/// The passwords inside `url` (`scheme://user:password@host/…`) and the URL itself: what a
/// child must not see of a database, broker or coordinator address.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        out.push(password.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rustyhook_settings_and_copies_of_secrets_are_never_passed_on() {
        let mut secrets = url_secrets("postgres://rh:s3cret-pass@db/rh");
        secrets.push("admin-token-0123456789".into());
        let base = BaseEnv::new(
            vars(&[
                ("PATH", "/usr/bin"),
                ("RUSTYHOOK_ADMIN_TOKEN", "admin-token-0123456789"),
                ("RUSTYHOOK_SECRET_KEY", "a2V5"),
                ("PGPASSWORD", "s3cret-pass"),
                (
                    "DATABASE_URL",
                    "postgres://rh:s3cret-pass@db/rh?sslmode=off",
                ),
                ("MY_TOKEN_COPY", "Bearer admin-token-0123456789"),
                ("HOME", "/root"),
            ]),
            &secrets,
        );
        assert_eq!(
            base.select(true, &[]),
            vars(&[("PATH", "/usr/bin"), ("HOME", "/root")])
        );
        assert_eq!(
            base.select(false, &["HOME".into(), "PGPASSWORD".into()]),
            vars(&[("HOME", "/root")])
        );
        assert!(base.select(false, &[]).is_empty());
    }

    #[test]
    fn a_short_secret_strikes_out_only_a_variable_that_is_exactly_it() {
        let base = BaseEnv::new(vars(&[("A", "pw"), ("B", "/home/pwuser")]), &["pw".into()]);
        assert_eq!(base.select(true, &[]), vars(&[("B", "/home/pwuser")]));
    }
}
