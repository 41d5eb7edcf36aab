//! ESP (RFC 4303) with AEAD only: AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634),
//! through `ring`, in tunnel and transport mode, with 64-bit extended sequence numbers
//! (RFC 4304) and the anti-replay window of [`crate::replay`].
//!
//! The packet is encrypted and decrypted in place, in its own buffer: nothing is
//! allocated per packet. The 8-byte IV is the 64-bit sequence number, which a state
//! never repeats under one key (RFC 4106 section 3.1 and RFC 7634 section 2 ask only
//! that it be unique), and the nonce is the key's 4-byte salt followed by it. The
//! Additional Authenticated Data is the SPI and the sequence number, its high half
//! included with extended sequence numbers (RFC 4106 section 5).

use std::fmt;
use std::net::Ipv6Addr;

use ring::aead::{
    AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey,
};

use crate::packet::Packet;
use crate::replay::{Refused, Window};
use crate::transform::{Counters, Drop, Expiry, Lifetime, StateKey, Transform, Use};

/// ESP's IP protocol number.
pub const PROTO_ESP: u8 = 50;
/// IPv6-in-IPv6's.
pub const PROTO_IPV6: u8 = 41;
const IPV6_HEADER: usize = 40;
/// SPI and sequence number.
const ESP_HEADER: usize = 8;
const IV_LEN: usize = 8;
const ICV_LEN: usize = 16;
const SALT_LEN: usize = 4;
/// The hop limit of the outer header in tunnel mode.
const HOP_LIMIT: u8 = 64;

/// The AEAD algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Aead {
    /// The algorithm of an `ip xfrm` name and key length (salt included), as Linux takes
    /// them: `rfc4106(gcm(aes))` with 20 or 36 bytes, `rfc7539esp(chacha20,poly1305)`
    /// with 36.
    ///
    /// # Errors
    /// An unknown name, or a key of another length.
    pub fn from_name(name: &str, key_len: usize) -> Result<Aead, EspError> {
        let aead = match (name, key_len) {
            ("rfc4106(gcm(aes))", 20) => Aead::Aes128Gcm,
            ("rfc4106(gcm(aes))", 36) => Aead::Aes256Gcm,
            ("rfc7539esp(chacha20,poly1305)", 36) => Aead::ChaCha20Poly1305,
            ("rfc4106(gcm(aes))", _) => {
                return Err(EspError::KeyLength {
                    name: name.into(),
                    got: key_len,
                    want: "20 (AES-128) or 36 (AES-256) bytes, salt included",
                });
            }
            ("rfc7539esp(chacha20,poly1305)", _) => {
                return Err(EspError::KeyLength {
                    name: name.into(),
                    got: key_len,
                    want: "36 bytes, salt included",
                });
            }
            _ => return Err(EspError::Algorithm(name.into())),
        };
        Ok(aead)
    }

    /// The name `ip xfrm` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Aead::Aes128Gcm | Aead::Aes256Gcm => "rfc4106(gcm(aes))",
            Aead::ChaCha20Poly1305 => "rfc7539esp(chacha20,poly1305)",
        }
    }

    fn ring(self) -> &'static ring::aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &AES_128_GCM,
            Aead::Aes256Gcm => &AES_256_GCM,
            Aead::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        }
    }
}

/// Why a state cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EspError {
    #[error("unknown AEAD algorithm {0:?} (rfc4106(gcm(aes)) or rfc7539esp(chacha20,poly1305))")]
    Algorithm(String),
    #[error("invalid key length for {name}: {got} bytes, {want}")]
    KeyLength {
        name: String,
        got: usize,
        want: &'static str,
    },
    #[error("invalid ICV length {0} bits: only 128 is supported")]
    IcvLength(u32),
    #[error("SPI 0 is reserved (RFC 4303 2.1); SPIs 1 to 255 too")]
    Spi,
}

/// Tunnel mode carries whole packets; transport mode protects the payload of packets to
/// or from the router itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tunnel,
    Transport,
}

/// What makes an ESP state.
#[derive(Clone, PartialEq, Eq)]
pub struct EspConfig {
    pub spi: u32,
    /// The state's source and destination: the tunnel's endpoints in tunnel mode.
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub mode: Mode,
    pub aead: Aead,
    /// The key followed by its 4-byte salt.
    pub key: Vec<u8>,
    pub esn: bool,
    /// Packets the anti-replay window covers.
    pub replay_window: u32,
    pub lifetime: Lifetime,
}

