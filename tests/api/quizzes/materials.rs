//! Study material over HTTP: uploads by the GraphQL multipart request spec (PDF, Markdown, text
//! in UTF-8, UTF-16 and CP949), quizzes built from them, and every way a file is refused with
//! nothing stored.

use crate::common;

use common::{APOLLO_11, Backend, Client, Gql, KOREAN_TEXT, TestApp};
use lopdf::{
    Document, Object, Stream,
    content::{Content, Operation},
    dictionary,
};
use serde_json::{Value, json};

on_every_store!(
    a_pdf_becomes_a_quiz,
    text_files_in_every_encoding_are_read,
    another_accounts_material_is_not_found,
    bad_files_are_refused_and_nothing_is_stored,
    the_quota_holds,
);

const UPLOAD: &str = "mutation($file: Upload!, $title: String) { uploadStudyMaterial(file: $file, \
    title: $title) { id title mediaType pageCount charCount createdAt } }";
const MATERIALS: &str =
    "{ studyMaterials(first: 10) { totalCount edges { node { id title mediaType } } } }";

/// A multipart request as the spec lays it out: `operations`, `map`, then the file as part `0`.
fn multipart(filename: &str, file: &[u8], title: Option<&str>) -> (String, Vec<u8>) {
    let boundary = format!("----quiz{}", uuid::Uuid::new_v4().simple());
    let operations = json!({ "query": UPLOAD, "variables": { "file": null, "title": title } });
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", json!({ "0": ["variables.file"] }).to_string()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts an upload from `c` with `headers` (a browser's script would add Apollo's preflight
/// header); the status and the parsed body.
async fn post_upload(
    c: &Client,
    filename: &str,
    file: &[u8],
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let (content_type, body) = multipart(filename, file, None);
    let mut req = c
        .http
        .post(format!("{}/graphql", c.base_url))
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(super) async fn upload(c: &Client, filename: &str, file: &[u8]) -> Gql {
    let (status, body) =
        post_upload(c, filename, file, &[("apollo-require-preflight", "true")]).await;
    Gql {
        status,
        headers: Default::default(),
        body,
    }
}

async fn material_count(c: &Client) -> i64 {
    c.gql(MATERIALS, json!({})).await.ok().data()["studyMaterials"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// A PDF whose pages show `pages` (an empty string: a page without text), in Courier.
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    pdf_with(pages, |_| {})
}

/// Like [`pdf`], with `tweak` applied to the document before it is written.
fn pdf_with(pages: &[&str], tweak: impl FnOnce(&mut Document)) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier" },
    );
    let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
    let kids: Vec<Object> = pages
        .iter()
        .map(|text| {
            let operations = if text.is_empty() {
                Vec::new()
            } else {
                vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 10.into()]),
                    Operation::new("Td", vec![40.into(), 700.into()]),
                    Operation::new("Tj", vec![Object::string_literal(*text)]),
                    Operation::new("ET", vec![]),
                ]
            };
            let content = Content { operations }.encode().unwrap();
            let content = doc.add_object(Stream::new(dictionary! {}, content));
            doc.add_object(
                dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content },
            )
            .into()
        })
        .collect();
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    tweak(&mut doc);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// APOLLO_11 as two pages, split between sentences.
pub(super) fn apollo_pages() -> (String, String) {
    let sentences: Vec<&str> = APOLLO_11.split_inclusive(". ").collect();
    let half = sentences.len() / 2;
    (sentences[..half].concat(), sentences[half..].concat())
}

