//! How `ce` copes with a flaky AWS: throttling, 5xx answers, slow answers and dropped
//! connections, injected by the fault proxy of `tests/common/fault_proxy.rs` between `ce` and a
//! moto server of the test's own.
//!
//! The first part checks the proxy itself against a tiny HTTP server in this file (no moto):
//! it must pass traffic through untouched, inject each fault as asked, and count honestly.
//! The second part runs the AWS edge and the `ce` commands through it at fixed fault rates
//! and requires every run to either give the right answer or stop with one clear error line.
//! Each series prints its figures (runs, faults injected, runs completed) on stderr; see them
//! with `cargo test --test faults -- --nocapture`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ce_infra::aws::cloudformation::FetchError;
use ce_infra::aws::errors::AwsError;

use common::fault_proxy::{
    Counts, Fault, FaultPlan, FaultProxy, FaultRig, Outcome, Tally, XorShift, judge,
};
use common::sandbox::{aws_at, runtime};
use serde_json::{Value, json};

// ---- a tiny HTTP/1.1 server to test the proxy against ----

/// A keep-alive HTTP/1.1 server on a free port that echoes request bodies, and records every
/// request it receives byte for byte.
struct TinyServer {
    port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    connections: Arc<AtomicUsize>,
}

/// The exact bytes the tiny server answers to a request for `path` with `body`.
fn tiny_response(path: &str, body: &[u8]) -> Vec<u8> {
    match path {
        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n\
                        6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
            .to_vec(),
        "/close" => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end".to_vec(),
        _ => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Echo-Path: {path}\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(body);
            out
        }
    }
}

fn tiny_server() -> TinyServer {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind tiny server");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (log, count) = (Arc::clone(&received), Arc::clone(&connections));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve_tiny(stream, &log));
        }
    });
    TinyServer {
        port,
        received,
        connections,
    }
}

fn serve_tiny(stream: TcpStream, log: &Mutex<Vec<Vec<u8>>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut raw = Vec::new();
        let mut path = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            raw.extend_from_slice(line.as_bytes());
            if path.is_empty() {
                path = line.split(' ').nth(1).unwrap_or("/").to_owned();
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        raw.extend_from_slice(&body);
        log.lock().expect("log").push(raw);
        let stream = reader.get_mut();
        if stream.write_all(&tiny_response(&path, &body)).is_err() {
            return;
        }
        if path == "/close" {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// A request with a body; `extra` headers end in CRLF.
fn request(method: &str, path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: example\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Sends `req` and reads exactly `len` bytes of answer.
fn exchange(stream: &mut TcpStream, req: &[u8], len: usize) -> Vec<u8> {
    stream.write_all(req).expect("send");
    let mut answer = vec![0; len];
    stream.read_exact(&mut answer).expect("answer");
    answer
}

/// Sends `req` and reads one answer with a `Content-Length`: (status line, headers, body).
fn exchange_parsed(stream: &mut TcpStream, req: &[u8]) -> (String, String, String) {
    stream.write_all(req).expect("send");
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut headers = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("length");
        }
        headers.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (
        status.trim_end().to_owned(),
        headers,
        String::from_utf8(body).expect("text body"),
    )
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(1000).collect()
}

const QUERY: &str = "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n";
const JSON: &str =
    "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n";

#[test]
fn the_proxy_passes_requests_and_answers_through_byte_for_byte() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::none()).expect("proxy");
    let body = all_bytes();
    let req = request("POST", "/echo?x=1", "X-Odd:  spaced\t\r\n", &body);
    let mut client = connect(&proxy);

    let answer = exchange(&mut client, &req, tiny_response("/echo?x=1", &body).len());

    assert_eq!(answer, tiny_response("/echo?x=1", &body));
    assert_eq!(*server.received.lock().expect("log"), vec![req]);
}

#[test]
fn the_proxy_keeps_one_upstream_connection_per_kept_alive_client_connection() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::none()).expect("proxy");
    let mut client = connect(&proxy);
    for i in 0..3 {
        let body = format!("request {i}");
        let expected = tiny_response("/", body.as_bytes());
        let answer = exchange(
            &mut client,
            &request("POST", "/", "", body.as_bytes()),
            expected.len(),
        );
        assert_eq!(answer, expected);
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.counts().forwarded, 3);
}

