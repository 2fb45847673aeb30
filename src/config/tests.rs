use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn built_in_defaults_apply_without_files() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
    assert_eq!(s.env, AppEnv::Development);
    assert_eq!(s.server.port, 8000);
    assert_eq!(s.security.access_token_expire_minutes, 30);
    assert_eq!(s.security.refresh_token_expire_minutes, 600);
    assert!(s.db.auto_migrate);
}

#[test]
fn each_layer_overrides_the_one_before() {
    let dir = dir_with(&[
        (
            "settings.toml",
            "[default]\nserver.port = 1111\nserver.host = \"10.0.0.1\"\ndb.max_connections = 3\n",
        ),
        (
            ".secrets.toml",
            "[default]\nserver.port = 2222\nserver.host = \"10.0.0.2\"\n",
        ),
    ]);
    let s = Settings::load_from(dir.path(), &vars(&[("PAMPS_SERVER__PORT", "3333")])).unwrap();
    assert_eq!(s.server.port, 3333, "env beats .secrets.toml");
    assert_eq!(
        s.server.host, "10.0.0.2",
        ".secrets.toml beats settings.toml"
    );
    assert_eq!(s.db.max_connections, 3, "settings.toml beats built-in");
}

#[test]
fn environment_table_overrides_default_table() {
    let dir = dir_with(&[(
        "settings.toml",
        "[default]\nserver.port = 1\n[testing]\nserver.port = 2\n[development]\nserver.port = 3\n",
    )]);
    let testing = Settings::load_from(dir.path(), &vars(&[("PAMPS_ENV", "testing")])).unwrap();
    assert_eq!((testing.env, testing.server.port), (AppEnv::Testing, 2));
    let dev = Settings::load_from(dir.path(), &vars(&[])).unwrap();
    assert_eq!((dev.env, dev.server.port), (AppEnv::Development, 3));
}

#[test]
fn env_vars_are_case_insensitive_and_parse_lists() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(
        dir.path(),
        &vars(&[
            ("pamps_db__auto_migrate", "false"),
            (
                "PAMPS_SERVER__CORS_ORIGINS",
                "https://a.example,https://b.example",
            ),
            ("PAMPS_DB", "pamps_test"),
        ]),
    )
    .unwrap();
    assert!(!s.db.auto_migrate);
    assert_eq!(
        s.server.cors_origins,
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn db_uri_falls_back_to_database_url_then_localhost() {
    let dir = dir_with(&[]);
    let s =
        Settings::load_from(dir.path(), &vars(&[("DATABASE_URL", "postgresql://h/x")])).unwrap();
    assert_eq!(s.db.uri.expose_secret(), "postgresql://h/x");
    let s = Settings::load_from(
        dir.path(),
        &vars(&[
            ("DATABASE_URL", "postgresql://h/x"),
            ("PAMPS_DB__URI", "postgresql://h/y"),
        ]),
    )
    .unwrap();
    assert_eq!(s.db.uri.expose_secret(), "postgresql://h/y");
    let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
    assert_eq!(s.db.uri.expose_secret(), DEFAULT_DB_URI);
}

#[test]
fn production_refuses_default_missing_or_short_secret() {
    let dir = dir_with(&[]);
    for secret in [
        None,
        Some("short"),
        Some("dev-only-insecure-secret-but-long-enough-xxxxxxx"),
    ] {
        let mut v = vars(&[("PAMPS_ENV", "production")]);
        if let Some(secret) = secret {
            v.insert("PAMPS_SECURITY__SECRET_KEY".into(), secret.into());
        }
        let err = Settings::load_from(dir.path(), &v).unwrap_err();
        assert!(err.to_string().contains("secret_key"), "{err}");
    }
    let mut v = vars(&[("PAMPS_ENV", "production")]);
    v.insert("PAMPS_SECURITY__SECRET_KEY".into(), GOOD_SECRET.into());
    let s = Settings::load_from(dir.path(), &v).unwrap();
    assert!(s.rate_limit.enabled && !s.db.auto_migrate);
}

/// `openssl rand -hex 32`.
const GOOD_SECRET: &str = "3f9a0c2e7b14d85f6a0e9c3b72d1f48a5e6c0b9d2f7a13e8c4b60d5f9a2e71c3";

fn production_with_secret(secret: &str) -> Result<Settings, ConfigError> {
    let dir = dir_with(&[]);
    let v = vars(&[
        ("PAMPS_ENV", "production"),
        ("PAMPS_SECURITY__SECRET_KEY", secret),
    ]);
    Settings::load_from(dir.path(), &v)
}

#[test]
fn production_refuses_guessable_secrets_and_says_why() {
    let cases = [
        (" ".repeat(40), "bits of entropy, at least 128"),
        ("a".repeat(40), "bits of entropy, at least 128"),
        ("abcdefghij".to_owned() + &"a".repeat(40), "bits of entropy"),
        ("Zq9#kT2@xW7!".to_owned(), "12 bytes long, at least 32"),
        // Both accepted before (issue 20).
        (
            "0123456789abcdef0123456789abcdef".to_owned(),
            "bits of entropy, at least 128",
        ),
        (
            "my-company-jwt-secret-key-for-prod-2026".to_owned(),
            "bits of entropy, at least 128",
        ),
    ];
    for (secret, why) in cases {
        let err = production_with_secret(&secret).unwrap_err().to_string();
        assert!(
            err.contains("security.secret_key looks guessable: ") && err.contains(why),
            "{secret:?}: {err}"
        );
        assert!(err.contains("`openssl rand -base64 48`"), "{err}");
        assert!(!err.contains(&secret), "the secret is not echoed: {err}");
    }
    production_with_secret(GOOD_SECRET).unwrap();
    production_with_secret("u5Yp0m3Qz/8rJk1Wc+Xe7Lb2Nd4Tf6Gh9Ai0Ov3Sy5=").unwrap();
}

fn with_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load_from(dir_with(&[]).path(), &vars(pairs))
}

