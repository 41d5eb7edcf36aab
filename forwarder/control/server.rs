//! The control socket: a Unix socket, mode 0600, that takes requests and hands them to the
//! management thread, which alone applies them.
//!
//! One thread accepts; each client gets a thread of its own that reads its lines, checks
//! them ([`parse_request`]) and passes the good ones on as [`Call`]s. A client never
//! reaches the management state itself, so a slow or broken one holds up nobody but
//! itself.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};
use serde_json::Value;
use tracing::{debug, warn};

use super::{MAX_LINE, Request, Response, VERSION};

/// Clients served at once; another is told so and closed.
const MAX_CLIENTS: usize = 32;
/// How long a client may stay silent before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an answer may wait for its client to read it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may wait for the management thread.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A request on its way to the management thread, with where its answer goes.
pub struct Call {
    pub request: Request,
    pub reply: Sender<Response>,
}

/// The listening socket and its threads; dropping it closes the socket and removes its
/// file.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `path`, giving each good request to `calls`.
    ///
    /// A socket file left by a forwarder that is gone is replaced; one a running forwarder
    /// answers on is not, nor is a file that is not a socket.
    ///
    /// # Errors
    /// Fails if the path is taken or cannot be made.
    pub fn bind(path: &Path, calls: Sender<Call>) -> io::Result<Server> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists and is not a socket", path.display()),
                ));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{}: another v6fwd answers on this control socket",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path).map_err(named)?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(named)?;
        }
        // Made under another name and given its mode before it takes its own, so that no
        // client ever finds it open to others.
        let mut hidden = path.as_os_str().to_owned();
        hidden.push(format!(".{}", std::process::id()));
        let hidden = PathBuf::from(hidden);
        let _ = std::fs::remove_file(&hidden);
        let listener = UnixListener::bind(&hidden).map_err(named)?;
        let made = std::fs::set_permissions(&hidden, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&hidden, path));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&hidden);
            return Err(named(e));
        }
        listener.set_nonblocking(true).map_err(named)?;

        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let acceptor = {
            let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
            std::thread::Builder::new()
                .name("v6fwd-control".into())
                .spawn(move || accept(&listener, &calls, &stop, &refused))?
        };
        Ok(Server {
            path: path.to_owned(),
            stop,
            refused,
            acceptor: Some(acceptor),
        })
    }

    /// Requests refused before they reached the management thread: not JSON, too long,
    /// of another version, or of no known kind.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept(
    listener: &UnixListener,
    calls: &Sender<Call>,
    stop: &AtomicBool,
    refused: &Arc<AtomicU64>,
) {
    let clients = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                if clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
                    let _ = stream.set_nonblocking(false);
                    let _ = answer(
                        &mut stream,
                        &Response::error(format!("{MAX_CLIENTS} clients are connected already")),
                    );
                    continue;
                }
                clients.fetch_add(1, Ordering::Relaxed);
                let (calls, refused, mine) =
                    (calls.clone(), Arc::clone(refused), Arc::clone(&clients));
                let spawned = std::thread::Builder::new()
                    .name("v6fwd-client".into())
                    .spawn(move || {
                        if let Err(e) = serve(stream, &calls, &refused) {
                            debug!("control client: {e}");
                        }
                        mine.fetch_sub(1, Ordering::Relaxed);
                    });
                if let Err(e) = spawned {
                    clients.fetch_sub(1, Ordering::Relaxed);
                    warn!("control socket: cannot serve a client: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                warn!("control socket: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Answers one client's requests until it closes, stays silent too long, or sends a line
/// too long to find the next one after.
fn serve(stream: UnixStream, calls: &Sender<Call>, refused: &AtomicU64) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    // A client that does not read its answers gives up its place.
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') && n > MAX_LINE {
            refused.fetch_add(1, Ordering::Relaxed);
            answer(
                &mut writer,
                &Response::error(format!("a request is at most {MAX_LINE} bytes")),
            )?;
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = match parse_request(&line) {
            Ok(request) => call(calls, request),
            Err(e) => {
                refused.fetch_add(1, Ordering::Relaxed);
                Response::error(e)
            }
        };
        answer(&mut writer, &response)?;
    }
}

