//! A Stripe stand-in between payforms (STRIPE_API_BASE) and a real Stripe
//! peer: it forwards every request, and on demand forwards a new
//! PaymentIntent but then holds the answer, telling the test which one was
//! made, so the test can kill payforms after the charge and before payforms
//! hears of it. Fault injection lives here, never in payforms.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub struct FaultProxy {
    port: u16,
    hold_charges: Arc<AtomicBool>,
    held: Mutex<Receiver<Value>>,
}

struct Shared {
    upstream: String,
    hold_charges: Arc<AtomicBool>,
    held: Mutex<Sender<Value>>,
}

impl FaultProxy {
    /// Forwards to `upstream` (e.g. `http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let hold_charges = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            hold_charges: hold_charges.clone(),
            held: Mutex::new(tx),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(&shared, stream));
            }
        });
        FaultProxy {
            port,
            hold_charges,
            held: Mutex::new(rx),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on, a `POST /v1/payment_intents` is forwarded but its
    /// answer is held (never sent back).
    pub fn hold_charges(&self, on: bool) {
        self.hold_charges.store(on, Ordering::SeqCst);
    }

    /// The PaymentIntent the peer made for a held charge, once made.
    pub fn wait_held(&self, timeout: Duration) -> Value {
        self.held
            .lock()
            .expect("proxy channel")
            .recv_timeout(timeout)
            .expect("a charge reached the proxy in time")
    }
}

fn serve(shared: &Shared, stream: TcpStream) {
    let Some((method, path, headers, body)) = read(&stream) else {
        return;
    };
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("proxy client");
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = http.request(method.clone(), format!("{}{path}", shared.upstream));
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let Ok(answer) = request.body(body).send() else {
        return;
    };
    let status = answer.status().as_u16();
    let text = answer.text().unwrap_or_default();
    if method == reqwest::Method::POST && path == "/v1/payment_intents" && shared.hold_charges.load(Ordering::SeqCst) {
        let intent: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let _ = shared.held.lock().map(|tx| tx.send(intent));
        // Hold the connection: payforms waits for an answer that never comes.
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

type Request = (String, String, Vec<(String, String)>, Vec<u8>);

fn read(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, headers, body))
}
