//! platformOS Liquid syntax on a real page: the fixture app
//! `tests/fixtures/platformos_liquid` is served by the binary and its page
//! uses quoted names, `include` with/for, `render`, `{% liquid %}`,
//! `function`/`return`, `hash_assign` and the platformOS filters; each
//! paragraph's HTML is checked. A broken `{% liquid %}` line is reported by
//! `payforms check` at its own file line.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{client, copy_app, payforms_bin, ServerOptions, TestServer};

fn fixture() -> PathBuf {
    support::repo_root().join("tests/fixtures/platformos_liquid")
}

/// The inner HTML of the element with `id` (the fixture keeps each on one
/// line, without nested elements of the same tag).
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("<{tag} id=\"{id}\">");
    let start = html.find(&open).unwrap_or_else(|| panic!("no #{id} in {html}")) + open.len();
    let end = html[start..].find(&format!("</{tag}>")).expect("closed") + start;
    &html[start..end]
}

#[test]
fn a_page_written_in_platformos_liquid_renders() {
    let server = TestServer::start(ServerOptions::new(fixture()));
    let response = client()
        .get(server.url("/platformos_liquid"))
        .send()
        .expect("GET the page");
    assert_eq!(response.status(), 200);
    let html = response.text().unwrap();

    // The captured text was escaped when captured; html_safe prints it once.
    assert_eq!(element(&html, "p", "quoted"), "sig=PL/Zoë &amp; Co.");
    assert_eq!(
        element(&html, "div", "include-with"),
        "<label>Country*</label><input value=\"PL\">\n<label>Zip</label><input value=\"00-950\">\n"
    );
    assert_eq!(
        element(&html, "ul", "include-for"),
        "<li>2:paid:usd</li>\n<li>1:open:usd</li>\n<li>3:paid:usd</li>\n"
    );
    assert_eq!(element(&html, "p", "render"), "only-args\n<li>2:paid:eur</li>\n");
    assert_eq!(element(&html, "p", "liquid"), "total=1500&lt;b&gt;%}&lt;/b&gt; ECHOED");
    assert_eq!(element(&html, "p", "function"), "3/3/paid/isolated");
    assert_eq!(
        element(&html, "p", "hash_assign"),
        "customer[name]=Zo%C3%AB&amp;id=7&amp;items[]=2&amp;items[]=1&amp;items[]=3&amp;note=x+y"
    );
    assert_eq!(element(&html, "p", "hashes"), "customer,id,items,note|3|Zoë|5");
    assert_eq!(element(&html, "p", "arrays"), "1,2,3|1000|1|open,paid|0,2,1,3|true|1");
    assert_eq!(element(&html, "p", "values"), "Hash|Array|Integer|true|3");
    assert_eq!(
        element(&html, "p", "text"),
        "zoe-co|Card Number|Customer|900150983cd24fb0d6963f7d28e17f72|a9993e364706816aba3e25717850c26c9cd0d89d|dXNlcjpwYXNz|Zoë ✓"
    );
}

#[test]
fn a_partial_that_includes_itself_fails_the_page_not_the_server() {
    let app = copy_app(fixture());
    std::fs::write(
        app.path().join("templates/partials/loop.liquid"),
        "x{% include 'loop' %}",
    )
    .unwrap();
    std::fs::write(app.path().join("templates/pages/loop.liquid"), "{% include 'loop' %}").unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()));
    let looping = client().get(server.url("/loop")).send().expect("GET /loop");
    assert_eq!(looping.status(), 500);
    // The log says why (it is written as the page fails; wait for it).
    support::wait_for("the nesting error in the log", Duration::from_secs(10), || {
        let log = server.log_text();
        (log.contains("levels deep") && log.contains("loop")).then_some(())
    });
    let page = client()
        .get(server.url("/platformos_liquid"))
        .send()
        .expect("GET the page");
    assert_eq!(page.status(), 200);
}

#[test]
fn check_reports_a_bad_line_of_a_liquid_block_at_its_file_line() {
    let app = copy_app(fixture());
    let page = app.path().join("templates/pages/broken.liquid");
    std::fs::write(
        &page,
        "---\nmetadata:\n  title: Broken\n---\n<p>one</p>\n{% liquid\n  assign x = 1\n  # note\n  no_such_tag x\n%}\n",
    )
    .unwrap();
    let output = Command::new(payforms_bin())
        .arg("check")
        .arg("--app")
        .arg(app.path())
        .output()
        .expect("run payforms check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("templates/pages/broken.liquid:9"),
        "the problem should name line 9: {stdout}"
    );
}