#[test]
fn the_proxy_relays_chunked_answers_and_keeps_the_connection() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::none()).expect("proxy");
    let mut client = connect(&proxy);
    let chunked = tiny_response("/chunked", b"");

    let first = exchange(
        &mut client,
        &request("GET", "/chunked", "", b""),
        chunked.len(),
    );
    let second = exchange(
        &mut client,
        &request("GET", "/chunked", "", b""),
        chunked.len(),
    );

    assert_eq!(first, chunked);
    assert_eq!(second, chunked);
}

#[test]
fn the_proxy_relays_an_answer_that_ends_with_the_connection_and_then_closes() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::none()).expect("proxy");
    let mut client = connect(&proxy);
    client
        .write_all(&request("GET", "/close", "", b""))
        .expect("send");
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).expect("read to the end");
    assert_eq!(answer, tiny_response("/close", b""));
}

#[test]
fn throttling_is_answered_in_the_query_protocol_for_cloudformation_and_sts() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Throttle, 1.0))
        .expect("proxy");
    let req = request(
        "POST",
        "/",
        QUERY,
        b"Action=DescribeStacks&Version=2010-05-15",
    );

    let (status, headers, body) = exchange_parsed(&mut connect(&proxy), &req);

    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(headers.contains("Content-Type: text/xml"), "{headers}");
    assert!(
        body.starts_with(
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>"
        ),
        "{body}"
    );
    assert!(server.received.lock().expect("log").is_empty());
}

#[test]
fn throttling_is_answered_in_the_json_protocol_for_dynamodb() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Throttle, 1.0))
        .expect("proxy");
    let req = request("POST", "/", JSON, br#"{"TableName":"t"}"#);

    let (status, headers, body) = exchange_parsed(&mut connect(&proxy), &req);

    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(
        headers.contains("Content-Type: application/x-amz-json-1.0"),
        "{headers}"
    );
    assert!(
        headers.contains("x-amzn-query-error: ThrottlingException;Sender"),
        "{headers}"
    );
    assert_eq!(
        body,
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
    );
}

#[test]
fn throttling_is_answered_as_slow_down_for_s3() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Throttle, 1.0))
        .expect("proxy");
    let (status, _, body) = exchange_parsed(
        &mut connect(&proxy),
        &request("GET", "/bucket/key", "", b""),
    );
    assert_eq!(status, "HTTP/1.1 503 Slow Down");
    assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
}

#[test]
fn server_errors_are_answered_as_500_and_503_with_their_codes() {
    let server = tiny_server();
    let req = request("POST", "/", QUERY, b"Action=ListExports");
    for (kind, status, code) in [
        (
            Fault::Internal,
            "HTTP/1.1 500 Internal Server Error",
            "InternalFailure",
        ),
        (
            Fault::Unavailable,
            "HTTP/1.1 503 Service Unavailable",
            "ServiceUnavailable",
        ),
    ] {
        let proxy =
            FaultProxy::in_front_of(server.port, FaultPlan::only_kind(kind, 1.0)).expect("proxy");
        let (got, _, body) = exchange_parsed(&mut connect(&proxy), &req);
        assert_eq!(got, status);
        assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
        assert!(body.contains("<Type>Receiver</Type>"), "{body}");
    }
    assert!(server.received.lock().expect("log").is_empty());
}

#[test]
fn an_injected_error_keeps_the_client_connection_open() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Internal, 1.0))
        .expect("proxy");
    let mut client = connect(&proxy);
    let (first, _, _) = exchange_parsed(&mut client, &request("POST", "/", QUERY, b"a=1"));
    proxy.set_plan(FaultPlan::none());
    let expected = tiny_response("/", b"a=2");
    let second = exchange(
        &mut client,
        &request("POST", "/", "", b"a=2"),
        expected.len(),
    );
    assert_eq!(first, "HTTP/1.1 500 Internal Server Error");
    assert_eq!(second, expected);
}

#[test]
fn a_slow_answer_arrives_intact_after_the_delay() {
    let server = tiny_server();
    let delay = Duration::from_millis(300);
    let plan = FaultPlan::only_kind(Fault::Slow, 1.0).with_delay(delay);
    let proxy = FaultProxy::in_front_of(server.port, plan).expect("proxy");
    let expected = tiny_response("/", b"late");
    let begun = Instant::now();

    let answer = exchange(
        &mut connect(&proxy),
        &request("POST", "/", "", b"late"),
        expected.len(),
    );

    assert!(begun.elapsed() >= delay, "{:?}", begun.elapsed());
    assert_eq!(answer, expected);
    assert_eq!(proxy.counts().of(Fault::Slow), 1);
    assert_eq!(proxy.counts().forwarded, 1);
}

