//! A production build (`--no-default-features`) has no Stripe sandbox, and
//! says how to get one when asked for it.
#![cfg(not(feature = "sandbox"))]

mod support;

#[test]
fn serve_sandbox_says_how_to_get_the_sandbox() {
    let app = support::repo_root().display().to_string();
    let serve = ["serve", "--sandbox", "--bind", "127.0.0.1:0", "--app", app.as_str()];
    let standalone = ["sandbox", "--bind", "127.0.0.1:0"];
    for args in [&serve[..], &standalone[..]] {
        let output = std::process::Command::new(support::payforms_bin())
            .args(args)
            .env("PAYFORMS_SECRET", "a-production-build-test-secret-of-enough-length")
            .output()
            .expect("run payforms");
        let printed = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must fail without the sandbox");
        assert!(
            printed.contains("built without the Stripe sandbox") && printed.contains("cargo build --release"),
            "{args:?}: {printed}"
        );
    }
}