fn call(calls: &Sender<Call>, request: Request) -> Response {
    let (reply, answer) = bounded(1);
    if calls.send(Call { request, reply }).is_err() {
        return Response::error("the forwarder is stopping");
    }
    answer
        .recv_timeout(REPLY_TIMEOUT)
        .unwrap_or_else(|_| Response::error("the forwarder did not answer in time"))
}

fn answer(w: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut text = serde_json::to_vec(response).map_err(io::Error::other)?;
    text.push(b'\n');
    w.write_all(&text)
}

/// Reads one request line: a JSON object with this protocol's `version` and one
/// `request`.
///
/// # Errors
/// What is wrong with it, in words for the client.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("the request is not JSON: {e}"))?;
    let Value::Object(mut fields) = value else {
        return Err("a request is a JSON object: {\"version\": 1, \"request\": ...}".into());
    };
    match fields.remove("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
        Some(v) => {
            return Err(format!(
                "version {v} is not spoken here (this v6fwd speaks version {VERSION})"
            ));
        }
        None => {
            return Err(format!(
                "the request has no version (this v6fwd speaks version {VERSION})"
            ));
        }
    }
    let request = fields
        .remove("request")
        .ok_or_else(|| "the request has no \"request\"".to_owned())?;
    if let Some(k) = fields.keys().next() {
        return Err(format!(
            "unknown field {k:?} (a request has version and request)"
        ));
    }
    serde_json::from_value(request).map_err(|e| format!("bad request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_request_is_read() {
        assert_eq!(
            parse_request(br#"{"version":1,"request":"route_show"}"#),
            Ok(Request::RouteShow)
        );
        assert_eq!(
            parse_request(br#"{"request":{"route_get":{"address":"2001:db8::1"}},"version":1}"#),
            Ok(Request::RouteGet {
                address: "2001:db8::1".parse().unwrap()
            })
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"garbage", "not JSON"),
            (b"[1,2]", "a JSON object"),
            (br#"{"request":"stats"}"#, "no version"),
            (
                br#"{"version":2,"request":"stats"}"#,
                "version 2 is not spoken",
            ),
            (br#"{"version":"1","request":"stats"}"#, "version \"1\""),
            (br#"{"version":1}"#, "no \"request\""),
            (
                br#"{"version":1,"request":"stats","x":1}"#,
                "unknown field \"x\"",
            ),
            (
                br#"{"version":1,"request":"route_flap"}"#,
                "unknown variant",
            ),
            (
                br#"{"version":1,"request":{"route_get":{"address":7}}}"#,
                "bad request",
            ),
            (
                br#"{"version":1,"request":{"route_add":{"prefix":"::/0","colour":"red"}}}"#,
                "unknown field `colour`",
            ),
        ];
        for (line, want) in cases {
            let e = parse_request(line).unwrap_err();
            assert!(
                e.contains(want),
                "{}: {e:?} lacks {want:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_kept() {
        let dir = std::env::temp_dir().join(format!("v6fwd-ctl-{}", std::process::id()));
        let path = dir.join("s.sock");
        let (tx, rx) = crossbeam_channel::unbounded();
        let first = Server::bind(&path, tx.clone()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = Server::bind(&path, tx.clone()).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);

        // A request goes through to whoever holds the other end.
        let t = std::thread::spawn(move || {
            let c: Call = rx.recv().unwrap();
            assert_eq!(c.request, Request::Stats);
            c.reply.send(Response::error("seen")).unwrap();
        });
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"{\"version\":1,\"request\":\"stats\"}\nnot json\n")
            .unwrap();
        let mut lines = BufReader::new(s).lines();
        assert!(lines.next().unwrap().unwrap().contains("seen"));
        assert!(lines.next().unwrap().unwrap().contains("not JSON"));
        t.join().unwrap();
        assert_eq!(first.refused(), 1);

        drop(first);
        assert!(!path.exists());
        // A socket file whose forwarder is gone: the next one takes the path.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let second = Server::bind(&path, tx).unwrap();
        drop(second);
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }
}
