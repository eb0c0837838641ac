//! The real binary: start-up, a real socket, logs without secrets, signals, exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::*;

const BINARY: &str = env!("CARGO_BIN_EXE_zulip-presence-mock");

/// A running server and everything it printed so far.
struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
    /// When `kill` sent a signal.
    killed_at: Option<Instant>,
}

impl Server {
    /// Starts the binary on a free port with JSON logs and waits for its "listening" line.
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BINARY)
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .env_remove("RUST_LOG")
            .envs(envs.iter().copied())
            .env_remove("ZULIP_MOCK_BIND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        let mut server = Self {
            child,
            addr: String::new(),
            lines,
            killed_at: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.addr.is_empty() {
            let line = server
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server printed its address within 10 s");
            let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if log["fields"]["message"] == "listening" {
                server.addr = log["fields"]["addr"].as_str().unwrap().to_owned();
            }
        }
        server
    }

    /// One HTTP/1.1 request over a real socket; returns the raw response. `head` is the request
    /// line and headers, each line ending in CRLF, optionally followed by a blank line and a
    /// body: `Host` and `Connection: close` are added to the headers, and the whole request goes
    /// out in one write.
    fn request(&self, head: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let extra = format!("Host: {}\r\nConnection: close\r\n", self.addr);
        let request = match head.split_once("\r\n\r\n") {
            Some((lines, body)) => format!("{lines}\r\n{extra}\r\n{body}"),
            None => format!("{head}{extra}\r\n"),
        };
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// A request with a JSON body over a real socket; returns the raw response.
    fn send_json(&self, method: &str, path: &str, body: &str) -> String {
        self.request(&format!(
            "{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Waits up to 10 s until the JSON that `GET path` answers satisfies `ready`.
    fn wait_until(&self, path: &str, ready: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(&body_of(&self.request(&format!("GET {path} HTTP/1.1\r\n")))) {
            assert!(
                Instant::now() < deadline,
                "{path} did not get ready in 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `polls` long-polls wait on their queues.
    fn wait_for_waiting_polls(&self, polls: usize) {
        self.wait_until("/__admin/queues", |queues| {
            queues.as_array().is_some_and(|queues| {
                queues
                    .iter()
                    .filter(|queue| queue["waiting"] == true)
                    .count()
                    == polls
            })
        });
    }

    /// A connection the server has certainly accepted: one request answered on it, kept alive.
    fn accepted_connection(&self) -> TcpStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(stream, "GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        let mut byte = [0u8];
        while !answer.ends_with(br#"{"status":"ok"}"#) {
            stream.read_exact(&mut byte).unwrap();
            answer.push(byte[0]);
        }
        stream
    }

    /// Waits up to 10 s for a printed line containing `text`.
    fn wait_for_line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no line with {text:?} within 10 s"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Sends SIGTERM; returns the exit code, how long the exit took and what was printed.
    fn terminate(self) -> (Option<i32>, Duration, Vec<String>) {
        self.signal("-TERM")
    }

    /// Sends `signal` (a `kill` option) and returns as `terminate` does.
    fn signal(mut self, signal: &str) -> (Option<i32>, Duration, Vec<String>) {
        self.kill(signal);
        self.wait_for_exit()
    }

    /// Sends `signal` (a `kill` option).
    fn kill(&mut self, signal: &str) {
        self.killed_at = Some(Instant::now());
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to 10 s for the server to exit; returns its exit code, how long it took since
    /// `kill`, and what it printed.
    fn wait_for_exit(mut self) -> (Option<i32>, Duration, Vec<String>) {
        let started = self.killed_at.unwrap_or_else(Instant::now);
        let deadline = started + Duration::from_secs(10);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = started.elapsed();
        // Everything it printed: the readers stop at the end of its output.
        let mut output = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            output.push(line);
        }
        (code, elapsed, output)
    }
}

fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env_remove("ZULIP_MOCK_BIND")
        .env_remove("ZULIP_MOCK_FIXTURES")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_serves_the_default_fixture_and_stops_cleanly_on_sigterm() {
    let server = Server::start(&[], &[("RUST_LOG", "trace")]);
    let authorization = basic(&format!("{}:{}", IAGO.email, IAGO.api_key));

    let response = server.request(&format!(
        "GET /api/v1/realm/presence?foo=1 HTTP/1.1\r\nAuthorization: {authorization}\r\n"
    ));
    let wrong = server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
        basic(&format!("{}:{}", HAMLET.email, IAGO.api_key))
    ));
    let (code, elapsed, output) = server.terminate();

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains(
        "\"iago@zulip.com\":{\"aggregated\":{\"client\":\"website\",\"status\":\"active\""
    ));
    assert!(
        response.ends_with("\"ignored_parameters_unsupported\":[\"foo\"]}\n"),
        "{response}"
    );
    assert!(
        wrong.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{wrong}"
    );
    assert_eq!(code, Some(0));
    assert!(
        elapsed < Duration::from_secs(2),
        "stopped after {elapsed:?}"
    );
    let output = output.join("\n");
    assert!(output.contains("SIGTERM received"), "{output}");
    // Even at trace level, no key and no Authorization header reaches the log.
    for secret in [
        IAGO.api_key,
        &authorization["Basic ".len()..],
        "Authorization",
        "authorization",
    ] {
        assert!(
            !output.contains(secret),
            "the log contains {secret:?}:\n{output}"
        );
    }
}

#[test]
fn a_frozen_clock_gives_byte_identical_responses_run_after_run() {
    let bodies: Vec<String> = (0..2)
        .map(|_| {
            let server = Server::start(&["--clock", "frozen:2023-11-14T22:13:20.25Z"], &[]);
            let response = server.request(&format!(
                "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
                basic(&format!("{}:{}", HAMLET.email, HAMLET.api_key))
            ));
            server.terminate();
            response.split("\r\n\r\n").nth(1).unwrap().to_owned()
        })
        .collect();

    assert_eq!(bodies[0], bodies[1]);
    let expected = TestApp::new();
    let expected = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(expected.get_realm_presence(HAMLET));
    assert_eq!(bodies[0], expected.text());
}

#[test]
fn the_binary_stops_cleanly_on_sigint() {
    let server = Server::start(&[], &[]);

    let (code, elapsed, output) = server.signal("-INT");

    assert_eq!(code, Some(0));
    assert!(
        elapsed < Duration::from_secs(2),
        "stopped after {elapsed:?}"
    );
    assert!(output.join("\n").contains("SIGINT received"));
}

#[test]
fn a_fixture_file_given_by_environment_replaces_the_default() {
    let dir = std::env::temp_dir().join(format!("zulip-mock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("one-user.json");
    std::fs::write(
        &path,
        r#"{"realms":[{"subdomain":"","name":"Solo","users":[{"user_id":1,"email":"solo@example.com","full_name":"Solo","api_key":"solosolosolosolosolosolosolosolo"}],
            "presence":[{"user_id":1,"last_connected_time":"-1m","last_active_time":"-1m"}]}]}"#,
    )
    .unwrap();
    let server = Server::start(&[], &[("ZULIP_MOCK_FIXTURES", path.to_str().unwrap())]);

    let response = server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
        basic("solo@example.com:solosolosolosolosolosolosolosolo")
    ));
    let (code, _, _) = server.terminate();

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("{\"presences\":{\"solo@example.com\":")
            || response.contains("\"presences\":{\"solo@example.com\":")
    );
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_healthcheck_subcommand_reports_a_running_server_healthy() {
    let server = Server::start(&[], &[]);

    let healthy = Command::new(BINARY)
        .args(["healthcheck", "--bind", &server.addr])
        .output()
        .unwrap();
    let (code, _, output) = server.terminate();
    let addr = server_gone_addr();
    let unhealthy = Command::new(BINARY)
        .args(["healthcheck", "--bind", &addr])
        .output()
        .unwrap();

    assert_eq!(healthy.status.code(), Some(0), "{healthy:?}");
    // Health checks run every few seconds in a container: not logged at the default level.
    assert!(
        output.iter().all(|line| !line.contains("latency_ms")),
        "{output:?}"
    );
    assert_eq!(code, Some(0));
    assert_eq!(unhealthy.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unhealthy.stderr).starts_with(&format!(
            "zulip-presence-mock: unhealthy: cannot connect to {addr}: "
        )),
        "{unhealthy:?}"
    );
}

