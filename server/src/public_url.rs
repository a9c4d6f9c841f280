//! Where BrightData can reach this service. `BRIGHTDATA_BASE_URL` always wins; otherwise the hosting
//! platform's own variables say it (Upsun / Platform.sh, Railway, Heroku), then a running ngrok
//! tunnel when `NGROK_ENABLED`, and last this machine's address, flagged as unreachable.
//!
//! The result and how it was found are shown in the start-up banner, the self-test, the dashboard's
//! Setup page and `GET /api/brightdata/webhook/config/`. A platform variable that cannot be read
//! (a malformed `PLATFORM_ROUTES`) is a warning carried with the result, never a crash.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use url::Url;

/// The base URL BrightData should call (no trailing slash), and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub url: String,
    pub source: Source,
    /// Problems met while looking (shown wherever the URL is shown).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `BRIGHTDATA_BASE_URL`.
    Configured,
    /// `PLATFORM_ROUTES` of Upsun or Platform.sh: which route was taken.
    Platform { route: String, how: &'static str },
    /// `RAILWAY_PUBLIC_DOMAIN` or `RAILWAY_STATIC_URL`.
    Railway { variable: &'static str },
    /// `HEROKU_APP_DEFAULT_DOMAIN_NAME` or `HEROKU_APP_NAME`.
    Heroku { variable: &'static str },
    /// The https tunnel of the ngrok agent whose local API answered at this address.
    Ngrok { api: String },
    /// Nothing said otherwise: this machine's own address.
    Local,
}

impl PublicUrl {
    /// Whether BrightData, on the internet, can call this URL.
    pub fn reachable(&self) -> bool {
        !matches!(self.source, Source::Local) && !is_local(&self.url)
    }

    /// Whether the URL is https (cookies are then marked `Secure`).
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// One line for people: how the URL was found.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Configured => "BRIGHTDATA_BASE_URL".to_owned(),
            Source::Platform { route, how } => {
                format!("Upsun / Platform.sh: PLATFORM_ROUTES, {how} {route}")
            }
            Source::Railway { variable } => format!("Railway: {variable}"),
            Source::Heroku { variable } => format!("Heroku: {variable}"),
            Source::Ngrok { api } => format!("ngrok tunnel (agent API {api})"),
            Source::Local => {
                "not detected: this machine's address, unreachable from BrightData (set BRIGHTDATA_BASE_URL, or run `server ngrok start` with NGROK_ENABLED=true)".to_owned()
            }
        }
    }

    pub fn data_url(&self) -> String {
        format!("{}/api/brightdata/webhook/", self.url)
    }

    pub fn notify_url(&self) -> String {
        format!("{}/api/brightdata/notify/", self.url)
    }
}