#[test]
fn cors_origins_must_be_explicit_origins() {
    for ok in [
        "https://app.example.com",
        "http://localhost:5173",
        "http://127.0.0.1:8080",
        "http://[::1]:3000",
        "http://[::1]",
    ] {
        let s = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", ok)]).unwrap();
        assert_eq!(s.server.cors_origins, [ok]);
    }
    let err = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", "*")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("server.cors_origins: \"*\" is not allowed (pamps never allows every origin"),
        "{err}"
    );
    assert!(
        err.contains("list origins like https://app.example.com"),
        "{err}"
    );
    for (bad, why) in [
        ("example.com", "has no scheme"),
        ("ftp://example.com", "must use http or https"),
        ("https://example.com/", "has a path"),
        ("https://example.com/app", "has a path"),
        ("https://", "has no valid host"),
        ("https://exa mple.com", "has no valid host"),
        ("https://example.com:99999", "has an invalid port"),
        ("https://example.com:", "has an invalid port"),
        ("https://[::1]x", "has no valid host"),
        ("https://user@example.com", "has no valid host"),
    ] {
        let err = with_env(&[("PAMPS_SERVER__CORS_ORIGINS", bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("{bad:?} {why}")), "{bad}: {err}");
    }
}

#[test]
fn public_url_is_an_absolute_http_url_read_without_trailing_slash() {
    assert_eq!(with_env(&[]).unwrap().public_url(), None);
    for (value, expected) in [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://example.com/pamps/", "https://example.com/pamps"),
    ] {
        let s = with_env(&[("PAMPS_SERVER__PUBLIC_URL", value)]).unwrap();
        assert_eq!(s.public_url(), Some(expected));
    }
    for bad in [
        "api.example.com",
        "/pamps",
        "ftp://example.com",
        "https://example.com/?a=1",
        "https://example.com/#top",
    ] {
        let err = with_env(&[("PAMPS_SERVER__PUBLIC_URL", bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.public_url"), "{bad}: {err}");
    }
}

#[test]
fn new_settings_have_defaults_and_bounds() {
    let s = with_env(&[]).unwrap();
    assert_eq!(s.server.body_timeout_ms, 5000);
    assert_eq!(s.db.acquire_timeout_ms, 5000);
    assert_eq!(s.stream.ping_interval_secs, 30);
    assert_eq!(s.stream.queue_capacity, 256);
    assert_eq!(s.stream.max_sockets, 20000);
    assert_eq!(s.stream.retention_hours, 24);
    assert_eq!(s.rate_limit.store, RateLimitStore::Memory);
    assert_eq!(s.rate_limit.password_per_account_per_15_minutes, 5);
    assert!(s.warnings.is_empty());

    let s = with_env(&[
        ("PAMPS_RATE_LIMIT__STORE", "postgres"),
        ("PAMPS_STREAM__QUEUE_CAPACITY", "8"),
        ("PAMPS_SERVER__BODY_TIMEOUT_MS", "600000"),
    ])
    .unwrap();
    assert_eq!(s.rate_limit.store, RateLimitStore::Postgres);
    assert_eq!(s.stream.queue_capacity, 8);

    for (key, value, expected) in [
        (
            "PAMPS_SERVER__BODY_TIMEOUT_MS",
            "99",
            "server.body_timeout_ms must be 100 to 600000",
        ),
        (
            "PAMPS_SERVER__BODY_TIMEOUT_MS",
            "600001",
            "server.body_timeout_ms must be 100 to 600000",
        ),
        (
            "PAMPS_DB__ACQUIRE_TIMEOUT_MS",
            "0",
            "db.acquire_timeout_ms must be",
        ),
        (
            "PAMPS_STREAM__MAX_SOCKETS",
            "0",
            "stream.max_sockets must be at least 1",
        ),
        ("PAMPS_RATE_LIMIT__STORE", "redis", "PAMPS_*"),
    ] {
        let err = with_env(&[(key, value)]).unwrap_err().to_string();
        assert!(err.contains(expected), "{key}={value}: {err}");
    }
}

#[test]
fn legacy_keys_are_ignored_with_a_warning() {
    let dir = dir_with(&[(
        "settings.toml",
        "[default]\nsecurity.algorithm = \"HS256\"\n[development.security]\nalgorithm = \"RS256\"\n",
    )]);
    let s = Settings::load_from(
        dir.path(),
        &vars(&[("PAMPS_DB__connect_args", "{\"check_same_thread\": false}")]),
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("settings.toml, [default]: security.algorithm is ignored"));
    assert!(s.warnings[1].contains("settings.toml, [development]: security.algorithm is ignored"));
    assert!(s.warnings[2].contains("environment variable PAMPS_DB__connect_args is ignored"));
    let err = with_env(&[("PAMPS_DB__CONNECT_ARGZ", "x")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "environment variable PAMPS_DB__CONNECT_ARGZ: unknown setting db.connect_argz"
        ),
        "{err}"
    );
}

#[test]
fn errors_name_the_file_and_the_key() {
    let dir = dir_with(&[("settings.toml", "[default]\nserver.prot = 1\n")]);
    let err = Settings::load_from(dir.path(), &vars(&[]))
        .unwrap_err()
        .to_string();
    let file = dir.path().join("settings.toml").display().to_string();
    assert!(
        err.contains(&format!("{file}, [default]: unknown setting server.prot")),
        "{err}"
    );

    let dir = dir_with(&[(".secrets.toml", "[development.server]\nport = \"eighty\"\n")]);
    let err = Settings::load_from(dir.path(), &vars(&[]))
        .unwrap_err()
        .to_string();
    let file = dir.path().join(".secrets.toml").display().to_string();
    assert!(
        err.contains(&format!("{file}, [development]: ")) && err.contains("server.port"),
        "{err}"
    );

    let dir = dir_with(&[("settings.toml", "[default]\nserver.port = 1\n[testing\n")]);
    let err = Settings::load_from(dir.path(), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("settings.toml is not valid TOML"), "{err}");
}

#[test]
fn unknown_keys_and_bad_env_are_errors() {
    let dir = dir_with(&[("settings.toml", "[default]\nserver.prot = 1\n")]);
    assert!(Settings::load_from(dir.path(), &vars(&[])).is_err());
    let dir = dir_with(&[]);
    assert!(Settings::load_from(dir.path(), &vars(&[("PAMPS_ENV", "staging")])).is_err());
}

#[test]
fn environments_parse_their_names_and_short_names_in_any_case() {
    let cases = [
        ("", AppEnv::Development),
        (" Development ", AppEnv::Development),
        ("dev", AppEnv::Development),
        ("TESTING", AppEnv::Testing),
        ("test", AppEnv::Testing),
        ("production", AppEnv::Production),
        ("Prod", AppEnv::Production),
    ];
    for (name, env) in cases {
        assert_eq!(AppEnv::parse(name).unwrap(), env, "{name:?}");
    }
    for env in [AppEnv::Development, AppEnv::Testing, AppEnv::Production] {
        let table: &str = env.into();
        assert_eq!(
            (AppEnv::parse(table).unwrap(), env.to_string()),
            (env, table.into())
        );
    }
    let err = AppEnv::parse("Staging").unwrap_err().to_string();
    assert!(err.contains(r#"PAMPS_ENV="staging" is not one of development, testing, production"#));
}

#[test]
fn repository_settings_files_load_in_every_environment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for env in ["development", "testing"] {
        let s = Settings::load_from(root, &vars(&[("PAMPS_ENV", env)])).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }
}

#[test]
fn secrets_are_not_debug_printed() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(dir.path(), &vars(&[])).unwrap();
    assert!(!format!("{s:?}").contains("dev-only-insecure"));
}