#[test]
fn a_dropped_request_gets_no_answer_and_never_reaches_the_server() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Drop, 1.0))
        .expect("proxy");
    let mut client = connect(&proxy);
    client
        .write_all(&request("POST", "/", QUERY, b"Action=GetTemplate"))
        .expect("send");
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).expect("the proxy hangs up");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(server.received.lock().expect("log").is_empty());
    assert_eq!(proxy.counts().of(Fault::Drop), 1);
}

#[test]
fn a_lost_answer_reaches_the_server_but_never_the_client() {
    let server = tiny_server();
    let plan = FaultPlan::only_kind(Fault::LoseAnswer, 1.0);
    let proxy = FaultProxy::in_front_of(server.port, plan).expect("proxy");
    let mut client = connect(&proxy);
    client
        .write_all(&request("POST", "/", QUERY, b"Action=CreateStack"))
        .expect("send");
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).expect("the proxy hangs up");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(server.received.lock().expect("log").len(), 1);
    assert_eq!(proxy.counts().of(Fault::LoseAnswer), 1);
    assert_eq!(proxy.counts().forwarded, 1);
}

#[test]
fn a_first_attempt_only_plan_lets_the_retry_through() {
    let server = tiny_server();
    let plan = FaultPlan::only_kind(Fault::LoseAnswer, 1.0).first_attempt_only();
    let proxy = FaultProxy::in_front_of(server.port, plan).expect("proxy");
    let req = request("POST", "/", QUERY, b"Action=CreateStack&StackName=same");
    let answers: Vec<String> = (0..3)
        .map(|_| {
            let mut client = connect(&proxy);
            client.write_all(&req).expect("send");
            let mut status = String::new();
            let _ = BufReader::new(client).read_line(&mut status);
            status
        })
        .collect();
    assert_eq!(answers[0], "", "the first attempt's answer is lost");
    assert!(answers[1].starts_with("HTTP/1.1 200"), "{answers:?}");
    assert!(answers[2].starts_with("HTTP/1.1 200"), "{answers:?}");
    assert_eq!(server.received.lock().expect("log").len(), 3);
    assert_eq!(proxy.counts().of(Fault::LoseAnswer), 1);
}

#[test]
fn the_filter_limits_faults_to_matching_requests_and_counts_them() {
    let server = tiny_server();
    let plan = FaultPlan::only_kind(Fault::Internal, 1.0).matching("Action=CreateChangeSet");
    let proxy = FaultProxy::in_front_of(server.port, plan).expect("proxy");
    let mut client = connect(&proxy);
    let mut statuses = Vec::new();
    for action in [
        "DescribeStacks",
        "CreateChangeSet",
        "GetTemplate",
        "CreateChangeSet",
    ] {
        let body = format!("Action={action}&Version=2010-05-15");
        let (status, _, _) =
            exchange_parsed(&mut client, &request("POST", "/", QUERY, body.as_bytes()));
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 500 Internal Server Error",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 500 Internal Server Error",
        ]
    );
    let counts = proxy.counts();
    assert_eq!(counts.requests, 4);
    assert_eq!(counts.matched, 2);
    assert_eq!(counts.forwarded, 2);
    assert_eq!(counts.of(Fault::Internal), 2);
    assert_eq!(counts.faults_total(), 2);
}

#[test]
fn the_emulators_control_plane_is_never_faulted() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::only_kind(Fault::Drop, 1.0))
        .expect("proxy");
    let expected = tiny_response("/moto-api/config", b"");
    let answer = exchange(
        &mut connect(&proxy),
        &request("GET", "/moto-api/config", "", b""),
        expected.len(),
    );
    assert_eq!(answer, expected);
    assert_eq!(proxy.counts().faults_total(), 0);
}