/// An address where nothing listens.
fn server_gone_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn a_bad_fixture_stops_start_up_with_the_file_the_path_and_the_problem() {
    let dir = std::env::temp_dir().join(format!("zulip-mock-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, r#"{"realms":[{"subdomain":"","name":"X","users":[{"user_id":1,"email":"a@b.c","full_name":"A","api_key":"short"}]}]}"#).unwrap();

    let (code, stderr) = run_to_exit(&[
        "--fixtures",
        path.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);

    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "zulip-presence-mock: bad fixture: {}: at $.realms[0].users[0].api_key: malformed API key: it must be exactly 32 characters of A-Z, a-z and 0-9\n",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_fixture_file_stops_start_up() {
    let (code, stderr) = run_to_exit(&[
        "--fixtures",
        "/nonexistent/zulip.json",
        "--bind",
        "127.0.0.1:0",
    ]);

    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(
            "zulip-presence-mock: bad fixture: /nonexistent/zulip.json: cannot read the fixture: "
        ),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_fixture_stops_start_up() {
    let dir = test_dir("unreadable");
    let (code, stderr) =
        run_to_exit(&["--fixtures", dir.to_str().unwrap(), "--bind", "127.0.0.1:0"]);
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!(
            "zulip-presence-mock: bad fixture: {}: cannot read the fixture: ",
            dir.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_stops_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let (code, stderr) = run_to_exit(&["--bind", &addr]);

    assert_eq!(code, Some(3));
    assert!(
        stderr.starts_with(&format!("zulip-presence-mock: cannot listen on {addr}: ")),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_flag_with_its_environment_twin() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();

    assert_eq!(output.status.code(), Some(0));
    for (flag, env) in [
        ("--bind", "ZULIP_MOCK_BIND"),
        ("--fixtures", "ZULIP_MOCK_FIXTURES"),
        ("--log-format", "ZULIP_MOCK_LOG_FORMAT"),
        ("--clock", "ZULIP_MOCK_CLOCK"),
        (
            "--realm-presence-ignored-parameters",
            "ZULIP_MOCK_REALM_PRESENCE_IGNORED_PARAMETERS",
        ),
        ("--feature-level", "ZULIP_MOCK_FEATURE_LEVEL"),
        ("--watch", "ZULIP_MOCK_WATCH"),
        ("--no-admin", "ZULIP_MOCK_NO_ADMIN"),
        ("--admin-token", "ZULIP_MOCK_ADMIN_TOKEN"),
        ("--journal-size", "ZULIP_MOCK_JOURNAL_SIZE"),
        ("--rate-limit", "ZULIP_MOCK_RATE_LIMIT"),
        ("--max-connections", "ZULIP_MOCK_MAX_CONNECTIONS"),
        (
            "--event-longpoll-timeout",
            "ZULIP_MOCK_EVENT_LONGPOLL_TIMEOUT",
        ),
        ("--event-heartbeat", "ZULIP_MOCK_EVENT_HEARTBEAT"),
        (
            "--event-queue-idle-timeout",
            "ZULIP_MOCK_EVENT_QUEUE_IDLE_TIMEOUT",
        ),
        ("--header-read-timeout", "ZULIP_MOCK_HEADER_READ_TIMEOUT"),
        ("--request-timeout", "ZULIP_MOCK_REQUEST_TIMEOUT"),
    ] {
        assert!(
            help.contains(flag) && help.contains(&format!("[env: {env}")),
            "{flag}/{env} in:\n{help}"
        );
    }
    assert!(help.contains("RUST_LOG"));
}

/// A fresh directory for one test's files.
fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zulip-mock-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The body of a raw HTTP response.
fn body_of(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {response}"))
}

#[test]
fn a_reset_restores_the_fixture_file_as_it_was_loaded_even_after_the_file_changed() {
    let dir = test_dir("reset-source");
    let path = dir.join("fixture.json");
    let mut fixture = default_fixture_json();
    std::fs::write(&path, fixture.to_string()).unwrap();
    let server = Server::start(
        &[
            "--fixtures",
            path.to_str().unwrap(),
            "--feature-level",
            "185",
        ],
        &[],
    );
    fixture["realms"][1]["name"] = serde_json::json!("Edited Without --watch");
    std::fs::write(&path, fixture.to_string()).unwrap();

    server.send_json("PATCH", "/__admin/realms/lear", r#"{"name": "Patched"}"#);
    let patched = body_of(&server.request("GET /__admin/realms HTTP/1.1\r\n"));
    server.send_json("POST", "/__admin/reset", "");
    let realms = body_of(&server.request("GET /__admin/realms HTTP/1.1\r\n"));
    let settings = body_of(&server.request("GET /api/v1/server_settings HTTP/1.1\r\n"));
    server.terminate();

    let names = |realms: &serde_json::Value| -> Vec<String> {
        let realms = realms.as_array().unwrap().iter();
        realms
            .map(|realm| realm["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&patched), ["Zulip Dev", "Patched"]);
    assert_eq!(names(&realms), ["Zulip Dev", "Lear & Co."]);
    assert_eq!(settings["zulip_feature_level"], 185);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_watched_fixture_reloads_on_a_valid_edit_and_keeps_the_state_on_an_invalid_one() {
    let dir = test_dir("watch");
    let path = dir.join("fixture.json");
    let mut fixture = default_fixture_json();
    std::fs::write(&path, fixture.to_string()).unwrap();
    let server = Server::start(&["--fixtures", path.to_str().unwrap(), "--watch"], &[]);
    let names = || -> Vec<String> {
        let response = server.request("GET /__admin/realms HTTP/1.1\r\n");
        body_of(&response)
            .as_array()
            .unwrap()
            .iter()
            .map(|realm| realm["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(), ["Zulip Dev", "Lear & Co."]);

    fixture["realms"][1]["name"] = serde_json::json!("Lear Edited");
    std::fs::write(&path, fixture.to_string()).unwrap();
    server.wait_for_line("fixture changed: state reloaded");
    let after_valid_edit = names();

    fixture["realms"][1]["users"][0]["api_key"] = serde_json::json!("short");
    fixture["realms"][0]["name"] = serde_json::json!("Never Seen");
    std::fs::write(&path, fixture.to_string()).unwrap();
    let refusal = server.wait_for_line("fixture changed but is invalid");
    let after_invalid_edit = names();
    server.send_json("POST", "/__admin/reset", "");
    let after_reset = names();
    let (code, _, _) = server.terminate();

    assert_eq!(after_valid_edit, ["Zulip Dev", "Lear Edited"]);
    assert!(
        refusal.contains("at $.realms[1].users[0].api_key: malformed API key")
            && refusal.contains("fixture.json"),
        "{refusal}"
    );
    assert_eq!(after_invalid_edit, ["Zulip Dev", "Lear Edited"]);
    // A reset restores the last valid file, not the one loaded at start.
    assert_eq!(after_reset, ["Zulip Dev", "Lear Edited"]);
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_dropped_connection_fault_closes_the_socket_without_a_response() {
    let server = Server::start(&[], &[]);
    let fault = server.send_json(
        "POST",
        "/__admin/faults",
        r#"{"path": "/api/v1/realm/presence", "drop_connection": true, "times": 1}"#,
    );

    let dropped = server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
        basic(&format!("{}:{}", IAGO.email, IAGO.api_key))
    ));
    let next = server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
        basic(&format!("{}:{}", IAGO.email, IAGO.api_key))
    ));
    let journal = body_of(&server.request("GET /__admin/requests HTTP/1.1\r\n"));
    server.terminate();

    assert!(fault.starts_with("HTTP/1.1 201 Created\r\n"), "{fault}");
    assert_eq!(dropped, "");
    assert!(next.starts_with("HTTP/1.1 200 OK\r\n"), "{next}");
    assert_eq!(journal["requests"][0]["status"], serde_json::Value::Null);
    assert_eq!(journal["requests"][0]["fault"], 1);
    assert_eq!(journal["requests"][1]["status"], 200);
}

#[test]
fn the_rate_limit_flag_limits_every_user_from_start() {
    let server = Server::start(
        &["--rate-limit", "1/60", "--clock", "frozen:1700000000"],
        &[],
    );
    let get = || {
        server.request(&format!(
            "GET /api/v1/realm/presence HTTP/1.1\r\nAuthorization: {}\r\n",
            basic(&format!("{}:{}", IAGO.email, IAGO.api_key))
        ))
    };

    let first = get();
    let second = get();
    server.terminate();

    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("x-ratelimit-limit: 1\r\n"), "{first}");
    assert!(first.contains("x-ratelimit-remaining: 0\r\n"), "{first}");
    assert!(
        first.contains("x-ratelimit-reset: 1700000060\r\n"),
        "{first}"
    );
    assert!(
        second.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{second}"
    );
    assert!(second.contains("retry-after: 60.0\r\n"), "{second}");
}

#[test]
fn no_admin_turns_the_admin_api_off_but_keeps_health() {
    let server = Server::start(&["--no-admin"], &[]);

    let reset = server.send_json("POST", "/__admin/reset", "");
    let health = server.request("GET /__admin/health HTTP/1.1\r\n");
    server.terminate();

    assert!(reset.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reset}");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
}

#[test]
fn the_feature_level_flag_makes_the_server_that_zulip_version_even_after_a_reset() {
    let server = Server::start(&["--feature-level", "185"], &[]);

    let before = body_of(&server.request("GET /api/v1/server_settings HTTP/1.1\r\n"));
    server.send_json("POST", "/__admin/reset", "");
    let after = body_of(&server.request("GET /api/v1/server_settings HTTP/1.1\r\n"));
    server.terminate();

    for settings in [before, after] {
        assert_eq!(settings["zulip_feature_level"], 185);
        assert_eq!(settings["zulip_version"], "7.0");
        assert_eq!(settings["zulip_merge_base"], "7.0");
        assert_eq!(settings.get("realm_url"), None);
    }
}

#[test]
fn a_feature_level_of_zero_is_refused_at_start() {
    let (code, stderr) = run_to_exit(&["--feature-level", "0"]);

    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid feature level \"0\": expected a whole number of 1 or more"),
        "{stderr}"
    );
}

/// Sends `head` (request line and headers, without Host) from another thread; the handle
/// gives the raw response.
fn request_in_background(addr: &str, head: String) -> std::thread::JoinHandle<String> {
    let addr = addr.to_owned();
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(stream, "{head}Host: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
}

/// Registers a queue for Iago and long-polls it from another thread; the thread returns the
/// answer.
fn long_poll_in_background(server: &Server) -> std::thread::JoinHandle<String> {
    let registered = server.request(&format!(
        "POST /api/v1/register HTTP/1.1\r\n{}Content-Length: 0\r\n",
        iago_authorization()
    ));
    let queue_id = body_of(&registered)["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();
    request_in_background(
        &server.addr,
        format!(
            "GET /api/v1/events?queue_id={queue_id}&last_event_id=-1 HTTP/1.1\r\n{}",
            iago_authorization()
        ),
    )
}

/// `Authorization` for Iago, as a header line.
fn iago_authorization() -> String {
    format!(
        "Authorization: {}\r\n",
        basic(&format!("{}:{}", IAGO.email, IAGO.api_key))
    )
}

#[test]
fn sigterm_during_a_request_lets_it_finish_then_exits_0() {
    let server = Server::start(&[], &[]);
    server.send_json(
        "POST",
        "/__admin/faults",
        r#"{"path": "/api/v1/realm/presence", "delay_ms": 700, "times": 1}"#,
    );
    let in_flight = request_in_background(
        &server.addr,
        format!(
            "GET /api/v1/realm/presence HTTP/1.1\r\n{}",
            iago_authorization()
        ),
    );
    // The request has taken the one-time fault, which holds it for 700 ms.
    server.wait_until("/__admin/faults", |faults| faults == &serde_json::json!([]));

    let (code, _, output) = server.terminate();
    let response = in_flight.join().unwrap();

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("\"presences\":{"), "{response}");
    assert_eq!(code, Some(0), "{output:?}");
}

/// hyper refuses a head once its 64 KiB read buffer is full without a whole head in it; how
/// far past 64 KiB that happens depends on how the bytes arrive, so this sends far more.
#[test]
fn a_request_head_far_over_64_kib_gets_431() {
    let server = Server::start(&[], &[]);

    let response = server.request(&format!(
        "GET /api/v1/server_settings HTTP/1.1\r\nX-Padding: {}\r\n",
        "a".repeat(256 * 1024)
    ));
    let after = server.request("GET /__admin/health HTTP/1.1\r\n");
    server.terminate();

    assert!(
        response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{response}"
    );
    assert!(after.starts_with("HTTP/1.1 200 OK\r\n"), "{after}");
}

#[test]
fn a_client_too_slow_to_send_its_request_head_is_disconnected() {
    let server = Server::start(&["--header-read-timeout", "0.5"], &[]);
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // Half a request head, then nothing: the server must give up on it.
    write!(slow, "GET /api/v1/server_settings HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut received = Vec::new();
    let closed = slow.read_to_end(&mut received);
    let healthy = server.request("GET /__admin/health HTTP/1.1\r\n");
    server.terminate();

    assert!(closed.is_ok(), "the connection was not closed: {closed:?}");
    assert!(
        !String::from_utf8_lossy(&received).contains("200 OK"),
        "{received:?}"
    );
    assert!(healthy.starts_with("HTTP/1.1 200 OK\r\n"), "{healthy}");
}

#[test]
fn past_the_connection_cap_a_client_waits_for_a_free_connection_instead_of_failing() {
    let server = Server::start(
        &["--max-connections", "1", "--header-read-timeout", "1"],
        &[],
    );
    // The one connection allowed, held idle until the header timeout closes it.
    let idle = server.accepted_connection();

    let waiting = server.request("GET /__admin/health HTTP/1.1\r\n");
    server.terminate();
    drop(idle);

    assert!(waiting.starts_with("HTTP/1.1 200 OK\r\n"), "{waiting}");
}

#[test]
fn no_secret_reaches_the_log_the_journal_or_an_error() {
    const ADMIN_TOKEN: &str = "admin-token-c4f3b4b3";
    const MALFORMED_KEY: &str = "tooShortButSecret";
    let server = Server::start(&["--admin-token", ADMIN_TOKEN], &[("RUST_LOG", "trace")]);
    let as_user =
        |email: &str, key: &str| format!("Authorization: {}\r\n", basic(&format!("{email}:{key}")));
    let mut answers = Vec::new();
    for authorization in [
        as_user(IAGO.email, IAGO.api_key),
        as_user(HAMLET.email, IAGO.api_key),
        as_user(HAMLET.email, MALFORMED_KEY),
        as_user("nobody@zulip.com", HAMLET.api_key),
        as_user(OPHELIA.email, OPHELIA.api_key),
    ] {
        answers.push(server.request(&format!(
            "GET /api/v1/realm/presence?api_key={} HTTP/1.1\r\n{authorization}",
            ZOE.api_key
        )));
    }
    let form = format!("status=active&api_key={}", KING.api_key);
    answers.push(server.request(&format!(
        "POST /api/v1/users/me/presence HTTP/1.1\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        as_user(HAMLET.email, HAMLET.api_key),
        form.len()
    )));
    // A key as the email, a key in the path, the admin token in a path, and keys under
    // parameter names a fixed list would miss.
    answers.push(server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\n{}",
        as_user(ZOE.api_key, ZOE.api_key)
    )));
    answers.push(server.request(&format!(
        "GET /api/v1/users/{}/presence HTTP/1.1\r\n{}",
        IAGO.api_key,
        as_user(HAMLET.email, HAMLET.api_key)
    )));
    answers.push(server.request(&format!(
        "GET /__admin/{ADMIN_TOKEN}/x HTTP/1.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
    )));
    answers.push(server.request(&format!("GET /api/v1/{ADMIN_TOKEN} HTTP/1.1\r\n")));
    let form = format!(
        "status=active&API_KEY={0}&apiKey={0}&api-key={0}&key={0}&secret={0}&admin_token={0}",
        KING.api_key
    );
    answers.push(server.request(&format!(
        "POST /api/v1/users/me/presence HTTP/1.1\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        as_user(HAMLET.email, HAMLET.api_key),
        form.len()
    )));
    answers.push(
        server.request("GET /__admin/requests HTTP/1.1\r\nAuthorization: Bearer wrong-token\r\n"),
    );
    let journal = server.request(&format!(
        "GET /__admin/requests HTTP/1.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
    ));
    let (_, _, output) = server.terminate();

    assert!(journal.starts_with("HTTP/1.1 200 OK\r\n"), "{journal}");
    assert!(journal.contains("\"auth_failure\":\"the API key is not 32 letters and digits"));
    let log = output.join("\n");
    let secrets = [
        IAGO.api_key,
        HAMLET.api_key,
        OPHELIA.api_key,
        ZOE.api_key,
        KING.api_key,
        MALFORMED_KEY,
        ADMIN_TOKEN,
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "the log shows {secret}:\n{log}");
        assert!(!journal.contains(secret), "the journal shows {secret}");
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "a response shows {secret}: {answer}"
            );
        }
    }
    for header in ["Basic ", "Bearer "] {
        assert!(
            !log.contains(header),
            "the log shows an Authorization header"
        );
        assert!(
            !journal.contains(header),
            "the journal shows an Authorization header"
        );
    }
}

#[test]
fn shutdown_answers_a_waiting_long_poll_at_once() {
    let server = Server::start(&[], &[]);
    let waiting = long_poll_in_background(&server);
    server.wait_for_waiting_polls(1);

    let (code, elapsed, _) = server.terminate();
    let response = waiting.join().unwrap();

    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(body_of(&response)["events"], serde_json::json!([]));
    assert_eq!(code, Some(0));
    // Without the shutdown answering it, the poll would wait 45 s for its heartbeat.
    assert!(
        elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
}

/// The request lines among `output`: level, method, path and status.
fn request_log_lines(output: &[String]) -> Vec<serde_json::Value> {
    output
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|log| log["fields"]["message"] == "finished processing request")
        .map(|log| {
            serde_json::json!([
                log["level"],
                log["fields"]["method"],
                log["fields"]["path"],
                log["fields"]["status"]
            ])
        })
        .collect()
}

#[test]
fn failed_requests_are_logged_at_the_default_level_and_every_request_at_debug() {
    let iago = basic(&format!("{}:{}", IAGO.email, IAGO.api_key));
    let mut logged = Vec::new();
    for envs in [vec![], vec![("RUST_LOG", "zulip_presence_mock=debug")]] {
        let server = Server::start(&[], &envs);
        let ok = server.request(&format!(
            "GET /api/v1/realm/presence?secret=1 HTTP/1.1\r\nAuthorization: {iago}\r\n"
        ));
        let refused = server.request("GET /api/v1/realm/presence?secret=2 HTTP/1.1\r\n");
        let (code, _, output) = server.terminate();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
            "{refused}"
        );
        assert_eq!(code, Some(0));
        // Neither the query string nor the credentials are ever logged.
        assert!(
            output
                .iter()
                .all(|line| !line.contains("secret") && !line.contains(IAGO.api_key)),
            "{output:?}"
        );
        logged.push(request_log_lines(&output));
    }

    assert_eq!(
        logged,
        [
            vec![serde_json::json!([
                "INFO",
                "GET",
                "/api/v1/realm/presence",
                401
            ])],
            vec![
                serde_json::json!(["DEBUG", "GET", "/api/v1/realm/presence", 200]),
                serde_json::json!(["INFO", "GET", "/api/v1/realm/presence", 401]),
            ],
        ]
    );
}

#[test]
fn shutdown_takes_seconds_whatever_the_connections_are_doing() {
    let mut server = Server::start(&[], &[]);
    let addr = server.addr.clone();
    // Half a request head, and a body that stops short of its Content-Length: before, the
    // shutdown waited for their timeouts (30 s and 90 s).
    let mut half_head = server.accepted_connection();
    write!(
        half_head,
        "GET /api/v1/realm/presence HTTP/1.1\r\nHost: x\r\n"
    )
    .unwrap();
    let mut stalled_body = server.accepted_connection();
    write!(
        stalled_body,
        "POST /api/v1/users/me/presence HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nstatus=",
        iago_authorization()
    )
    .unwrap();
    // No state shows that the server has read these bytes (it answers neither request), so
    // this is the one wait left to the clock.
    std::thread::sleep(Duration::from_millis(300));

    server.kill("-TERM");
    // Printed once the grace period is over with both connections still open, before they
    // are closed and the server exits.
    server.wait_for_line("closing the connections still open");
    let during_grace = TcpStream::connect(&addr);
    let (code, elapsed, _) = server.wait_for_exit();

    assert!(
        during_grace.is_err(),
        "a new connection was accepted during the shutdown"
    );
    assert_eq!(code, Some(0));
    // The grace period is 2 s; the bound leaves room for a loaded machine.
    assert!(
        elapsed < Duration::from_secs(8),
        "stopped after {elapsed:?}"
    );
}

#[test]
fn waiting_long_polls_never_take_the_last_connection_from_the_health_check() {
    // Two places under the connection cap, both taken by long-polls that would wait 45 s.
    let server = Server::start(&["--max-connections", "2"], &[]);
    let polls: Vec<_> = (0..2).map(|_| long_poll_in_background(&server)).collect();
    server.wait_for_waiting_polls(2);

    // `request` gives up after 10 s; without the polls giving their places back, the health
    // check would wait in the backlog until a poll ends.
    let health = server.request("GET /__admin/health HTTP/1.1\r\n");
    let presence = server.request(&format!(
        "GET /api/v1/realm/presence HTTP/1.1\r\n{}",
        iago_authorization()
    ));
    let (code, _, _) = server.terminate();

    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(presence.starts_with("HTTP/1.1 200 OK\r\n"), "{presence}");
    assert_eq!(code, Some(0));
    for poll in polls {
        let answer = poll.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("connection: close\r\n"), "{answer}");
    }
}
