//! The client end of the control socket, for the `v6fwd` commands.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{Request, Response, VERSION};

/// How long a command waits for its answer.
const TIMEOUT: Duration = Duration::from_secs(90);

/// A connection to a running forwarder.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the forwarder whose control socket is `path`.
    ///
    /// # Errors
    /// Says why in words: no forwarder there, or not allowed.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let stream = UnixStream::connect(path).map_err(|e| {
            let why = match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    "no v6fwd is running with this control socket (--socket names another)"
                        .to_owned()
                }
                io::ErrorKind::PermissionDenied => {
                    "not allowed: the socket is its owner's alone (run as that user)".to_owned()
                }
                _ => e.to_string(),
            };
            io::Error::new(e.kind(), format!("{}: {why}", path.display()))
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Sends `request` and waits for its answer.
    ///
    /// # Errors
    /// Fails if the connection breaks or the answer cannot be read.
    pub fn call(&mut self, request: &Request) -> io::Result<Response> {
        let mut line = serde_json::to_vec(&serde_json::json!({
            "version": VERSION,
            "request": request,
        }))
        .map_err(io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the forwarder closed the connection",
            ));
        }
        serde_json::from_str(&answer)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad answer: {e}")))
    }
}