/// Everything but ngrok, which needs a network call (`with_ngrok`). `configured` is the already
/// validated `BRIGHTDATA_BASE_URL`; `host` and `port` are what the server binds.
pub fn detect(
    configured: Option<&Url>,
    lookup: &dyn Fn(&str) -> Option<String>,
    host: IpAddr,
    port: u16,
) -> PublicUrl {
    let var = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    // Problems with earlier sources stay with whatever is found after them.
    let found = |url: String, source, warnings| PublicUrl {
        url: url.trim_end_matches('/').to_owned(),
        source,
        warnings,
    };
    if let Some(url) = configured {
        return found(url.to_string(), Source::Configured, Vec::new());
    }
    let mut warnings = Vec::new();
    if let Some(routes) = var("PLATFORM_ROUTES") {
        let app = var("PLATFORM_APPLICATION_NAME");
        match platform_route(&routes, app.as_deref()) {
            Ok((url, route, how)) => {
                return found(url, Source::Platform { route, how }, warnings);
            }
            Err(problem) => warnings.push(format!("PLATFORM_ROUTES: {problem}")),
        }
    }
    for variable in ["RAILWAY_PUBLIC_DOMAIN", "RAILWAY_STATIC_URL"] {
        if let Some(domain) = var(variable) {
            match https_of_domain(&domain) {
                Some(url) => return found(url, Source::Railway { variable }, warnings),
                None => warnings.push(format!("{variable}={domain:?} is not a domain name")),
            }
        }
    }
    if let Some(domain) = var("HEROKU_APP_DEFAULT_DOMAIN_NAME") {
        let variable = "HEROKU_APP_DEFAULT_DOMAIN_NAME";
        match https_of_domain(&domain) {
            Some(url) => return found(url, Source::Heroku { variable }, warnings),
            None => warnings.push(format!("{variable}={domain:?} is not a domain name")),
        }
    }
    if let Some(name) = var("HEROKU_APP_NAME") {
        match https_of_domain(&format!("{name}.herokuapp.com")) {
            Some(url) => {
                // Apps created since late 2023 have a random suffix in their domain; only the
                // dyno metadata's HEROKU_APP_DEFAULT_DOMAIN_NAME names it.
                warnings.push(format!(
                    "HEROKU_APP_NAME gives {url}, which is only right for older apps: run `heroku labs:enable runtime-dyno-metadata` for HEROKU_APP_DEFAULT_DOMAIN_NAME, or set BRIGHTDATA_BASE_URL"
                ));
                let variable = "HEROKU_APP_NAME";
                return found(url, Source::Heroku { variable }, warnings);
            }
            None => warnings.push(format!("HEROKU_APP_NAME={name:?} is not an app name")),
        }
    }
    found(local_url(host, port), Source::Local, warnings)
}

