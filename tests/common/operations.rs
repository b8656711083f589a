//! The collector's `/debug/operations` list, and one line per operation for comparisons.

use std::net::SocketAddr;

use serde_json::Value;

/// `side method [target] ok|error:<type>`, the shape expectations are written in.
pub fn line(op: &Value) -> String {
    let mut s = format!(
        "{} {}",
        op["side"].as_str().unwrap(),
        op["method"].as_str().unwrap()
    );
    if let Some(target) = op["target"].as_str() {
        s.push(' ');
        s.push_str(target);
    }
    match op["error_type"].as_str() {
        None => s.push_str(" ok"),
        Some(kind) => s.push_str(&format!(" error:{kind}")),
    }
    s
}

/// The sorted lines of `operations` whose service satisfies `keep`.
pub fn sorted_lines(operations: &[Value], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines: Vec<String> = operations
        .iter()
        .filter(|op| keep(op["service"].as_str().unwrap_or_default()))
        .map(line)
        .collect();
    lines.sort();
    lines
}

/// `/debug/operations` once.
pub async fn fetch(admin: SocketAddr) -> Vec<Value> {
    reqwest::get(format!("http://{admin}/debug/operations"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `/debug/operations` once it holds at least `count` operations (or after 5 s: the
/// caller's assertions then say what is missing). Processes flush on exit and the
/// collector processes asynchronously, hence the wait.
pub async fn wait_for(admin: SocketAddr, count: usize) -> Vec<Value> {
    let mut operations = fetch(admin).await;
    for _ in 0..100 {
        if operations.len() >= count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        operations = fetch(admin).await;
    }
    operations
}
