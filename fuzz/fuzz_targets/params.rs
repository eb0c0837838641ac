//! Request parameters: a query string and a body of either content type, parsed as Zulip's
//! views see them; every JSON accessor gets a value or Zulip's error, never a panic.
#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use zulip_presence_mock::RequestParams;

fuzz_target!(|data: &[u8]| {
    // First byte: the content type; up to the first newline: the query string; the rest: body.
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (query, body) = rest.split_at(split);
    let content_type = match kind % 3 {
        0 => "application/x-www-form-urlencoded",
        1 => "multipart/form-data; boundary=XyZ",
        _ => "text/plain",
    };
    let uri = format!("/p?{}", String::from_utf8_lossy(query));
    let Ok(request) = Request::builder()
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        if let Ok(params) = RequestParams::from_request(request, &()).await {
            let _ = params.json_bool("ping_only", false);
            let _ = params.json_int("last_update_id");
            let _ = params.required("status");
            let _ = params.ignored(&["status"]);
        }
    });
});
