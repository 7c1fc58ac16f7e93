//! `asset_url`: the public URL of a file under the app's `assets/`.

use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;
use crate::liquid::host::current_host;

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "asset_url",
    description = "URL of a file under assets/ (versioned by the host; /assets/<path> without one).",
    parsed(AssetUrlFilter)
)]
pub struct AssetUrl;

#[derive(Debug, Default, Display_filter)]
#[name = "asset_url"]
struct AssetUrlFilter;

impl Filter for AssetUrlFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let path = input.to_kstr();
        let path = path.trim().trim_start_matches('/');
        if input.is_nil() || path.is_empty() {
            return Err(filter_error("asset_url", "the asset path is empty"));
        }
        let url = match current_host() {
            Some(host) => host.asset_url(path),
            None => format!("/assets/{path}"),
        };
        Ok(Value::scalar(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liquid::host::with_host;
    use crate::liquid::test_support::FakeHost;
    use liquid_core::{call_filter, value};
    use std::sync::Arc;

    #[test]
    fn without_host_paths_go_under_assets() {
        assert_eq!(call_filter!(AssetUrl, "app.js").unwrap(), value!("/assets/app.js"));
        assert_eq!(
            call_filter!(AssetUrl, "/img/logo ✓.png").unwrap(),
            value!("/assets/img/logo ✓.png")
        );
    }

    #[test]
    fn with_host_the_host_decides() {
        let host = Arc::new(FakeHost::default());
        let url = with_host(host.clone(), || call_filter!(AssetUrl, "css/app.css").unwrap());
        assert_eq!(url, value!("/assets/css/app.css?v=fake"));
        assert_eq!(host.calls(), vec!["asset_url css/app.css".to_string()]);
    }

    #[test]
    fn empty_or_nil_path_is_an_error() {
        assert!(call_filter!(AssetUrl, "").is_err());
        assert!(call_filter!(AssetUrl, "/").is_err());
        assert!(call_filter!(AssetUrl, Value::Nil).is_err());
    }
}
