//! Workfront's side of the document endpoints, for the provider tests: the
//! calls as Adobe's pages and the reference implementation make them (query
//! parameters, the methods the pages name, the raw body of `upload`), and
//! one suite every provider must pass, whatever it is written in.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A Workfront integration's view of one tenant: Base API URL and ApiKey.
pub struct Workfront {
    pub base: String,
    pub key: String,
    client: reqwest::Client,
}

/// A raw answer: status, headers and body bytes.
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "non-JSON body ({e}) with status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }
}

impl Workfront {
    /// The integration of `tenant` on `server_base`, calling with `key`.
    pub fn new(server_base: &str, tenant: &str, key: &str) -> Self {
        Self {
            base: format!("{server_base}/t/{tenant}"),
            key: key.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// Calls `endpoint` with `method` and query `params` (and a raw body).
    pub async fn call(
        &self,
        method: &str,
        endpoint: &str,
        params: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Raw {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}/{endpoint}", self.base))
            .query(params)
            .header("apiKey", &self.key)
            .header("username", "jane.doe");
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        Raw {
            status,
            headers,
            bytes,
        }
    }

    /// A GET returning JSON.
    pub async fn get(&self, endpoint: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let raw = self.call("GET", endpoint, params, None).await;
        (raw.status, raw.json())
    }

    /// `serviceInfo`'s `availableEndpoints`.
    pub async fn endpoints(&self) -> Vec<String> {
        let (status, info) = self.get("serviceInfo", &[]).await;
        assert_eq!(status, 200, "{info}");
        serde_json::from_value(info["availableEndpoints"].clone()).unwrap()
    }

    /// `createFolder` under `parent`; the new folder's id.
    pub async fn create_folder(&self, parent: &str, name: &str) -> String {
        let raw = self
            .call(
                "POST",
                "createFolder",
                &[("parentId", parent), ("name", name)],
                None,
            )
            .await;
        let folder = raw.json();
        assert_eq!(raw.status, 200, "{folder}");
        assert_eq!(folder["kind"], "folder", "{folder}");
        assert_eq!(folder["title"], name, "{folder}");
        folder["id"].as_str().unwrap().to_owned()
    }

    /// `uploadInit` then `upload` of `bytes` as `filename` in `parent`; the
    /// new file's id.
    pub async fn upload(&self, parent: &str, filename: &str, bytes: Vec<u8>) -> String {
        let raw = self
            .call(
                "POST",
                "uploadInit",
                &[
                    ("parentId", parent),
                    ("filename", filename),
                    ("documentId", super::DOC),
                    ("documentVersionId", super::VER),
                ],
                None,
            )
            .await;
        let created = raw.json();
        assert_eq!(raw.status, 200, "{created}");
        assert_eq!(created["kind"], "file", "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let raw = self
            .call("PUT", "upload", &[("id", &id)], Some(bytes))
            .await;
        assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.bytes));
        assert_eq!(raw.json()["result"], "success");
        id
    }

    /// The titles of a folder's page.
    pub async fn titles(&self, parent: &str, max: &str, offset: &str) -> Vec<String> {
        let (status, items) = self
            .get(
                "files",
                &[("parentId", parent), ("max", max), ("offset", offset)],
            )
            .await;
        assert_eq!(status, 200, "{items}");
        titles(&items)
    }
}

/// The `title` of each document in a JSON array.
pub fn titles(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not a bare JSON array: {items}"))
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

/// SHA-256 of bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A valid `width`×`height` RGB PNG (stored, uncompressed deflate blocks).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0);
        for x in 0..width {
            raw.extend([(x * 4) as u8, (y * 8) as u8, 128]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + *byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(&data);
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= *byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The width and height of a PNG, after checking its signature and that every
/// chunk's CRC matches (a valid image, as far as its structure goes).
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut at = 8;
    let mut size = None;
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let chunk = &bytes[at + 4..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc32(chunk), crc, "bad CRC in chunk {:?}", &chunk[..4]);
        if &chunk[..4] == b"IHDR" {
            let w = u32::from_be_bytes(chunk[4..8].try_into().unwrap());
            let h = u32::from_be_bytes(chunk[8..12].try_into().unwrap());
            size = Some((w, h));
        }
        at += 12 + len;
    }
    size.expect("no IHDR")
}

/// The suite every provider passes, from the pages and the reference
/// implementation's behaviour: browse, page, search, upload then download
/// the same bytes, metadata after the upload, thumbnails when the provider
/// has them, rename, delete, unknown ids. Works in a folder of its own
/// under the root, named `folder`.
pub async fn provider_suite(wf: &Workfront, folder: &str) {
    let endpoints = wf.endpoints().await;
    for endpoint in [
        "metadata",
        "files",
        "search",
        "download",
        "uploadInit",
        "upload",
        "createFolder",
        "delete",
        "rename",
    ] {
        assert!(endpoints.contains(&endpoint.to_owned()), "{endpoints:?}");
    }

    // The root is "/", a folder.
    let (status, root) = wf.get("metadata", &[("id", "/")]).await;
    assert_eq!(status, 200, "{root}");
    assert_eq!(root["kind"], "folder", "{root}");

    // A folder of our own, listed in the root.
    let home = wf.create_folder("/", folder).await;
    let (status, listed) = wf.get("files", &[("parentId", "/")]).await;
    assert_eq!(status, 200, "{listed}");
    assert!(titles(&listed).contains(&folder.to_owned()), "{listed}");

    // Upload, then metadata and download give back what went in.
    let image = png(64, 32);
    let id = wf.upload(&home, "photo.png", image.clone()).await;
    let (status, meta) = wf.get("metadata", &[("id", &id)]).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["title"], "photo.png");
    assert_eq!(meta["kind"], "file");
    assert_eq!(meta["size"], image.len() as u64, "{meta}");
    let download = wf.call("GET", "download", &[("id", &id)], None).await;
    assert_eq!(download.status, 200);
    assert_eq!(sha256(&download.bytes), sha256(&image));
    let content_type = download.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("image/png"), "{content_type}");

