//! Headless Chromium driven over the DevTools protocol (a websocket on
//! loopback): open a page, collect every console error, uncaught exception
//! and log entry (CSP violations and failed loads included), evaluate DOM
//! checks, take a full-page screenshot.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Where Debian's package puts it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser binary, or `None` (after reporting `test`'s browser part as
/// NOT RUN, uncaptured) when missing. Under CI (`CI` set) a missing browser
/// is a failure, never a silent pass.
pub fn find(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("ZK_CHAOS_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    let reason = format!("chromium not found at {} (apt-get install chromium; .ci/run installs it)", path.display());
    assert!(std::env::var_os("CI").is_none(), "{reason}");
    crate::not_run::report(test, "the browser check", &reason);
    None
}

/// What a page did while it loaded.
#[derive(Debug, Default)]
pub struct PageReport {
    /// Console errors, uncaught exceptions, error log entries.
    pub errors: Vec<String>,
    /// Console warnings and warning log entries.
    pub warnings: Vec<String>,
    /// The value of the DOM-check expression.
    pub dom: Value,
    /// The full-page screenshot, PNG, when asked for.
    pub screenshot: Option<Vec<u8>>,
}

/// A running headless browser with one attached page session.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

const TIMEOUT: Duration = Duration::from_secs(60);

impl Browser {
    /// Start `binary` headless, with the background-networking features off.
    pub fn launch(binary: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-domain-reliability",
                "--metrics-recording-only",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1400,2400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes its port and browser target path here.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().parse::<u16>().expect("a port"), path.trim().to_string());
                }
            }
            assert!(started.elapsed() < TIMEOUT, "chromium did not open its DevTools port");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream).expect("websocket handshake");
        let mut b = Self { child, ws, session: String::new(), next_id: 0, events: Vec::new(), _profile: profile };
        let target = b.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.call(None, "Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        for m in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.page(m, json!({}));
        }
        b
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).expect("send to DevTools");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            let m = self.ws.read().expect("read from DevTools");
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.call(Some(&s), method, params)
    }

    fn wait_for(&mut self, event: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.events.iter().any(|e| e["method"] == event) {
            assert!(Instant::now() < deadline, "no {event}");
            let Message::Text(text) = self.ws.read().expect("read from DevTools") else { continue };
            self.events.push(serde_json::from_str(text.as_str()).unwrap());
        }
    }

    /// Load `file`, wait for its load event (and a moment for late
    /// messages), evaluate `dom_check` (an expression returning a JSON
    /// string) and take a full-page screenshot when `screenshot` is set.
    pub fn open(&mut self, file: &Path, dom_check: &str, screenshot: bool) -> PageReport {
        self.events.clear();
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1400, "height": 2400, "deviceScaleFactor": 1, "mobile": false }),
        );
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        self.page("Page.navigate", json!({ "url": url }));
        self.wait_for("Page.loadEventFired");
        // Late console messages: a round trip that lets them arrive first.
        std::thread::sleep(Duration::from_millis(300));
        let res = self
            .page("Runtime.evaluate", json!({ "expression": dom_check, "returnByValue": true, "awaitPromise": true }));
        let dom: Value = res["result"]["value"].as_str().map_or(Value::Null, |s| serde_json::from_str(s).unwrap());
        let shot = screenshot.then(|| {
            let m = self.page("Page.getLayoutMetrics", json!({}));
            let h = m["cssContentSize"]["height"].as_f64().or(m["contentSize"]["height"].as_f64()).unwrap_or(2400.0);
            self.page(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1400, "height": h.clamp(600.0, 16000.0) as u32, "deviceScaleFactor": 1, "mobile": false }),
            );
            let r = self.page("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }));
            base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap()
        });
        let mut report = PageReport { dom, screenshot: shot, ..PageReport::default() };
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => report.errors.push(format!(
                    "uncaught: {}",
                    p["exceptionDetails"]["exception"]["description"]
                        .as_str()
                        .unwrap_or(&p["exceptionDetails"]["text"].to_string())
                )),
                Some("Runtime.consoleAPICalled") => {
                    let text: Vec<String> =
                        p["args"].as_array().into_iter().flatten().map(|a| a["value"].to_string()).collect();
                    let line = format!("console.{}: {}", p["type"].as_str().unwrap_or("?"), text.join(" "));
                    match p["type"].as_str() {
                        Some("error" | "assert") => report.errors.push(line),
                        Some("warning") => report.warnings.push(line),
                        _ => {}
                    }
                }
                Some("Log.entryAdded") => {
                    let entry = &p["entry"];
                    let line = format!(
                        "{} ({}): {}",
                        entry["level"].as_str().unwrap_or("?"),
                        entry["source"].as_str().unwrap_or("?"),
                        entry["text"].as_str().unwrap_or("")
                    );
                    match entry["level"].as_str() {
                        Some("error") => report.errors.push(line),
                        Some("warning") => report.warnings.push(line),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        report
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DOM check for report pages: title, verdict, every chart with its size
/// and how many of its data elements have a non-empty geometry, scripts,
/// images, links, the visible text.
pub const REPORT_DOM_CHECK: &str = r#"JSON.stringify((() => {
  const data = 'rect.bar, path.line, rect.role, rect.op, circle.point, rect.fault';
  const charts = [...document.querySelectorAll('svg.chart')].map(s => {
    const box = s.getBoundingClientRect();
    const els = [...s.querySelectorAll(data)];
    const drawn = els.filter(e => {
      if (e.tagName === 'path') { return e.getTotalLength() > 0; }
      const b = e.getBBox(); return b.width > 0 && b.height > 0;
    });
    return { name: s.dataset.chart, width: box.width, height: box.height, elements: els.length, drawn: drawn.length };
  });
  return {
    title: document.title,
    verdict: (document.getElementById('verdict') || {}).textContent || null,
    charts,
    scripts: document.scripts.length,
    images: document.images.length,
    hrefs: [...document.links].map(a => a.getAttribute('href')),
    text: document.body.innerText,
  };
})())"#;
