//! The HTTP/1.1 wire format, as much of it as the fault proxy needs: reading a message's head
//! and its body exactly as sent, so what is passed on is byte for byte what came in.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// Largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// One HTTP message as read from the wire.
pub(super) struct Message {
    /// The start line and headers, exactly as received (ending with the blank line).
    pub(super) head: Vec<u8>,
    /// The body exactly as received (chunk framing included).
    pub(super) body: Vec<u8>,
    /// The start line's words.
    pub(super) start: Vec<String>,
    /// Headers, names lowercased.
    pub(super) headers: Vec<(String, String)>,
    /// The body ran to the end of the stream.
    pub(super) close_delimited: bool,
}

impl Message {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn version(&self) -> &str {
        self.start.first().map_or("", String::as_str)
    }

    /// Whether the sender will close the connection after this message.
    pub(super) fn closes(&self) -> bool {
        let version = if self.start.first().is_some_and(|w| w.starts_with("HTTP/")) {
            self.version()
        } else {
            // A request line is METHOD TARGET VERSION.
            self.start.get(2).map_or("", String::as_str)
        };
        self.close_delimited
            || self.has_token("connection", "close")
            || (version == "HTTP/1.0" && !self.has_token("connection", "keep-alive"))
    }

    pub(super) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&self.body);
    }
}

/// How a message's body is delimited.
pub(super) enum Framing {
    /// No body at all.
    Empty,
    /// `Content-Length`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the stream ends (responses only).
    UntilClose,
}

/// Reads a message head; `None` when the stream ends before its first byte.
pub(super) async fn read_head<R>(reader: &mut R) -> io::Result<Option<Message>>
where
    R: AsyncBufReadExt + Unpin,
{
    let mut head = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                // Stray CRLF between messages is allowed before a request line.
                head.clear();
                continue;
            }
            break;
        }
        lines.push(text);
    }
    let start = lines[0].split(' ').map(str::to_owned).collect();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Some(Message {
        head,
        body: Vec::new(),
        start,
        headers,
        close_delimited: false,
    }))
}

pub(super) fn framing(
    message: &Message,
    is_response: bool,
    request_method: &str,
) -> io::Result<Framing> {
    if is_response {
        let status = message.start.get(1).map_or("", String::as_str);
        if request_method == "HEAD" || status.starts_with('1') || status == "204" || status == "304"
        {
            return Ok(Framing::Empty);
        }
    }
    if message.has_token("transfer-encoding", "chunked") {
        return Ok(Framing::Chunked);
    }
    if let Some(length) = message.header("content-length") {
        return length
            .parse()
            .map(Framing::Length)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"));
    }
    Ok(if is_response {
        Framing::UntilClose
    } else {
        Framing::Empty
    })
}

/// Reads the body `framing` describes into `message.body`, byte for byte.
pub(super) async fn read_body<R>(
    reader: &mut R,
    message: &mut Message,
    framing: Framing,
) -> io::Result<()>
where
    R: AsyncBufReadExt + Unpin,
{
    match framing {
        Framing::Empty => {}
        Framing::Length(n) => {
            message.body.resize(n, 0);
            reader.read_exact(&mut message.body).await?;
        }
        Framing::UntilClose => {
            reader.read_to_end(&mut message.body).await?;
            message.close_delimited = true;
        }
        Framing::Chunked => loop {
            let mut size_line = Vec::new();
            if reader.read_until(b'\n', &mut size_line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            message.body.extend_from_slice(&size_line);
            let text = String::from_utf8_lossy(&size_line);
            let digits = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(digits, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut line = Vec::new();
                    if reader.read_until(b'\n', &mut line).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    message.body.extend_from_slice(&line);
                    if line == b"\r\n" || line == b"\n" {
                        return Ok(());
                    }
                }
            }
            let start = message.body.len();
            message.body.resize(start + size + 2, 0);
            reader.read_exact(&mut message.body[start..]).await?;
        },
    }
    Ok(())
}
