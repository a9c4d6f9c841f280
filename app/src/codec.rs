//! How a section's data travels from the server's first paint into the hydrating page.
//!
//! Leptos' default resource codec reads the page's JSON with `serde_json::from_str`, while a server
//! function's answer is read with `serde_json::from_slice`. The two are separate instantiations of
//! every view type's deserializer in the WASM; a section that hydrates and then reloads needs both.
//! Reading the hydration data as bytes too leaves one copy of each.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON, always read as bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A section's data: loaded on the server for the first paint, read by the page as it hydrates,
/// reloaded by the browser whenever `source` changes.
pub type Data<T> = Resource<T, Json>;

/// [`Resource::new`] with this module's codec.
#[track_caller]
pub fn data<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Data<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_server_encodes_the_page_decodes() {
        let value: Result<Vec<(String, i64)>, String> = Ok(vec![("é \"q\"".into(), -3)]);
        let text = <Json as Encoder<_>>::encode(&value).unwrap();
        let back: Result<Vec<(String, i64)>, String> = <Json as Decoder<_>>::decode(&text).unwrap();
        assert_eq!(back, value);
        assert!(<Json as Decoder<Vec<i64>>>::decode("[1,").is_err());
    }
}
