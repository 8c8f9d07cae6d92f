//! One error shape for every 4xx and 5xx, whatever produced it: unknown
//! methods (405), path parameters that do not parse, bad query values, JSON
//! and multipart bodies that cannot be read; and a refused request changes
//! nothing. (Panicking handlers are covered by the unit tests of
//! `api::error`, which need a route that panics.)

mod support;

use serde_json::{Value, json};
use support::app::App;

const API: &str = "/pulp/api/v3";

/// Exactly the keys detail, code and fields.
fn assert_error_shape(body: &Value) {
    let keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["code", "detail", "fields"], "{body}");
    assert!(body["fields"].is_object());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

/// Sends, and checks status, content type and shape; returns the body.
async fn expect_error(
    req: reqwest::RequestBuilder,
    status: u16,
    code: &str,
) -> (Value, reqwest::header::HeaderMap) {
    let res = req.send().await.unwrap();
    let headers = res.headers().clone();
    assert_eq!(res.status().as_u16(), status, "{headers:?}");
    assert_eq!(headers["content-type"], "application/json");
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    assert_error_shape(&body);
    assert_eq!(body["code"], code, "{body}");
    (body, headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_has_the_error_shape_and_changes_nothing() {
    let app = App::start().await;
    let (s, repo) = app
        .post(
            &format!("{API}/repositories/rpm/rpm/"),
            json!({"name": "r"}),
        )
        .await;
    assert_eq!(s, 201);
    let repo = repo["pulp_href"].as_str().unwrap().to_owned();
    let before = app.redis_snapshot().await;
    let files_before = app.storage_files();
    use reqwest::Method;

    // 405 on protected and public paths, with Allow.
    let (body, headers) = expect_error(
        app.req(Method::PUT, &format!("{API}/tasks/")),
        405,
        "method_not_allowed",
    )
    .await;
    assert_eq!(body["detail"], "Method \"PUT\" not allowed.");
    assert!(
        headers["allow"].to_str().unwrap().contains("GET"),
        "{headers:?}"
    );
    let (_, headers) = expect_error(
        app.http.post(format!("{}{API}/status/", app.api)),
        405,
        "method_not_allowed",
    )
    .await;
    assert!(headers["allow"].to_str().unwrap().contains("GET"));
    expect_error(
        app.req(Method::DELETE, &format!("{API}/rpm/copy/")),
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(app.req(Method::POST, &repo), 405, "method_not_allowed").await;

    // Path parameters that do not parse: the URL matches no object.
    for (method, path) in [
        (Method::GET, format!("{repo}versions/abc/")),
        (Method::DELETE, format!("{repo}versions/abc/")),
        (Method::GET, format!("{repo}versions/-1/")),
        (
            Method::GET,
            format!("{repo}versions/99999999999999999999999/"),
        ),
        (Method::GET, format!("{API}/tasks/%FF/")),
        (Method::GET, format!("{API}/remotes/rpm/rpm/%FF%FE/")),
    ] {
        expect_error(app.req(method, &path), 404, "not_found").await;
    }

    // Query values.
    for path in [
        format!("{API}/tasks/?limit=abc"),
        format!("{API}/tasks/?offset=-1"),
        format!("{API}/tasks/?ordering=nonsense"),
        format!("{API}/tasks/?state=bogus"),
        format!("{API}/tasks/?parent_task=garbage"),
        format!("{repo}versions/?number=x"),
        format!("{API}/repository_versions/?content=/not/content/"),
        format!("{API}/publications/rpm/rpm/?content__in=x,y"),
        format!("{API}/distributions/rpm/rpm/?with_content=nope"),
        format!("{API}/content/rpm/packages/?repository_version=garbage"),
    ] {
        expect_error(app.req(Method::GET, &path), 400, "invalid").await;
    }

    // JSON bodies.
    let remotes = format!("{API}/remotes/rpm/rpm/");
    for (body, what) in [
        ("{not json", "syntax"),
        ("[1, 2]", "not an object"),
        ("\"text\"", "not an object"),
        (r#"{"name": 5, "url": "http://x/"}"#, "wrong type"),
        (
            r#"{"name": "n", "url": "http://x/", "policy": ["immediate"]}"#,
            "wrong type",
        ),
    ] {
        let (b, _) = expect_error(
            app.req(Method::POST, &remotes)
                .header("content-type", "application/json")
                .body(body),
            400,
            "invalid",
        )
        .await;
        assert!(!b["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    // Larger than the body limit: 413, still the shape.
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    expect_error(
        app.req(Method::POST, &remotes)
            .header("content-type", "application/json")
            .body(huge),
        413,
        "payload_too_large",
    )
    .await;
    expect_error(
        app.req(Method::PATCH, &repo)
            .header("content-type", "application/json")
            .body("{"),
        400,
        "invalid",
    )
    .await;

    // Multipart uploads: not multipart at all, no boundary, a broken body.
    let upload = format!("{API}/content/rpm/packages/");
    for path in [upload.clone(), format!("{upload}upload/")] {
        expect_error(
            app.req(Method::POST, &path).json(&json!({})),
            400,
            "invalid",
        )
        .await;
        expect_error(
            app.req(Method::POST, &path)
                .header("content-type", "multipart/form-data")
                .body("x"),
            400,
            "invalid",
        )
        .await;
        expect_error(
            app.req(Method::POST, &path)
                .header("content-type", "multipart/form-data; boundary=XX")
                .body("--XX\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated"),
            400,
            "invalid",
        )
        .await;
        // Well formed, but no file.
        let form = "--XX\r\nContent-Disposition: form-data; name=\"relative_path\"\r\n\r\na.rpm\r\n--XX--\r\n";
        let (b, _) = expect_error(
            app.req(Method::POST, &path)
                .header("content-type", "multipart/form-data; boundary=XX")
                .body(form),
            400,
            "invalid",
        )
        .await;
        assert_eq!(b["fields"]["file"][0], "This field is required.");
    }

    // Unknown paths.
    expect_error(
        app.req(Method::GET, &format!("{API}/nothing/here/")),
        404,
        "not_found",
    )
    .await;

    assert_eq!(
        app.redis_snapshot().await,
        before,
        "refused requests changed nothing"
    );
    assert_eq!(app.storage_files(), files_before);
    app.stop().await;
}
