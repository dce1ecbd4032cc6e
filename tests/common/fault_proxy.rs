//! A fault-injecting HTTP/1.1 proxy for the tests that check how `ce` copes with a flaky AWS:
//! it sits between `ce` and a moto server on 127.0.0.1 and, for a chosen share of requests,
//! answers with throttling, HTTP 500 or 503, answers late, or hangs up without answering.
//!
//! Which requests are faulted is decided by a seeded xorshift generator keyed on the request's
//! content (method, path, `X-Amz-Target`, body) and on how often that same request was seen,
//! so a run is reproducible even though `ce` sends its requests concurrently: the same
//! DescribeStacks of the same stack meets the same fate on its first try in every run. A
//! filter (`FaultPlan::matching`) limits faults to requests containing some text, e.g.
//! `Action=CreateChangeSet`. Requests to moto's own `/moto-api/` are never faulted: they are
//! the emulator's control plane (`ce` probes it to see the sandbox is up), not AWS.
//!
//! Traffic that is not faulted passes through byte for byte, on one upstream connection per
//! client connection, so keep-alive works on both sides. Request bodies are read by
//! `Content-Length` (or chunked), responses by `Content-Length`, chunked encoding or, failing
//! both, to the end of the stream (and the client connection then closes too). `Expect:
//! 100-continue` is not supported: the SDK does not send it for these services.
//!
//! How `ce` reaches it: [`FaultRig`] starts a moto server of its own, puts the proxy in front
//! of it, and gives `ce` a state directory whose `sandbox.json` names moto's pid (which is how
//! the sandbox checks the record describes a live moto) with the proxy's port; `ce --local`
//! then sends everything through the proxy. Were that record ever judged stale, `ce` would try
//! to start a sandbox of its own; the rig makes that fail at once (no Python) and
//! [`FaultRig::ce`] panics if it sees it, so no run can quietly bypass the proxy.
//!
//! A series of runs is judged with [`judge`] against the same run without faults (the right
//! exit code and output, or exit 1 with one `error:` line and no debug dump) and collected in
//! a [`Tally`] with the proxy's [`Counts`] for the series.

mod http;
mod rig;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use http::{Message, framing, read_body, read_head};
// Each test binary uses part of the harness, like the rest of `common`.
#[allow(unused_imports)]
pub use rig::{FaultRig, Outcome, Tally, debug_dump, judge};

/// The kinds of fault the proxy injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 400 with the protocol's throttling error (`Throttling`, `ThrottlingException`,
    /// or S3's 503 `SlowDown`).
    Throttle,
    /// HTTP 500 `InternalFailure`.
    Internal,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// The request is forwarded after [`FaultPlan::delay`].
    Slow,
    /// The connection is closed without an answer.
    Drop,
    /// The request is forwarded and answered, and then the connection is closed without
    /// passing the answer on: the request took effect, but the client cannot know it. Not part
    /// of [`Fault::ALL`]: a retry of it tests whether a caller recognises its own work, which
    /// the tests of that ask for by name.
    LoseAnswer,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 5] = [
        Fault::Throttle,
        Fault::Internal,
        Fault::Unavailable,
        Fault::Slow,
        Fault::Drop,
    ];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Throttle => "throttle",
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Slow => "slow",
            Fault::Drop => "drop",
            Fault::LoseAnswer => "lost answer",
        })
    }
}

/// Which requests to fault and how.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// Share of matching requests to fault, 0.0 to 1.0.
    pub rate: f64,
    /// Kinds to choose from, uniformly.
    pub kinds: Vec<Fault>,
    /// Seed of the generator.
    pub seed: u64,
    /// Only requests whose head or body contains this text are faulted.
    pub only: Option<String>,
    /// How long a slow answer is held back.
    pub delay: Duration,
    /// Only the first time a request is seen is it faulted; its retries pass.
    pub first_attempt_only: bool,
}

impl FaultPlan {
    /// Faults nothing: a plain pass-through proxy.
    pub fn none() -> Self {
        FaultPlan {
            rate: 0.0,
            kinds: Vec::new(),
            seed: 1,
            only: None,
            delay: Duration::from_millis(250),
            first_attempt_only: false,
        }
    }

    /// Faults `rate` of requests with every kind.
    pub fn mixed(rate: f64, seed: u64) -> Self {
        FaultPlan {
            rate,
            kinds: Fault::ALL.to_vec(),
            seed,
            ..Self::none()
        }
    }

    /// Faults `rate` of requests with one kind.
    pub fn only_kind(kind: Fault, rate: f64) -> Self {
        FaultPlan {
            rate,
            kinds: vec![kind],
            ..Self::none()
        }
    }

    /// The same plan, faulting only requests that contain `text`.
    pub fn matching(mut self, text: &str) -> Self {
        self.only = Some(text.to_owned());
        self
    }

    /// The same plan, faulting each request the first time only (its retries pass).
    pub fn first_attempt_only(mut self) -> Self {
        self.first_attempt_only = true;
        self
    }