/// Sends `n` distinct requests, each on its own connection, and counts what came back.
fn fault_pattern(plan: FaultPlan, n: usize) -> (Vec<bool>, Counts) {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, plan).expect("proxy");
    let pattern = (0..n)
        .map(|i| {
            let mut client = connect(&proxy);
            let body = format!("Action=DescribeStacks&StackName=s{i}");
            client
                .write_all(&request("POST", "/", QUERY, body.as_bytes()))
                .expect("send");
            let mut status = String::new();
            let _ = BufReader::new(client).read_line(&mut status);
            status.starts_with("HTTP/1.1 200")
        })
        .collect();
    (pattern, proxy.counts())
}

#[test]
fn faults_follow_the_seed_and_the_rate() {
    let plan = |seed| FaultPlan {
        kinds: vec![Fault::Internal, Fault::Drop],
        ..FaultPlan::mixed(0.3, seed)
    };
    let (first, counts) = fault_pattern(plan(7), 400);
    let (again, _) = fault_pattern(plan(7), 400);
    let (other, _) = fault_pattern(plan(8), 400);

    assert_eq!(first, again, "the same seed faults the same requests");
    assert_ne!(first, other, "another seed faults others");
    let faulted = first.iter().filter(|ok| !**ok).count() as u64;
    assert_eq!(faulted, counts.faults_total());
    assert!((80..=160).contains(&faulted), "{faulted} of 400 at 30%");
    assert!(
        counts.of(Fault::Internal) > 0 && counts.of(Fault::Drop) > 0,
        "{counts}"
    );
    assert_eq!(counts.forwarded + faulted, 400);
}

#[test]
fn a_repeated_request_draws_anew_so_retries_can_succeed() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::mixed(0.5, 3)).expect("proxy");
    let req = request("POST", "/", QUERY, b"Action=DescribeStacks&StackName=same");
    let outcomes: Vec<bool> = (0..40)
        .map(|_| {
            let mut client = connect(&proxy);
            client.write_all(&req).expect("send");
            let mut status = String::new();
            let _ = BufReader::new(client).read_line(&mut status);
            status.starts_with("HTTP/1.1 200")
        })
        .collect();
    assert!(
        outcomes.contains(&true) && outcomes.contains(&false),
        "{outcomes:?}"
    );
}

#[test]
fn stopping_the_proxy_closes_its_port_and_its_open_connections() {
    let server = tiny_server();
    let proxy = FaultProxy::in_front_of(server.port, FaultPlan::none()).expect("proxy");
    let port = proxy.port();
    let mut open = connect(&proxy);
    let expected = tiny_response("/", b"x");
    exchange(&mut open, &request("POST", "/", "", b"x"), expected.len());

    proxy.stop();

    let mut rest = Vec::new();
    let closed = open.read_to_end(&mut rest).map(|n| n == 0);
    assert!(
        !matches!(closed, Ok(false)),
        "the open connection still delivers data"
    );
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}

#[test]
fn xorshift_is_deterministic_and_spread_over_the_unit_interval() {
    let mut a = XorShift::new(42);
    let mut b = XorShift::new(42);
    let draws: Vec<f64> = (0..1000).map(|_| a.unit()).collect();
    assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
    assert_eq!(draws, (0..1000).map(|_| b.unit()).collect::<Vec<_>>());
    let low = draws.iter().filter(|d| **d < 0.5).count();
    assert!((400..=600).contains(&low), "{low} of 1000 below 0.5");
}

// ---- the AWS edge and `ce` through the proxy, against moto ----

/// The stacks of the staging env, as `ce diff --env staging` fetches them.
const STAGING: [&str; 5] = [
    "ce-staging-network",
    "ce-staging-storage",
    "ce-staging-compute",
    "ce-staging-edge",
    "ce-staging-monitoring",
];

/// A series is kept under about a minute on the 2-core machines.
const SERIES_BUDGET: Duration = Duration::from_secs(50);

/// Puts two stacks on moto directly (no faults): one exporting a topic ARN, one importing it.
fn seed_stacks(rig: &FaultRig) {
    let runtime = runtime();
    let aws = aws_at(&runtime, &rig.moto_endpoint());
    let topic = |export: Option<&str>, import: Option<&str>| -> Value {
        let mut template = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic",
                                    "Properties": {"TopicName": "t"}}},
        });
        if let Some(export) = export {
            template["Outputs"] = json!({"TopicArn": {"Value": {"Ref": "Topic"},
                                                      "Export": {"Name": export}}});
        }
        if let Some(import) = import {
            template["Resources"]["Topic"]["Properties"]["DisplayName"] =
                json!({"Fn::ImportValue": import});
        }
        template
    };
    for (name, template) in [
        (STAGING[0], topic(Some("ce-staging-network-TopicArn"), None)),
        (STAGING[1], topic(None, Some("ce-staging-network-TopicArn"))),
    ] {
        runtime
            .block_on(
                aws.cloudformation()
                    .client()
                    .create_stack()
                    .stack_name(name)
                    .template_body(template.to_string())
                    .send(),
            )
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    }
}

