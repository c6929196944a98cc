//! Three template servers, separate processes started from the `server`
//! binary as a deployment starts them, sharing one `redis-server`: their
//! callers cost the token endpoint one request, and each server's
//! `/metrics` says where its token came from.
//!
//! Needs `redis-server` (skipped with a message without it, failed under
//! `CI`).

mod common;

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::redis_server::RedisServer;
use common::{CLIENT_ID, CLIENT_SECRET, Issuer, TOKEN_PATH, token_server};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// A `server` process, killed on drop.
struct Replica {
    child: Child,
    port: u16,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts the template with `vars`, in an empty working directory (no
/// development file), and waits for `/health`.
async fn start(vars: &[(&str, String)], dir: &std::path::Path) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary");
    let replica = Replica { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    loop {
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return replica;
        }
        assert!(
            Instant::now() < deadline,
            "the server on {port} did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the series `name{provider="demo"}` in a scrape.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains("provider=\"demo\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_template_servers_sharing_one_redis_make_one_token_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "oauth2-replicas-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let key_file = dir.join("cache.key");
    let mut file = std::fs::File::create(&key_file).expect("key file");
    writeln!(
        file,
        "{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    )
    .expect("write");

    // One token endpoint and one API for the three servers.
    let issuer = Issuer::new().delay(Duration::from_millis(300));
    let server = token_server(issuer.clone()).await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "orders": [] })))
        .mount(&server)
        .await;
    let vars = [
        ("APP_ENV", "development".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("DEMO_API_URL", server.uri()),
        (
            "OAUTH2_DEMO_TOKEN_URL",
            format!("{}{TOKEN_PATH}", server.uri()),
        ),
        ("OAUTH2_DEMO_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OAUTH2_DEMO_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("OAUTH2_CACHE_REDIS_URL", redis.url()),
        (
            "OAUTH2_CACHE_ENCRYPTION_KEY_FILE",
            key_file.to_str().expect("utf-8").to_owned(),
        ),
        ("OAUTH2_CACHE_NAMESPACE", "replicas-test".to_owned()),
    ];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(start(&vars, &dir).await);
    }

    // 30 callers per server, all at once, every one cold.
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for replica in &replicas {
        for _ in 0..30 {
            let url = format!("http://127.0.0.1:{}/demo/orders", replica.port);
            let client = client.clone();
            calls.push(tokio::spawn(async move {
                client.get(url).send().await.map(|r| r.status())
            }));
        }
    }
    for call in calls {
        assert_eq!(call.await.expect("join").expect("answer"), 200);
    }
    assert_eq!(issuer.issued(), 1, "one token request for three servers");
    let tokens: Vec<_> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path() == "/orders")
        .filter_map(|r| common::header(r, "authorization").map(str::to_owned))
        .collect();
    assert_eq!(tokens.len(), 90);
    assert!(tokens.iter().all(|t| t == "Bearer tok-1"), "{tokens:?}");

    // Each server's own metrics: one requested the token, two took it
    // from the store.
    let (mut hits, mut misses) = (0.0, 0.0);
    for replica in &replicas {
        let text = client
            .get(format!("http://127.0.0.1:{}/metrics", replica.port))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        hits += series(&text, "oauth2_store_hits_total");
        misses += series(&text, "oauth2_store_misses_total");
    }
    assert_eq!((hits, misses), (2.0, 1.0));

    drop(replicas);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `environment` of the compose file's replica anchor, with the
/// files it names made here and the image's own `ENV` (Dockerfile).
fn compose_environment(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let compose = std::fs::read_to_string("docker-compose.yml").expect("docker-compose.yml");
    let mut vars = std::collections::BTreeMap::new();
    let mut lines = compose.lines().skip_while(|l| *l != "  environment:");
    lines.next().expect("the replica anchor has an environment");
    for line in lines.take_while(|l| l.starts_with("    ")) {
        let (name, value) = line.trim().split_once(": ").expect("NAME: value");
        vars.insert(name.to_owned(), value.trim_matches('"').to_owned());
    }
    let dockerfile = std::fs::read_to_string("Dockerfile").expect("Dockerfile");
    for name in ["APP_ENV", "HOST", "PORT", "LOG_FORMAT"] {
        let value = dockerfile
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
            .or_else(|| {
                dockerfile
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(&format!("ENV {name}=")))
            })
            .unwrap_or_else(|| panic!("the Dockerfile sets {name}"));
        vars.insert(name.to_owned(), value.trim_end_matches(" \\").to_owned());
    }
    for (name, content) in [
        ("OAUTH2_API_CLIENT_SECRET_FILE", "s3cret".to_owned()),
        (
            "OAUTH2_CACHE_ENCRYPTION_KEY_FILE",
            base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        ),
    ] {
        assert!(
            vars[name].starts_with("/run/secrets/"),
            "{name} is a compose secret"
        );
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        vars.insert(name.to_owned(), path.to_str().expect("utf-8").to_owned());
    }
    vars
}

#[tokio::test]
async fn the_compose_file_configures_three_replicas_the_template_accepts() {
    let dir = std::env::temp_dir().join(format!("oauth2-compose-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let vars = compose_environment(&dir);
    assert_eq!(vars["APP_ENV"], "production");
    let state = axum_oauth2_template::state_from_vars(&vars).expect("the template starts");
    assert!(state.oauth2.providers().eq(["api"]));
    let config = axum_oauth2_client::OAuth2Config::from_vars(vars.clone()).expect("config");
    let store = config.store().expect("a shared store");
    assert!(format!("{store:?}").contains("redis://redis:6379"));

    let compose = std::fs::read_to_string("docker-compose.yml").expect("compose");
    for replica in ["replica-1", "replica-2", "replica-3"] {
        let block: String = compose
            .lines()
            .skip_while(|l| *l != format!("  {replica}:"))
            .take(2)
            .collect();
        assert!(block.contains("<<: *replica"), "{replica} uses the anchor");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
