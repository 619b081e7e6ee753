//! A real headless Chromium driven over WebDriver (Debian's chromium and chromium-driver,
//! installed by `scripts/peers.sh`), with axe-core for accessibility checks. Screenshots go
//! to `target/test-artifacts/screenshots/`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Spawned, http, peer_command, repo};
use crate::peers::free_port;

/// The element key of the W3C WebDriver protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session; the driver and every Chromium process stop when this is dropped.
pub struct Browser {
    /// Dropped after the session is closed: kills what is left of the driver's process group.
    _driver: Spawned,
    session: String,
    client: reqwest::Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session lets the driver end Chromium; `Drop` cannot await, so this is
        // one plain blocking request. Whatever is still running is killed with the group.
        let Some((address, path)) = self.session.strip_prefix("http://").and_then(|s| s.split_once('/')) else {
            return;
        };
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            use std::io::{Read as _, Write as _};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request =
                format!("DELETE /{path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session.
    pub async fn start() -> Self {
        let port = free_port();
        let driver = Spawned::start(
            peer_command(std::env::var("ARSHJUL_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("chromedriver (scripts/peers.sh installs Debian's chromium-driver)");
        let client = http();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if client.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let chromium = std::env::var("ARSHJUL_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--lang=sv-SE",
            ]},
        }}});
        let response: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Self {
            _driver: driver,
            session: format!("{base}/session/{session}"),
            client,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self.call_raw(method, path, body).await;
        if let Some(error) = response["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    /// The driver's whole answer, errors included.
    async fn call_raw(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.client
            .request(method, format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Makes the window `width` by `height` CSS pixels, as a phone's or a desktop's.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element id for {css}: {found}"))
            .to_owned()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found.as_array().map_or(0, Vec::len)
    }

    /// Clicks the element matching `css`, a link or a submit button, and waits for the page
    /// it leads to.
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.script("window.arshjulOldPage = true; return true;", json!([]))
            .await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
        let new_page =
            json!({"script": "return !window.arshjulOldPage && document.readyState === 'complete';", "args": []});
        // Up to 30 s: the suite runs beside it on two cores.
        for _ in 0..600 {
            let answer = self
                .call_raw(reqwest::Method::POST, "/execute/sync", new_page.clone())
                .await;
            if answer["value"] == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led to no new page");
    }

    /// Ticks the checkbox or picks the option matching `css`, on the same page.
    pub async fn choose(&self, css: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), json!({}))
            .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// The value of the field matching `css`.
    pub async fn value(&self, css: &str) -> String {
        let id = self.element(css).await;
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/property/value"),
                json!({}),
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        let text = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), json!({}))
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` in the page (its `arguments` are `args`, its `return` the result).
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1]` with its result.
    async fn script_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Writes a PNG of the page to `target/test-artifacts/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = repo().join("target/test-artifacts/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// The serious and critical accessibility violations axe-core finds on the page (WCAG 2.1
    /// A and AA rules), each as "rule: where".
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = std::env::var("ARSHJUL_TEST_AXE").unwrap_or_else(|_| {
            repo()
                .join("target/test-peers/axe/node_modules/axe-core/axe.min.js")
                .display()
                .to_string()
        });
        let source = std::fs::read_to_string(&axe).expect("axe-core (scripts/peers.sh installs it from npm)");
        self.script(&format!("{source}\nreturn true;"), json!([])).await;
        let result = self
            .script_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                   .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                       .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
            )
            .await;
        serde_json::from_value(result).unwrap()
    }
}