/// What the diff reads, through `endpoint`, as JSON text: every staging stack, the exports,
/// and the importers of the network stack's export.
fn read_side(runtime: &tokio::runtime::Runtime, endpoint: &str) -> Result<String, String> {
    let aws = aws_at(runtime, endpoint);
    let cfn = aws.cloudformation();
    let result: Result<Value, FetchError> = runtime.block_on(async {
        let stacks = cfn.fetch_stacks(STAGING).await?;
        let exports = cfn.list_exports().await?;
        let importers = cfn.list_imports("ce-staging-network-TopicArn").await?;
        Ok(json!({"stacks": stacks, "exports": exports, "importers": importers}))
    });
    result.map(|v| v.to_string()).map_err(|e| e.to_string())
}

/// Reads the deployed state `runs` times under `plan`, judging each against a fault-free read.
fn read_side_series(rig: &FaultRig, plan: FaultPlan, runs: u64) -> Tally {
    let runtime = runtime();
    rig.proxy().set_plan(FaultPlan::none());
    let baseline = read_side(&runtime, &rig.proxy().endpoint()).expect("a read without faults");
    assert!(baseline.contains("ce-staging-storage"), "{baseline}");
    rig.proxy().set_plan(plan);
    let before = rig.proxy().counts();
    let begun = Instant::now();
    let mut tally = Tally::default();
    while tally.runs < runs && begun.elapsed() < SERIES_BUDGET {
        let run = common::Run {
            code: None,
            stdout: String::new(),
            stderr: String::new(),
        };
        let outcome = match read_side(&runtime, &rig.proxy().endpoint()) {
            Ok(text) if text == baseline => Outcome::Completed,
            Ok(text) => Outcome::Bad(format!("a different answer: {text}")),
            Err(message) => match common::fault_proxy::debug_dump(&message) {
                Some(why) => Outcome::Bad(format!("{why}: {message}")),
                None if message.contains('\n') => Outcome::Bad(format!("several lines: {message}")),
                None => Outcome::CleanError(message),
            },
        };
        tally.add(outcome, &run);
    }
    tally.counts = rig.proxy().counts().since(&before);
    tally
}

/// Runs `ce --local <args>` `runs` times under `plan`, judging each against a fault-free run.
fn ce_series(rig: &FaultRig, args: &[&str], plan: FaultPlan, runs: u64) -> Tally {
    rig.proxy().set_plan(FaultPlan::none());
    let baseline = rig.ce(args);
    let expected_code = baseline.code.expect("the baseline run exited");
    eprintln!(
        "faults: ce {}: without faults exit {expected_code}, {} bytes of output",
        args.join(" "),
        baseline.stdout.len()
    );
    assert!(
        baseline.stderr.lines().all(|l| !l.starts_with("error:")),
        "the run fails without faults:\n{}",
        baseline.describe()
    );
    rig.proxy().set_plan(plan);
    let before = rig.proxy().counts();
    let begun = Instant::now();
    let mut tally = Tally::default();
    while tally.runs < runs && begun.elapsed() < SERIES_BUDGET {
        let run = rig.ce(args);
        tally.add(judge(&run, expected_code, &baseline.stdout), &run);
    }
    tally.counts = rig.proxy().counts().since(&before);
    tally
}

/// What a series must show: at least `min_runs` runs within the budget (a loaded 2-core
/// machine still fits this many), and at least `min_completed_percent` of them completed.
struct Expected {
    min_runs: u64,
    min_completed_percent: u64,
}

