//! RustyHook's own config files load unchanged; its retired format and typos fail clearly.

use std::path::{Path, PathBuf};

use rustyhook::config::{Config, parse};

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/rustyhook")
}

fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)?;
    Config::build(parse(&text, &path.display().to_string())?)
}

#[test]
fn every_rustyhook_config_and_roadmap_example_loads() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [compat_dir(), compat_dir().join("roadmap")] {
        for entry in std::fs::read_dir(&dir).expect("compat dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml") && !path.ends_with("example.yml") {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 14, "found only {files:?}");
    for path in files {
        let config = load(&path).unwrap_or_else(|e| panic!("{} failed: {e:#}", path.display()));
        assert!(
            !config.handlers.is_empty(),
            "{} has no handlers",
            path.display()
        );
    }
}

#[test]
fn the_roadmap_keys_are_understood() {
    let c = load(&compat_dir().join("roadmap/2_2-conditional-execution.yml")).expect("loads");
    let h = c.handlers.get("deploy-pipeline").expect("derived id");
    assert!(h.on_success.as_ref().is_some_and(|f| f.shell.is_some()));
    assert_eq!(
        h.on_failure
            .as_ref()
            .and_then(|f| f.retry.as_ref())
            .map(|r| r.max_retries()),
        Some(3)
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("notify-success")),
        "{:?}",
        c.warnings
    );
    let c = load(&compat_dir().join("roadmap/2_4-event-filtering-and-routing.yml")).expect("loads");
    let h = c.handlers.iter().next().expect("one handler");
    assert_eq!(h.routes.len(), 4);
    assert!(h.routes[0].pattern.matches("cat.png"));
    let c = load(&compat_dir().join("readme-quickstart.yml")).expect("loads");
    let backup = c.handlers.get("daily-backup").expect("handler");
    assert_eq!(
        backup.action.retry.next_delay(1, 0.0),
        Some(std::time::Duration::from_secs(1))
    );
}

#[test]
fn the_retired_list_format_fails_naming_the_problem_and_line() {
    let err = load(&compat_dir().join("example.yml")).expect_err("retired format");
    let text = format!("{err:#}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains("retired"), "{text}");
    assert!(text.contains("handlers"), "{text}");
}

#[test]
fn an_unknown_option_is_an_error_naming_the_key_and_line() {
    let yaml = "handlers:\n  - type: Cron\n    name: tick\n    options:\n      type: cron\n      cron_expresion: '* * * * *'\n    shell: echo\n";
    let text = format!("{:#}", parse(yaml, "t.yaml").expect_err("typo"));
    assert!(
        text.contains("cron_expresion") && text.contains("line 6"),
        "{text}"
    );
    let yaml =
        "handlers:\n  - type: Webhook\n    name: hook\n    options: {path: /x}\n    shel: echo\n";
    let text = format!("{:#}", parse(yaml, "t.yaml").expect_err("typo"));
    assert!(text.contains("shel") && text.contains("line 5"), "{text}");
    let yaml = "handlers:\n  - type: Cron\n    name: tick\n    options:\n      cron_expression: '61 * * * *'\n    shell: echo\n";
    let text = format!("{:#}", parse(yaml, "t.yaml").expect_err("bad cron"));
    assert!(text.contains("line 5"), "{text}");
}

#[test]
fn a_dependency_cycle_is_rejected_naming_the_cycle() {
    let yaml = r#"
handlers:
  - {type: Custom, name: a, shell: "true", depends_on: [b]}
  - {type: Custom, name: b, shell: "true", depends_on: [c]}
  - {type: Custom, name: c, shell: "true", depends_on: a}
"#;
    let err = Config::build(parse(yaml, "t.yaml").expect("parses")).expect_err("cycle");
    let text = format!("{err:#}");
    assert!(text.contains("a → b → c → a"), "{text}");
}