impl fmt::Debug for EspConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is never shown.
        f.debug_struct("EspConfig")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("src", &self.src)
            .field("dst", &self.dst)
            .field("mode", &self.mode)
            .field("aead", &self.aead)
            .field("esn", &self.esn)
            .field("replay_window", &self.replay_window)
            .finish_non_exhaustive()
    }
}

/// An ESP security association: keys, sequence numbers, window, lifetime and counters.
pub struct Esp {
    spi: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    mode: Mode,
    aead: Aead,
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
    esn: bool,
    /// The last sequence number sent.
    sent: u64,
    window: Window,
    lifetime: Lifetime,
    usage: Use,
    counters: Counters,
}

impl fmt::Debug for Esp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Esp")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("src", &self.src)
            .field("dst", &self.dst)
            .field("mode", &self.mode)
            .field("aead", &self.aead)
            .field("sent", &self.sent)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Esp {
    /// A state of `c`, made at time `now_ns`.
    ///
    /// # Errors
    /// A key of the wrong length for its algorithm, or a reserved SPI.
    pub fn new(c: &EspConfig, now_ns: u64) -> Result<Esp, EspError> {
        if c.spi < 256 {
            return Err(EspError::Spi);
        }
        let key_len = c.aead.ring().key_len();
        if c.key.len() != key_len + SALT_LEN {
            return Err(EspError::KeyLength {
                name: c.aead.name().into(),
                got: c.key.len(),
                want: match c.aead {
                    Aead::Aes128Gcm => "20 bytes, salt included",
                    _ => "36 bytes, salt included",
                },
            });
        }
        let unbound =
            UnboundKey::new(c.aead.ring(), &c.key[..key_len]).map_err(|_| EspError::KeyLength {
                name: c.aead.name().into(),
                got: c.key.len(),
                want: "the algorithm's",
            })?;
        let mut salt = [0; SALT_LEN];
        salt.copy_from_slice(&c.key[key_len..]);
        Ok(Esp {
            spi: c.spi,
            src: c.src,
            dst: c.dst,
            mode: c.mode,
            aead: c.aead,
            key: LessSafeKey::new(unbound),
            salt,
            esn: c.esn,
            sent: 0,
            window: Window::new(c.replay_window, c.esn),
            lifetime: c.lifetime,
            usage: Use {
                created_ns: now_ns,
                expiry: Expiry::Live,
            },
            counters: Counters::default(),
        })
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn aead(&self) -> Aead {
        self.aead
    }

    /// The last sequence number sent, and the highest received.
    pub fn sequence(&self) -> (u64, u64) {
        (self.sent, self.window.top())
    }

    /// Fails once the hard lifetime is over.
    fn live(&mut self, now_ns: u64) -> Result<(), Drop> {
        if self.usage.update(&self.lifetime, &self.counters, now_ns) == Expiry::Hard {
            self.counters.expired += 1;
            return Err(Drop::Expired);
        }
        Ok(())
    }

    /// The next sequence number to send. A counter never wraps: at its last value the
    /// state stops, and needs new keys (RFC 4303 3.3.3).
    fn next_sequence(&mut self) -> Result<u64, Drop> {
        let last = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if self.sent == last {
            self.counters.exhausted += 1;
            return Err(Drop::SequenceExhausted);
        }
        self.sent += 1;
        Ok(self.sent)
    }

    fn nonce(&self, iv: &[u8]) -> Nonce {
        let mut n = [0u8; 12];
        n[..SALT_LEN].copy_from_slice(&self.salt);
        n[SALT_LEN..].copy_from_slice(iv);
        Nonce::assume_unique_for_key(n)
    }

    /// The Additional Authenticated Data of sequence number `seq`, and its length.
    fn aad(&self, seq: u64) -> ([u8; 12], usize) {
        let mut a = [0u8; 12];
        a[..4].copy_from_slice(&self.spi.to_be_bytes());
        if self.esn {
            a[4..12].copy_from_slice(&seq.to_be_bytes());
            (a, 12)
        } else {
            a[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
            (a, 8)
        }
    }
}

impl Transform for Esp {
    fn name(&self) -> &'static str {
        "esp"
    }

    fn key(&self) -> StateKey {
        StateKey {
            proto: PROTO_ESP,
            dst: self.dst,
            spi: self.spi,
            src: None,
        }
    }

    fn overhead(&self, len: usize) -> (usize, usize) {
        let outer = match self.mode {
            Mode::Tunnel => IPV6_HEADER,
            Mode::Transport => 0,
        };
        let body = match self.mode {
            Mode::Tunnel => len,
            Mode::Transport => len.saturating_sub(IPV6_HEADER),
        };
        let pad = (4 - (body + 2) % 4) % 4;
        (outer + ESP_HEADER + IV_LEN, pad + 2 + ICV_LEN)
    }

    fn output(&mut self, p: &mut Packet<'_>, now_ns: u64) -> Result<(), Drop> {
        if p.len() < IPV6_HEADER {
            return Err(Drop::Truncated);
        }
        self.live(now_ns)?;
        let inner_len = p.len();
        let (traffic, flow) = {
            let h = p.data();
            (
                (h[0] & 0x0f) << 4 | h[1] >> 4,
                u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
            )
        };
        let next = match self.mode {
            Mode::Tunnel => PROTO_IPV6,
            Mode::Transport => {
                let nh = p.data()[6];
                // Hop-by-Hop, Routing, Fragment and Destination Options headers would go
                // before ESP; the router sends none of them.
                if matches!(nh, 0 | 43 | 44 | 60) {
                    return Err(Drop::Unsupported);
                }
                nh
            }
        };
        let (head, tail) = self.overhead(inner_len);
        if p.headroom() < head || p.tailroom() < tail {
            return Err(Drop::NoRoom);
        }
        let seq = self.next_sequence()?;

        // The trailer: padding 1, 2, 3..., its length, the next header (RFC 4303 2.4).
        let pad = tail - 2 - ICV_LEN;
        let t = p.append(tail)?;
        for (i, b) in t[..pad].iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        t[pad] = pad as u8;
        t[pad + 1] = next;

        let header = match self.mode {
            Mode::Tunnel => p.prepend(ESP_HEADER + IV_LEN)?,
            Mode::Transport => p.insert(IPV6_HEADER, ESP_HEADER + IV_LEN)?,
        };
        header[..4].copy_from_slice(&self.spi.to_be_bytes());
        header[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        header[8..16].copy_from_slice(&seq.to_be_bytes());
        let at = match self.mode {
            Mode::Tunnel => 0,
            Mode::Transport => IPV6_HEADER,
        };
        let data = p.data_mut();
        let end = data.len() - ICV_LEN;
        let tag = self.seal(
            seq,
            &seq.to_be_bytes(),
            &mut data[at + ESP_HEADER + IV_LEN..end],
        )?;
        data[end..].copy_from_slice(&tag);

        match self.mode {
            Mode::Tunnel => {
                let payload = u16::try_from(p.len()).map_err(|_| Drop::Unsupported)?;
                let h = p.prepend(IPV6_HEADER)?;
                h[0] = 0x60 | traffic >> 4;
                h[1] = traffic << 4 | (flow >> 16) as u8;
                h[2..4].copy_from_slice(&(flow as u16).to_be_bytes());
                h[4..6].copy_from_slice(&payload.to_be_bytes());
                h[6] = PROTO_ESP;
                h[7] = HOP_LIMIT;
                h[8..24].copy_from_slice(&self.src.octets());
                h[24..40].copy_from_slice(&self.dst.octets());
            }
            Mode::Transport => {
                let payload =
                    u16::try_from(p.len() - IPV6_HEADER).map_err(|_| Drop::Unsupported)?;
                let h = p.data_mut();
                h[4..6].copy_from_slice(&payload.to_be_bytes());
                h[6] = PROTO_ESP;
            }
        }
        self.counters.packets += 1;
        self.counters.bytes += inner_len as u64;
        Ok(())
    }

    fn input(&mut self, p: &mut Packet<'_>, at: usize, now_ns: u64) -> Result<(), Drop> {
        let result = self.decapsulate(p, at, now_ns);
        if let Err(d) = result {
            self.counters.refused(d);
        }
        result
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn expiry(&self) -> Expiry {
        self.usage.expiry
    }
}

impl Esp {
    /// Encrypts `plain` in place under sequence number `seq` and `iv`; returns the ICV.
    fn seal(&self, seq: u64, iv: &[u8; IV_LEN], plain: &mut [u8]) -> Result<[u8; ICV_LEN], Drop> {
        let (aad, aad_len) = self.aad(seq);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(iv), Aad::from(&aad[..aad_len]), plain)
            .map_err(|_| Drop::NoRoom)?;
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(tag.as_ref());
        Ok(icv)
    }

    /// Decrypts and verifies `sealed` (the ciphertext and its ICV) in place; returns the
    /// plaintext's length.
    fn open(&self, seq: u64, iv: &[u8; IV_LEN], sealed: &mut [u8]) -> Result<usize, Drop> {
        let (aad, aad_len) = self.aad(seq);
        self.key
            .open_in_place(self.nonce(iv), Aad::from(&aad[..aad_len]), sealed)
            .map(|plain| plain.len())
            .map_err(|_| Drop::AuthFailed)
    }

    fn decapsulate(&mut self, p: &mut Packet<'_>, at: usize, now_ns: u64) -> Result<(), Drop> {
        // The header, the IV, a trailer of at least its two bytes and the ICV.
        if p.len() < at + ESP_HEADER + IV_LEN + 2 + ICV_LEN || at < IPV6_HEADER {
            return Err(Drop::Truncated);
        }
        if self.usage.update(&self.lifetime, &self.counters, now_ns) == Expiry::Hard {
            return Err(Drop::Expired);
        }
        let esp = &p.data()[at..];
        let low = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
        let seq = self.window.infer(low);
        self.window.check(seq).map_err(refusal)?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&esp[ESP_HEADER..ESP_HEADER + IV_LEN]);
        let data = p.data_mut();
        let plain_len = self.open(seq, &iv, &mut data[at + ESP_HEADER + IV_LEN..])?;
        self.window.record(seq).map_err(refusal)?;

        let plain = &data[at + ESP_HEADER + IV_LEN..][..plain_len];
        let (pad, next) = (usize::from(plain[plain_len - 2]), plain[plain_len - 1]);
        if pad + 2 > plain_len
            || plain[plain_len - 2 - pad..plain_len - 2]
                .iter()
                .enumerate()
                .any(|(i, b)| usize::from(*b) != i + 1)
        {
            return Err(Drop::BadTrailer);
        }
        let inner_len = plain_len - 2 - pad;
        match self.mode {
            Mode::Tunnel => {
                if next != PROTO_IPV6 {
                    return Err(Drop::Unsupported);
                }
                p.strip_back(ICV_LEN + 2 + pad);
                p.strip_front(at + ESP_HEADER + IV_LEN);
                if p.len() < IPV6_HEADER || p.data()[0] >> 4 != 6 {
                    return Err(Drop::BadTrailer);
                }
                // Traffic flow confidentiality padding (RFC 4303 2.7) may follow the inner
                // packet: its own length says where it ends. One longer than what came
                // is refused.
                let d = p.data();
                let inner = IPV6_HEADER + usize::from(u16::from_be_bytes([d[4], d[5]]));
                if inner > p.len() {
                    return Err(Drop::Truncated);
                }
                let extra = p.len() - inner;
                p.strip_back(extra);
            }
            Mode::Transport => {
                // Only ESP right after the fixed header, as the router sends it.
                if at != IPV6_HEADER {
                    return Err(Drop::Unsupported);
                }
                p.strip_back(ICV_LEN + 2 + pad);
                p.remove(at, ESP_HEADER + IV_LEN);
                let payload = (p.len() - IPV6_HEADER) as u16;
                let h = p.data_mut();
                h[4..6].copy_from_slice(&payload.to_be_bytes());
                h[6] = next;
            }
        }
        self.counters.packets += 1;
        self.counters.bytes += inner_len as u64;
        Ok(())
    }
}

fn refusal(r: Refused) -> Drop {
    match r {
        Refused::Replayed | Refused::Zero => Drop::Replayed,
        Refused::TooOld => Drop::TooOld,
    }
}

#[cfg(test)]
mod tests;