    /// The same plan with slow answers held back by `delay`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the proxy has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests received (moto's control plane included).
    pub requests: u64,
    /// Requests eligible for a fault: not control plane, and matching the filter.
    pub matched: u64,
    /// Requests whose answer came from upstream (slow ones included).
    pub forwarded: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<Fault, u64>,
}

impl Counts {
    /// Faults of every kind.
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }

    /// Faults of one kind.
    pub fn of(&self, kind: Fault) -> u64 {
        self.faults.get(&kind).copied().unwrap_or(0)
    }

    /// What happened since `earlier` (a snapshot of the same proxy).
    pub fn since(&self, earlier: &Counts) -> Counts {
        let mut faults = self.faults.clone();
        for (kind, n) in &earlier.faults {
            if let Some(count) = faults.get_mut(kind) {
                *count -= n;
            }
        }
        faults.retain(|_, n| *n > 0);
        Counts {
            requests: self.requests - earlier.requests,
            matched: self.matched - earlier.matched,
            forwarded: self.forwarded - earlier.forwarded,
            faults,
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests ({} eligible), {} forwarded, {} faults",
            self.requests,
            self.matched,
            self.forwarded,
            self.faults_total()
        )?;
        let kinds: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if !kinds.is_empty() {
            write!(f, " ({})", kinds.join(", "))?;
        }
        Ok(())
    }
}

/// The proxy's plan and tallies, shared by its connections.
struct Shared {
    plan: FaultPlan,
    counts: Counts,
    /// How often each request (by content) was seen, so a retry draws anew.
    seen: HashMap<u64, u64>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 forwarding to `upstream`.
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            plan,
            counts: Counts::default(),
            seen: HashMap::new(),
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stopped) = oneshot::channel();
        let state = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                tokio::select! {
                    () = accept_loop(listener, upstream, state) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends every connection task and closes its sockets.
        });
        Ok(FaultProxy {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Starts a proxy in front of `http://127.0.0.1:<port>`.
    pub fn in_front_of(port: u16, plan: FaultPlan) -> io::Result<Self> {
        Self::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), plan)
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The proxy's URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the plan; the counts and the generator's history are kept.
    pub fn set_plan(&self, plan: FaultPlan) {
        lock(&self.shared).plan = plan;
    }

    /// A snapshot of the counts.
    pub fn counts(&self) -> Counts {
        lock(&self.shared).counts.clone()
    }

    /// Stops accepting, closes every connection, and waits for the proxy's thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panicking connection task must not take the counts with it.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Mutex<Shared>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, most likely: let connections finish.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            // An I/O error ends the connection, as it would at a real server.
            let _ = serve(client, upstream, shared).await;
        });
    }
}

/// Serves one client connection until it closes, a fault drops it, or an I/O error.
async fn serve(
    client: TcpStream,
    upstream_addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) -> io::Result<()> {
    let mut client = BufReader::new(client);
    let mut upstream: Option<BufReader<TcpStream>> = None;
    loop {
        let Some(mut request) = read_head(&mut client).await? else {
            return Ok(());
        };
        let request_framing = framing(&request, false, "")?;
        read_body(&mut client, &mut request, request_framing).await?;
        let (fault, delay) = decide(&shared, &request);
        let answer = match fault {
            Some(Fault::Drop) => return Ok(()),
            Some(Fault::LoseAnswer) => {
                forward(&mut upstream, upstream_addr, &request).await?;
                lock(&shared).counts.forwarded += 1;
                return Ok(());
            }
            Some(kind @ (Fault::Throttle | Fault::Internal | Fault::Unavailable)) => {
                fault_response(kind, &request)
            }
            Some(Fault::Slow) | None => {
                if fault.is_some() {
                    tokio::time::sleep(delay).await;
                }
                let response = forward(&mut upstream, upstream_addr, &request).await?;
                lock(&shared).counts.forwarded += 1;
                if response.closes() {
                    upstream = None;
                }
                let mut bytes = Vec::new();
                response.write_to(&mut bytes);
                if response.close_delimited {
                    client.write_all(&bytes).await?;
                    return client.shutdown().await;
                }
                bytes
            }
        };
        client.write_all(&answer).await?;
        client.flush().await?;
        if request.closes() {
            return client.shutdown().await;
        }
    }
}

/// Sends the request upstream and reads the answer, reconnecting once if a kept-alive
/// connection turns out to have been closed by the server meanwhile.
async fn forward(
    upstream: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &Message,
) -> io::Result<Message> {
    let mut bytes = Vec::new();
    request.write_to(&mut bytes);
    let method = request.start.first().cloned().unwrap_or_default();
    for attempt in 0..2 {
        let reused = upstream.is_some();
        let connection = match upstream {
            Some(c) => c,
            None => upstream.insert(BufReader::new(TcpStream::connect(addr).await?)),
        };
        let sent = connection.get_mut().write_all(&bytes).await;
        let head = match sent {
            Ok(()) => read_head(connection).await,
            Err(e) => Err(e),
        };
        match head {
            Ok(Some(mut response)) => {
                let response_framing = framing(&response, true, &method)?;
                read_body(connection, &mut response, response_framing).await?;
                return Ok(response);
            }
            Ok(None) | Err(_) if reused && attempt == 0 => *upstream = None,
            Ok(None) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Err(e) => return Err(e),
        }
    }
    Err(io::ErrorKind::UnexpectedEof.into())
}