    // Thumbnails, when the provider makes them, are valid images at the size asked.
    if endpoints.contains(&"thumbnail".to_owned()) {
        let thumb = wf
            .call("GET", "thumbnail", &[("id", &id), ("size", "16")], None)
            .await;
        assert_eq!(
            thumb.status,
            200,
            "{}",
            String::from_utf8_lossy(&thumb.bytes)
        );
        assert_eq!(png_size(&thumb.bytes), (16, 8));
    } else {
        let raw = wf.call("GET", "thumbnail", &[("id", &id)], None).await;
        assert_eq!(raw.status, 501, "{}", String::from_utf8_lossy(&raw.bytes));
    }

    // Paging: folders first, then files, by title; `offset` skips items.
    wf.create_folder(&home, "zeta").await;
    for name in ["b.txt", "a.txt", "c.txt"] {
        wf.upload(&home, name, name.as_bytes().to_vec()).await;
    }
    let all = wf.titles(&home, "100", "0").await;
    assert_eq!(all, ["zeta", "a.txt", "b.txt", "c.txt", "photo.png"]);
    assert_eq!(wf.titles(&home, "2", "1").await, ["a.txt", "b.txt"]);
    assert_eq!(wf.titles(&home, "2", "4").await, ["photo.png"]);
    assert!(wf.titles(&home, "2", "9").await.is_empty());

    // Search by name finds files and folders.
    let (status, found) = wf.get("search", &[("query", "PHOTO")]).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(titles(&found), ["photo.png"]);
    let (_, found) = wf.get("search", &[("query", "zet")]).await;
    assert_eq!(titles(&found), ["zeta"]);

    // Rename, then delete: gone from listing and metadata.
    let raw = wf
        .call(
            "PUT",
            "rename",
            &[("id", &id), ("name", "renamed.png")],
            None,
        )
        .await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.bytes));
    let renamed = find_id(wf, &home, "renamed.png").await;
    let raw = wf.call("PUT", "delete", &[("id", &renamed)], None).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.bytes));
    assert_eq!(raw.json()["status"], "success");
    let (status, gone) = wf.get("metadata", &[("id", &renamed)]).await;
    assert_eq!(status, 404, "{gone}");
    assert_eq!(gone["status"], "failure", "{gone}");
    assert!(gone["error"].as_str().is_some_and(|e| !e.is_empty()));
    let left = wf.titles(&home, "100", "0").await;
    assert_eq!(left, ["zeta", "a.txt", "b.txt", "c.txt"]);

    // Unknown ids are 404s in the error shape.
    let (status, unknown) = wf.get("metadata", &[("id", "no-such-thing")]).await;
    assert_eq!(status, 404, "{unknown}");
    let raw = wf
        .call("GET", "download", &[("id", "no-such-thing")], None)
        .await;
    assert_eq!(raw.status, 404);
    assert_eq!(raw.json()["status"], "failure");
}

/// The id of the item titled `title` in folder `parent`.
pub async fn find_id(wf: &Workfront, parent: &str, title: &str) -> String {
    let (_, items) = wf.get("files", &[("parentId", parent)]).await;
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["title"] == title)
        .unwrap_or_else(|| panic!("no {title} in {items}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