/// Prints the series' figures and fails on any run that neither completed nor failed cleanly,
/// on a series without faults, and on figures short of `expected`.
fn report(what: &str, tally: &Tally, expected: Expected) {
    eprintln!("faults: {what}: {tally}");
    for line in &tally.clean_errors {
        eprintln!("faults:   clean error: {line}");
    }
    assert!(
        tally.bad.is_empty(),
        "{what}: {} runs ended badly; the first:\n{}",
        tally.bad.len(),
        tally.bad[0]
    );
    assert!(
        tally.counts.faults_total() > 0,
        "{what}: no fault was injected"
    );
    assert!(
        tally.runs >= expected.min_runs,
        "{what}: {} runs within the budget, fewer than {}: {tally}",
        tally.runs,
        expected.min_runs
    );
    assert!(
        tally.completed * 100 >= tally.runs * expected.min_completed_percent,
        "{what}: fewer than {}% of the runs completed: {tally}",
        expected.min_completed_percent
    );
}

// The README's figures: every run completed in each series below. The SDK tries each call
// four times, so a run stops only when one request meets four faults in a row (at 30%, about
// one request in 120); the bounds leave room for that, not for a run that stops more often.

#[test]
fn the_read_side_survives_ten_percent_faults() {
    let rig = FaultRig::start(FaultPlan::none());
    seed_stacks(&rig);
    let tally = read_side_series(&rig, FaultPlan::mixed(0.10, 10), 15);
    let expected = Expected {
        min_runs: 5,
        min_completed_percent: 80,
    };
    report(
        "fetch_stacks + list_exports + list_imports at 10%",
        &tally,
        expected,
    );
}

#[test]
fn the_read_side_survives_thirty_percent_faults() {
    let rig = FaultRig::start(FaultPlan::none());
    seed_stacks(&rig);
    let tally = read_side_series(&rig, FaultPlan::mixed(0.30, 30), 10);
    let expected = Expected {
        min_runs: 4,
        min_completed_percent: 50,
    };
    report(
        "fetch_stacks + list_exports + list_imports at 30%",
        &tally,
        expected,
    );
}

/// Runs one ListExports with every attempt faulted by `kind`.
fn list_exports_always(kind: Fault) -> (Result<Vec<ce_infra::aws::ExportValue>, AwsError>, Counts) {
    let rig = FaultRig::start(FaultPlan::only_kind(kind, 1.0).matching("Action=ListExports"));
    let runtime = runtime();
    let aws = aws_at(&runtime, &rig.proxy().endpoint());
    let result = runtime.block_on(aws.cloudformation().list_exports());
    (result, rig.proxy().counts())
}

#[test]
fn throttling_that_never_stops_is_reported_as_throttling_after_four_attempts() {
    let (result, counts) = list_exports_always(Fault::Throttle);
    assert_eq!(
        result,
        Err(AwsError::Throttled {
            operation: "ListExports".into(),
            code: "Throttling".into(),
        })
    );
    assert_eq!(counts.of(Fault::Throttle), 4, "{counts}");
}

#[test]
fn an_endpoint_that_always_answers_503_is_reported_after_four_attempts() {
    let (result, counts) = list_exports_always(Fault::Unavailable);
    let err = result.expect_err("never available");
    assert_eq!(counts.of(Fault::Unavailable), 4, "{counts}");
    let text = err.to_string();
    assert!(
        text.contains("ListExports") && !text.contains('\n'),
        "{text}"
    );
}

#[test]
fn an_endpoint_that_always_hangs_up_is_tried_four_times_and_reported_unreachable() {
    let (result, counts) = list_exports_always(Fault::Drop);
    let err = result.expect_err("never answered");
    assert!(matches!(err, AwsError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("ListExports") && text.contains("connection closed") && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(counts.of(Fault::Drop), 4, "{counts}");
}

#[test]
fn ce_diff_survives_ten_percent_faults() {
    let rig = FaultRig::start(FaultPlan::none());
    seed_stacks(&rig);
    let args = ["--env", "staging", "diff", "--format", "json"];
    let tally = ce_series(&rig, &args, FaultPlan::mixed(0.10, 110), 12);
    let expected = Expected {
        min_runs: 4,
        min_completed_percent: 80,
    };
    report("ce diff at 10%", &tally, expected);
}

#[test]
fn ce_diff_survives_thirty_percent_faults() {
    let rig = FaultRig::start(FaultPlan::none());
    seed_stacks(&rig);
    let args = ["--env", "staging", "diff", "--format", "json"];
    let tally = ce_series(&rig, &args, FaultPlan::mixed(0.30, 130), 10);
    let expected = Expected {
        min_runs: 4,
        min_completed_percent: 50,
    };
    report("ce diff at 30%", &tally, expected);
}