/// This machine's URL for a bound address (`localhost` for any or a loopback address).
pub fn local_url(host: IpAddr, port: u16) -> String {
    let shown = match host {
        ip if ip.is_unspecified() || ip.is_loopback() => "localhost".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{shown}:{port}")
}

/// The public URL of a service bound to `port`: the detected one (a local one names the bound
/// port: `PORT=0` binds another than the configured), then, with `NGROK_ENABLED`, a running ngrok
/// agent's tunnel in place of a local result. What the service and the command-line tools use.
pub async fn in_effect(config: &crate::config::Config, port: u16) -> PublicUrl {
    let http = &config.http;
    let platform_var = |name: &str| {
        http.platform_vars
            .iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    };
    let mut public = detect(http.public_url.as_ref(), &platform_var, http.host, port);
    if config.ngrok.enabled {
        public = with_ngrok(public, config.ngrok.api_url.as_str(), port).await;
    }
    public
}

/// Replaces a local result by the https tunnel of a running ngrok agent (its local API at
/// `api`, e.g. `http://127.0.0.1:4040`), preferring the tunnel that forwards to `port`. Anything
/// else is left alone. No tunnel found is a warning.
pub async fn with_ngrok(detected: PublicUrl, api: &str, port: u16) -> PublicUrl {
    if detected.source != Source::Local {
        return detected;
    }
    let mut result = detected;
    match crate::ngrok::https_tunnel(api, port, Duration::from_secs(2)).await {
        Ok(Some(url)) => {
            result.url = url.trim_end_matches('/').to_owned();
            result.source = Source::Ngrok {
                api: api.to_owned(),
            };
        }
        Ok(None) => result.warnings.push(format!(
            "NGROK_ENABLED, but the ngrok agent at {api} has no https tunnel: run `server ngrok start`"
        )),
        Err(error) => result.warnings.push(format!(
            "NGROK_ENABLED, but no ngrok agent answered at {api} ({error}): run `server ngrok start`"
        )),
    }
    result
}

/// `example.up.railway.app` (or with a scheme) as `https://example.up.railway.app`.
fn https_of_domain(value: &str) -> Option<String> {
    let host = value
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let url = Url::parse(&format!("https://{host}")).ok()?;
    let plain = url.path() == "/" && url.query().is_none() && url.port().is_none();
    (plain && url.host_str() == Some(host)).then(|| format!("https://{host}"))
}

/// One route of the `PLATFORM_ROUTES` document.
#[derive(Debug, Deserialize)]
struct Route {
    #[serde(default)]
    primary: Option<bool>,
    #[serde(rename = "type")]
    kind: String,
    /// `app` or `app:http`.
    #[serde(default)]
    upstream: Option<String>,
}

/// The routes in document order (a JSON object's order matters: "the first https route").
struct Routes(Vec<(String, Route)>);

impl<'de> Deserialize<'de> for Routes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Routes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of routes by URL")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Routes, A::Error> {
                let mut routes = Vec::new();
                while let Some(entry) = map.next_entry::<String, Route>()? {
                    routes.push(entry);
                }
                Ok(Routes(routes))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The public URL from Upsun's / Platform.sh's `PLATFORM_ROUTES` (base64 of a JSON object of
/// routes by their resolved URL): the primary route when it serves this application, else the
/// first https route that does, else the first http one. `app` is `PLATFORM_APPLICATION_NAME`;
/// without it any application's route counts.
fn platform_route(
    encoded: &str,
    app: Option<&str>,
) -> Result<(String, String, &'static str), String> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    let Routes(routes) =
        serde_json::from_slice(&json).map_err(|e| format!("not a JSON object of routes ({e})"))?;
    let serves_app = |route: &Route| {
        route.kind == "upstream"
            && match (app, route.upstream.as_deref()) {
                (Some(app), Some(upstream)) => upstream.split(':').next() == Some(app),
                (None, _) => true,
                (Some(_), None) => false,
            }
    };
    let usable = |url: &str| Url::parse(url).is_ok_and(|u| u.host_str().is_some());
    if let Some((url, _)) = routes
        .iter()
        .find(|(url, r)| r.primary == Some(true) && serves_app(r) && usable(url))
    {
        return Ok((url.clone(), url.clone(), "the primary route"));
    }
    for (scheme, how) in [
        ("https://", "the first https route of this application"),
        (
            "http://",
            "the first http route of this application (no https route)",
        ),
    ] {
        if let Some((url, _)) = routes
            .iter()
            .find(|(url, r)| url.starts_with(scheme) && serves_app(r) && usable(url))
        {
            return Ok((url.clone(), url.clone(), how));
        }
    }
    Err(format!(
        "none of its {} routes serves the application {}",
        routes.len(),
        app.unwrap_or("(PLATFORM_APPLICATION_NAME unset)")
    ))
}

/// Whether a URL points at this machine or a private network, where BrightData cannot call.
pub fn is_local(url: &str) -> bool {
    let Some(host) = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return true;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
        Err(_) => host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use super::*;

    const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    fn detect_with(vars: &[(&str, &str)]) -> PublicUrl {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(None, &|name| map.get(name).cloned(), ANY, 8000)
    }

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// A routes document as Platform.sh / Upsun set it: a redirect, two apps, the primary route
    /// pointing at another app, https routes after http ones.
    const ROUTES: &str = r#"{
        "http://main-abc123-xyz.eu-3.platformsh.site/": {
            "primary": false, "id": null, "type": "redirect",
            "to": "https://main-abc123-xyz.eu-3.platformsh.site/",
            "original_url": "http://{default}/", "attributes": {}, "restrict_robots": true
        },
        "https://admin.main-abc123-xyz.eu-3.platformsh.site/": {
            "primary": true, "id": "admin", "type": "upstream", "upstream": "admin",
            "original_url": "https://admin.{default}/", "attributes": {}, "restrict_robots": true,
            "cache": {"enabled": true, "default_ttl": 0, "cookies": ["*"], "headers": ["Accept"]}
        },
        "http://hooks.main-abc123-xyz.eu-3.platformsh.site/": {
            "primary": false, "id": null, "type": "upstream", "upstream": "track-futura",
            "original_url": "http://hooks.{default}/", "attributes": {}
        },
        "https://hooks.main-abc123-xyz.eu-3.platformsh.site/": {
            "primary": false, "id": "hooks", "type": "upstream", "upstream": "track-futura",
            "original_url": "https://hooks.{default}/", "attributes": {}
        },
        "https://hooks2.main-abc123-xyz.eu-3.platformsh.site/": {
            "primary": false, "id": null, "type": "upstream", "upstream": "track-futura",
            "original_url": "https://hooks2.{default}/", "attributes": {}
        }
    }"#;

    #[test]
    fn configured_url_wins_over_every_platform() {
        let url = Url::parse("https://hooks.example.com/base/").unwrap();
        let map: HashMap<&str, String> = [
            ("PLATFORM_ROUTES", b64(ROUTES)),
            ("RAILWAY_PUBLIC_DOMAIN", "x.up.railway.app".into()),
        ]
        .into_iter()
        .collect();
        let found = detect(Some(&url), &|n| map.get(n).cloned(), ANY, 8000);
        assert_eq!(found.url, "https://hooks.example.com/base");
        assert_eq!(found.source, Source::Configured);
        assert!(found.reachable());
        assert_eq!(
            found.data_url(),
            "https://hooks.example.com/base/api/brightdata/webhook/"
        );
        assert_eq!(
            found.notify_url(),
            "https://hooks.example.com/base/api/brightdata/notify/"
        );
    }

    #[test]
    fn platform_routes_take_this_apps_first_https_route_when_the_primary_is_another_app() {
        let found = detect_with(&[
            ("PLATFORM_ROUTES", &b64(ROUTES)),
            ("PLATFORM_APPLICATION_NAME", "track-futura"),
            ("PLATFORM_ENVIRONMENT", "main-abc123"),
        ]);
        assert_eq!(
            found.url,
            "https://hooks.main-abc123-xyz.eu-3.platformsh.site"
        );
        assert!(matches!(
            found.source,
            Source::Platform {
                how: "the first https route of this application",
                ..
            }
        ));
        assert!(found.reachable() && found.is_https() && found.warnings.is_empty());
    }

    #[test]
    fn platform_routes_take_the_primary_route_of_this_app() {
        let found = detect_with(&[
            ("PLATFORM_ROUTES", &b64(ROUTES)),
            ("PLATFORM_APPLICATION_NAME", "admin"),
        ]);
        assert_eq!(
            found.url,
            "https://admin.main-abc123-xyz.eu-3.platformsh.site"
        );
        assert!(matches!(
            found.source,
            Source::Platform {
                how: "the primary route",
                ..
            }
        ));
    }

    #[test]
    fn platform_routes_accept_upstreams_written_with_their_endpoint() {
        let routes = r#"{"https://www.example.org/": {"primary": true, "type": "upstream", "upstream": "app:http"}}"#;
        let found = detect_with(&[
            ("PLATFORM_ROUTES", &b64(routes)),
            ("PLATFORM_APPLICATION_NAME", "app"),
        ]);
        assert_eq!(found.url, "https://www.example.org");
    }

    #[test]
    fn platform_routes_fall_back_to_http_when_the_app_has_no_https_route() {
        let routes = r#"{"http://a.example.org/": {"type": "upstream", "upstream": "app"}}"#;
        let found = detect_with(&[
            ("PLATFORM_ROUTES", &b64(routes)),
            ("PLATFORM_APPLICATION_NAME", "app"),
        ]);
        assert_eq!(found.url, "http://a.example.org");
        assert!(found.reachable() && !found.is_https());
    }

    #[test]
    fn malformed_platform_routes_are_a_warning_and_the_next_source_is_used() {
        for (value, problem) in [
            ("%%%not base64", "not base64"),
            (&b64("[1, 2]")[..], "not a JSON object of routes"),
            (
                &b64("{\"https://x/\": {\"primary\": true}}")[..],
                "not a JSON object of routes",
            ),
            (
                &b64(r#"{"https://a.example.org/": {"type": "upstream", "upstream": "other"}}"#)[..],
                "none of its 1 routes serves the application track-futura",
            ),
        ] {
            let found = detect_with(&[
                ("PLATFORM_ROUTES", value),
                ("PLATFORM_APPLICATION_NAME", "track-futura"),
            ]);
            assert_eq!(found.source, Source::Local, "{value}");
            assert!(!found.reachable());
            assert_eq!(found.warnings.len(), 1, "{value}");
            assert!(
                found.warnings[0].starts_with("PLATFORM_ROUTES: "),
                "{:?}",
                found.warnings
            );
            assert!(
                found.warnings[0].contains(problem),
                "{:?} for {value}",
                found.warnings
            );
            // The next platform still counts.
            let found = detect_with(&[
                ("PLATFORM_ROUTES", value),
                ("PLATFORM_APPLICATION_NAME", "track-futura"),
                ("RAILWAY_PUBLIC_DOMAIN", "tf.up.railway.app"),
            ]);
            assert_eq!(found.url, "https://tf.up.railway.app");
            assert_eq!(found.warnings.len(), 1);
        }
    }

    #[test]
    fn railway_public_domain_then_the_older_static_url() {
        let found = detect_with(&[
            (
                "RAILWAY_PUBLIC_DOMAIN",
                "track-futura-production.up.railway.app",
            ),
            ("RAILWAY_STATIC_URL", "old.up.railway.app"),
        ]);
        assert_eq!(found.url, "https://track-futura-production.up.railway.app");
        assert_eq!(
            found.source,
            Source::Railway {
                variable: "RAILWAY_PUBLIC_DOMAIN"
            }
        );
        let found = detect_with(&[("RAILWAY_STATIC_URL", "https://old.up.railway.app/")]);
        assert_eq!(found.url, "https://old.up.railway.app");
        assert_eq!(
            found.source,
            Source::Railway {
                variable: "RAILWAY_STATIC_URL"
            }
        );
        let found = detect_with(&[("RAILWAY_PUBLIC_DOMAIN", "not a domain/x")]);
        assert_eq!(found.source, Source::Local);
        assert!(found.warnings[0].contains("RAILWAY_PUBLIC_DOMAIN"));
    }

    #[test]
    fn heroku_default_domain_then_app_name_with_a_warning() {
        let found = detect_with(&[
            (
                "HEROKU_APP_DEFAULT_DOMAIN_NAME",
                "track-futura-1a2b3c4d5e6f.herokuapp.com",
            ),
            ("HEROKU_APP_NAME", "track-futura"),
            ("DYNO", "web.1"),
        ]);
        assert_eq!(found.url, "https://track-futura-1a2b3c4d5e6f.herokuapp.com");
        assert!(found.warnings.is_empty());
        let found = detect_with(&[("HEROKU_APP_NAME", "track-futura"), ("DYNO", "web.1")]);
        assert_eq!(found.url, "https://track-futura.herokuapp.com");
        assert_eq!(
            found.source,
            Source::Heroku {
                variable: "HEROKU_APP_NAME"
            }
        );
        assert!(found.warnings[0].contains("runtime-dyno-metadata"));
    }

    #[test]
    fn nothing_set_is_this_machine_flagged_unreachable() {
        let found = detect_with(&[]);
        assert_eq!(found.url, "http://localhost:8000");
        assert_eq!(found.source, Source::Local);
        assert!(!found.reachable());
        assert!(found.describe().contains("unreachable"));
        let found = detect(None, &|_| None, "10.1.2.3".parse().unwrap(), 9000);
        assert_eq!(found.url, "http://10.1.2.3:9000");
        let found = detect(None, &|_| None, "2001:db8::1".parse().unwrap(), 9000);
        assert_eq!(found.url, "http://[2001:db8::1]:9000");
        assert!(!found.reachable(), "Local is never reachable");
    }

    #[test]
    fn local_and_private_hosts_are_not_reachable() {
        for url in [
            "http://localhost:8000",
            "http://127.0.0.1",
            "http://10.0.0.5",
            "http://192.168.1.2",
            "http://[::1]:8000",
            "http://[fd00::1]",
            "http://box.local",
            "not a url",
        ] {
            assert!(is_local(url), "{url}");
        }
        for url in [
            "https://hooks.example.com",
            "http://203.0.113.7",
            "https://[2001:db8::1]",
        ] {
            assert!(!is_local(url), "{url}");
        }
    }
}