async fn a_pdf_becomes_a_quiz(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("reader").await;
    let (one, two) = apollo_pages();
    let r = upload(&c, "Apollo notes.pdf", &pdf(&[&one, &two]))
        .await
        .ok();
    let m = &r.data()["uploadStudyMaterial"];
    assert_eq!(m["title"], "Apollo notes");
    assert_eq!(m["mediaType"], "application/pdf");
    assert_eq!(m["pageCount"], 2);
    let chars = m["charCount"].as_i64().unwrap();
    assert!(chars >= (one.trim().len() + two.trim().len()) as i64, "{m}");
    let id = m["id"].as_str().unwrap();
    let list = c.gql(MATERIALS, json!({})).await.ok();
    assert_eq!(list.data()["studyMaterials"]["totalCount"], 1);
    assert_eq!(list.data()["studyMaterials"]["edges"][0]["node"]["id"], id);

    // Offline generation needs study text: the material is it.
    let input = json!({ "topic": "Apollo", "materialId": id, "questionCount": 3 });
    let quiz = c.generate_quiz(input.clone()).await.ok();
    let questions = quiz.data()["generateQuiz"]["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 3);
    let r = c
        .gql(
            "mutation($i: GenerateQuizInput!) { startQuizGeneration(input: $i) { id questionCount } }",
            json!({ "i": input }),
        )
        .await
        .ok();
    assert_eq!(r.data()["startQuizGeneration"]["questionCount"], 3);

    // Both sources at once are one too many.
    let both = json!({ "topic": "Apollo", "materialId": id, "sourceText": APOLLO_11 });
    let r = c.generate_quiz(both).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("materialId"))
    );

    let r = c
        .gql(
            "mutation($id: ID!) { deleteStudyMaterial(id: $id) }",
            json!({ "id": id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["deleteStudyMaterial"], true);
    assert_eq!(material_count(&c).await, 0);
    let r = c.generate_quiz(input).await;
    assert_eq!(r.code(), "NOT_FOUND");
}

async fn text_files_in_every_encoding_are_read(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("polyglot").await;
    let korean_chars = KOREAN_TEXT.replace("\r\n", "\n").chars().count() as i64;
    let (cp949, _, unmappable) = encoding_rs::EUC_KR.encode(KOREAN_TEXT);
    assert!(!unmappable);
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(KOREAN_TEXT.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let markdown = format!("# Apollo\n\n{APOLLO_11}");
    for (name, bytes, media_type, chars) in [
        (
            "notes.md",
            markdown.as_bytes().to_vec(),
            "text/markdown",
            markdown.chars().count() as i64,
        ),
        (
            "노트.txt",
            KOREAN_TEXT.as_bytes().to_vec(),
            "text/plain",
            korean_chars,
        ),
        ("utf16.txt", utf16, "text/plain", korean_chars),
        ("cp949.txt", cp949.into_owned(), "text/plain", korean_chars),
    ] {
        let r = upload(&c, name, &bytes).await.ok();
        let m = &r.data()["uploadStudyMaterial"];
        assert_eq!(
            (m["mediaType"].as_str(), m["charCount"].as_i64()),
            (Some(media_type), Some(chars)),
            "{name}: {m}"
        );
        assert_eq!(m["pageCount"], Value::Null);
        if name == "cp949.txt" {
            let input = json!({ "topic": "한국", "materialId": m["id"], "questionCount": 2, "language": "ko" });
            c.generate_quiz(input).await.ok();
        }
    }
    assert_eq!(material_count(&c).await, 4);
}

async fn another_accounts_material_is_not_found(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (alice, _) = app.new_user("alice").await;
    let (mallory, _) = app.new_user("mallory").await;
    let r = upload(&alice, "notes.txt", APOLLO_11.as_bytes()).await.ok();
    let id = r.data()["uploadStudyMaterial"]["id"].clone();
    let r = mallory
        .generate_quiz(json!({ "topic": "Apollo", "materialId": id }))
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = mallory
        .gql(
            "mutation($id: ID!) { deleteStudyMaterial(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(material_count(&mallory).await, 0);
    assert_eq!(material_count(&alice).await, 1);
    // Logged out, nothing at all.
    let r = app.client().gql(MATERIALS, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

/// A PDF whose one page's content inflates to 2 MiB (of spaces, which a content stream may
/// hold) from a few kilobytes.
fn bomb() -> Vec<u8> {
    pdf_with(&["x"], |doc| {
        let page = *doc.get_pages().values().next().unwrap();
        let mut content = Stream::new(dictionary! {}, vec![b' '; 2 << 20]);
        content.compress().unwrap();
        let content = doc.add_object(content);
        doc.get_object_mut(page)
            .unwrap()
            .as_dict_mut()
            .unwrap()
            .set("Contents", content);
    })
}

async fn bad_files_are_refused_and_nothing_is_stored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |s| {
        s.uploads.upload_max_pages = 3;
        s.uploads.upload_max_bytes = 64 * 1024;
        s.uploads.upload_max_inflated_bytes = 1 << 20;
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("careless").await;
    let page = "Apollo 11 landed on the Moon.";
    let encrypted = pdf_with(&[page], |doc| {
        doc.trailer.set(
            "Encrypt",
            dictionary! {
                "Filter" => "Standard", "V" => 1, "R" => 2, "P" => -4,
                "O" => Object::string_literal(vec![1_u8; 32]),
                "U" => Object::string_literal(vec![2_u8; 32]),
            },
        );
        doc.trailer.set(
            "ID",
            vec![
                Object::string_literal(vec![3_u8; 16]),
                Object::string_literal(vec![3_u8; 16]),
            ],
        );
    });
    let mut truncated = pdf(&[page]);
    truncated.truncate(40);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("photo.png", b"\x89PNG\r\n\x1a\n....".to_vec(), "Only PDF"),
        (
            "binary.txt",
            b"MZ\x00\x00\x01\x02 not text".to_vec(),
            "Only PDF",
        ),
        (
            "latin1.txt",
            b"caf\xe9 cr\xe8me br\xfbl\xe9e".to_vec(),
            "not UTF-8",
        ),
        ("empty.md", b"  \n\n ".to_vec(), "no text"),
        ("broken.pdf", truncated, "damaged"),
        ("not-a.pdf", b"hello".to_vec(), "damaged"),
        ("locked.pdf", encrypted, "encrypted"),
        ("scan.pdf", pdf(&["", ""]), "no text layer"),
        (
            "long.pdf",
            pdf(&[page, page, page, page]),
            "more than 3 pages",
        ),
        ("bomb.pdf", bomb(), "expands"),
        (
            "big.txt",
            "a".repeat(64 * 1024 + 1).into_bytes(),
            "larger than 65536 bytes",
        ),
    ];
    for (name, bytes, says) in cases {
        let r = upload(&c, name, &bytes).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("file")),
            "{name}: {}",
            r.body
        );
        assert!(r.message().contains(says), "{name}: {}", r.message());
    }
    // A body past the file limit and the request limit together is cut off while it is read.
    let (status, body) = post_upload(
        &c,
        "huge.txt",
        &vec![b'a'; 64 * 1024 + 1_048_576 + 1],
        &[("apollo-require-preflight", "true")],
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(material_count(&c).await, 0);
    // The same pages within the limits are fine.
    let r = upload(&c, "short.pdf", &pdf(&[page, page, page]))
        .await
        .ok();
    assert_eq!(r.data()["uploadStudyMaterial"]["pageCount"], 3);
}

async fn the_quota_holds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |s| {
        s.uploads.upload_quota_count = 2;
        s.uploads.upload_quota_chars = 1_500;
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("hoarder").await;
    upload(&c, "a.txt", APOLLO_11.as_bytes()).await.ok();
    // 1,008 + 1,008 characters are more than 1,500.
    let r = upload(&c, "b.txt", APOLLO_11.as_bytes()).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("file")),
        "{}",
        r.body
    );
    upload(&c, "c.txt", b"short notes").await.ok();
    let r = upload(&c, "d.txt", b"more notes").await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("file")),
        "{}",
        r.body
    );
    assert!(r.message().contains("delete some"), "{}", r.message());
    assert_eq!(material_count(&c).await, 2);
    // Someone else's quota is their own.
    let (other, _) = app.new_user("frugal").await;
    upload(&other, "a.txt", b"notes").await.ok();
}

/// A form on another site can post multipart/form-data with the victim's cookies, and no
/// script decides its headers: without Apollo's preflight header the upload never runs.
#[tokio::test]
async fn a_cross_site_form_cannot_upload() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (victim, _) = app.new_user("victim").await;
    let (status, body) = post_upload(
        &victim,
        "planted.txt",
        b"planted notes",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(material_count(&victim).await, 0);
    // A script that may send the header (after a preflight) can upload; so can one naming the
    // operation, as Apollo Client's own header does.
    for header in ["apollo-require-preflight", "x-apollo-operation-name"] {
        let (status, body) =
            post_upload(&victim, "notes.txt", b"my notes", &[(header, "Upload")]).await;
        assert_eq!(status, 200, "{header}: {body}");
        assert!(body["errors"].is_null(), "{header}: {body}");
    }
    assert_eq!(material_count(&victim).await, 2);
}