/// Whether to fault this request, and the slow delay; counts it either way.
fn decide(shared: &Mutex<Shared>, request: &Message) -> (Option<Fault>, Duration) {
    let mut state = lock(shared);
    state.counts.requests += 1;
    let target = request.start.get(1).map_or("", String::as_str);
    if target.starts_with("/moto-api/") {
        return (None, Duration::ZERO);
    }
    if let Some(only) = &state.plan.only {
        let found =
            contains(&request.head, only.as_bytes()) || contains(&request.body, only.as_bytes());
        if !found {
            return (None, Duration::ZERO);
        }
    }
    state.counts.matched += 1;
    let plan = state.plan.clone();
    if plan.rate <= 0.0 || plan.kinds.is_empty() {
        return (None, plan.delay);
    }
    let key = request_key(request);
    let occurrence = {
        let n = state.seen.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    if plan.first_attempt_only && occurrence > 1 {
        return (None, plan.delay);
    }
    let mut rng = XorShift::new(plan.seed ^ key ^ occurrence.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    if rng.unit() >= plan.rate {
        return (None, plan.delay);
    }
    let kind = plan.kinds[(rng.next() % plan.kinds.len() as u64) as usize];
    *state.counts.faults.entry(kind).or_insert(0) += 1;
    (Some(kind), plan.delay)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A request's identity for the generator: what it asks, not when (signatures carry dates).
fn request_key(request: &Message) -> u64 {
    let mut hash = Fnv::default();
    for word in request.start.iter().take(2) {
        hash.write(word.as_bytes());
    }
    hash.write(request.header("x-amz-target").unwrap_or("").as_bytes());
    hash.write(&request.body);
    hash.0
}

/// FNV-1a, 64-bit.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().chain([&0xff]) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Marsaglia's xorshift64*: tiny, seedable, good enough to pick faults.
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (any value; zero is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Self {
        let mut rng = XorShift(if seed == 0 {
            0x2545_F491_4F6C_DD1D
        } else {
            seed
        });
        // Nearby seeds give nearby first outputs; stir them apart.
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The protocol family of a request, for shaping an error the SDK parses as AWS's own.
enum Protocol {
    /// awsQuery (CloudFormation, STS): form-encoded POST, XML errors.
    Query,
    /// awsJson (DynamoDB): `X-Amz-Target`, JSON errors.
    Json,
    /// REST-XML (S3).
    RestXml,
}

fn protocol(request: &Message) -> Protocol {
    let content_type = request.header("content-type").unwrap_or("");
    if request.header("x-amz-target").is_some() || content_type.contains("x-amz-json") {
        Protocol::Json
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Protocol::Query
    } else {
        Protocol::RestXml
    }
}

/// The canned answer for an injected error, in the request's protocol.
fn fault_response(fault: Fault, request: &Message) -> Vec<u8> {
    static NEXT_ID: Mutex<u64> = Mutex::new(0);
    let id = {
        let mut n = NEXT_ID.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        format!("fault-proxy-{:08}", *n)
    };
    let protocol = protocol(request);
    let (status, reason, code, fault_by, message) = match (fault, &protocol) {
        (Fault::Throttle, Protocol::RestXml) => (
            503,
            "Slow Down",
            "SlowDown",
            "Receiver",
            "Please reduce your request rate.",
        ),
        (Fault::Throttle, Protocol::Json) => (
            400,
            "Bad Request",
            "ThrottlingException",
            "Sender",
            "Rate exceeded",
        ),
        (Fault::Throttle, Protocol::Query) => {
            (400, "Bad Request", "Throttling", "Sender", "Rate exceeded")
        }
        (Fault::Unavailable, _) => (
            503,
            "Service Unavailable",
            "ServiceUnavailable",
            "Receiver",
            "Service is unavailable, please try again later.",
        ),
        _ => (
            500,
            "Internal Server Error",
            "InternalFailure",
            "Receiver",
            "We encountered an internal error. Please try again.",
        ),
    };
    let (content_type, body, extra) = match protocol {
        Protocol::Query => (
            "text/xml".to_owned(),
            format!(
                "<ErrorResponse><Error><Type>{fault_by}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"
            ),
            String::new(),
        ),
        Protocol::Json => (
            request
                .header("content-type")
                .unwrap_or("application/x-amz-json-1.0")
                .to_owned(),
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
            format!("x-amzn-ErrorType: {code}\r\nx-amzn-query-error: {code};{fault_by}\r\n"),
        ),
        Protocol::RestXml => (
            "application/xml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>{id}</RequestId></Error>"
            ),
            String::new(),
        ),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: {id}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}
