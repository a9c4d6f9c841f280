//! The deploy files (Dockerfile, docker-compose.yml, Upsun, Platform.sh, Railway, Heroku): each
//! parses as its platform reads it, none holds a secret, and they agree with the binary (its
//! `serve` command, `PORT`), the build's output (`target/site`) and the health path the server
//! answers.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use yaml_rust2::{Yaml, YamlLoader};

use super::helpers::spawn_app;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.remove(0)
}

/// The Dockerfile's instructions, continuation lines joined, by stage.
fn dockerfile() -> Vec<Vec<(String, String)>> {
    let text = read("Dockerfile").replace("\\\n", " ");
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        let instruction = instruction.to_ascii_uppercase();
        if instruction == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("FROM comes first")
            .push((instruction, rest.trim().to_owned()));
    }
    stages
}

fn all<'a>(stage: &'a [(String, String)], instruction: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(i, _)| i == instruction)
        .map(|(_, rest)| rest.as_str())
        .collect()
}

/// `ENV A=1 B=2` lines as pairs.
fn env_pairs(stage: &[(String, String)]) -> Vec<(String, String)> {
    all(stage, "ENV")
        .iter()
        .flat_map(|line| line.split_whitespace())
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// What a secret-looking variable may hold in a committed file: nothing, or a reference.
fn holds_no_secret(name: &str, value: &str) -> bool {
    let secretive = ["TOKEN", "SECRET", "PASSWORD", "KEY"]
        .iter()
        .any(|word| name.to_ascii_uppercase().contains(word));
    !secretive || value.is_empty() || value.starts_with("${") || value.contains(":${")
}

#[test]
fn the_dockerfile_builds_in_cached_layers_and_runs_serve_unprivileged() {
    let stages = dockerfile();
    assert!(stages.len() >= 3, "multi-stage");
    // The build tools are installed before any source is copied: a source change keeps that layer.
    let tools = &stages[0];
    let install = tools
        .iter()
        .position(|(i, rest)| i == "RUN" && rest.contains("ensure_build_tools"))
        .expect("the tools layer installs the build tools");
    assert!(
        tools[..install]
            .iter()
            .all(|(i, rest)| i != "COPY" || !rest.starts_with(". ")),
        "COPY . . before the tools install"
    );
    let text = read("Dockerfile");
    assert!(
        text.contains("cargo chef cook"),
        "dependencies are cached from the recipe"
    );
    assert!(
        text.contains("RUN scripts/build-site"),
        "the site is built by the script CI runs"
    );
    // No dependency is patched or vendored: a patch goes silently unused after a `cargo update`,
    // and the builder would have to copy every patched path before cooking the dependencies.
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    assert!(
        manifest.get("patch").is_none(),
        "Cargo.toml patches a dependency"
    );

    let runtime = stages.last().unwrap();
    let env = env_pairs(runtime);
    let get = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("ENV {name}"))
    };
    // The site the build writes is where the server looks for it.
    assert!(all(runtime, "COPY").contains(&"--from=builder /src/target/site /app/site"));
    assert!(read("scripts/build-site").contains("SITE=target/site"));
    assert_eq!(get("LEPTOS_SITE_ROOT"), "/app/site");
    assert!(
        all(runtime, "COPY").contains(&"--from=builder /src/target/release/server /app/server")
    );
    assert_eq!(all(runtime, "ENTRYPOINT"), [r#"["/app/server"]"#]);
    assert_eq!(all(runtime, "CMD"), [r#"["serve"]"#]);
    assert_eq!(all(runtime, "EXPOSE"), [get("PORT")]);
    assert_eq!(get("HOST"), "0.0.0.0");
    let volume = all(runtime, "VOLUME")[0];
    assert!(
        volume.contains(&format!("\"{}\"", get("DATA_DIR"))),
        "{volume}"
    );
    let user = all(runtime, "USER");
    assert!(user.len() == 1 && user[0] != "root" && user[0] != "0");
    assert!(all(runtime, "HEALTHCHECK")[0].contains("http://127.0.0.1:${PORT}/api/health/"));
    for (name, value) in &env {
        assert!(holds_no_secret(name, value), "Dockerfile ENV {name}");
    }
}

#[test]
fn compose_runs_the_image_on_sqlite_or_with_its_postgres() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    for name in ["web", "web-postgres"] {
        let service = &services[name];
        assert_eq!(service["build"].as_str(), Some("."), "{name}");
        assert_eq!(service["ports"][0].as_str(), Some("8000:8000"), "{name}");
        let check: Vec<&str> = service["healthcheck"]["test"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            check.contains(&"http://127.0.0.1:8000/api/health/"),
            "{name}"
        );
        assert_eq!(service["volumes"][0].as_str(), Some("tf-data:/app/data"));
        for (key, value) in service["environment"].as_hash().unwrap() {
            let (key, value) = (key.as_str().unwrap(), value.as_str().unwrap_or_default());
            assert!(holds_no_secret(key, value), "{name}: {key}={value}");
        }
    }
    assert_eq!(services["web"]["profiles"][0].as_str(), Some("sqlite"));
    let pg = &services["web-postgres"];
    assert_eq!(pg["profiles"][0].as_str(), Some("postgres"));
    assert_eq!(
        services["postgres"]["profiles"][0].as_str(),
        Some("postgres")
    );
    let url = pg["environment"]["DATABASE_URL"].as_str().unwrap();
    assert!(
        url.starts_with("postgres://track_futura:${POSTGRES_PASSWORD"),
        "{url}"
    );
    assert!(url.ends_with("@postgres:5432/track_futura"), "{url}");
    assert_eq!(
        services["postgres"]["environment"]["POSTGRES_DB"].as_str(),
        Some("track_futura")
    );
}

/// Upsun's and Platform.sh's application: the build hook's output is what the start command and
/// LEPTOS_SITE_ROOT use.
fn check_platform_app(file: &str, app: &Yaml) {
    let hook = app["hooks"]["build"].as_str().unwrap();
    assert!(hook.contains("scripts/build-site"), "{file}");
    assert!(hook.contains("cp target/release/server dist/"), "{file}");
    assert!(hook.contains("cp -r target/site dist/site"), "{file}");
    let start = app["web"]["commands"]["start"].as_str().unwrap();
    assert!(
        start.trim_end().ends_with("exec ./dist/server serve"),
        "{file}: {start}"
    );
    let env = app["variables"]["env"].as_hash().unwrap();
    let var = |name: &str| env[&Yaml::String(name.into())].as_str().unwrap();
    assert_eq!(var("LEPTOS_SITE_ROOT"), "dist/site", "{file}");
    assert_eq!(var("HOST"), "0.0.0.0", "{file}");
    for (mount, dir) in [("data", var("DATA_DIR")), ("logs", var("LOG_DIR"))] {
        assert_eq!(mount, dir, "{file}: {mount} is a persistent mount");
        assert!(!app["mounts"][mount].is_badvalue(), "{file}: mount {mount}");
    }
    for (key, _) in env {
        assert!(
            holds_no_secret(key.as_str().unwrap(), "literal"),
            "{file}: {key:?}"
        );
    }
}

/// The keys Upsun's configuration accepts where this file uses them (its schema is strict: an
/// unknown key fails the push), from Upsun's configuration reference.
const UPSUN_TOP: &[&str] = &["applications", "routes", "services"];
const UPSUN_APP: &[&str] = &[
    "resources",
    "container_profile",
    "access",
    "relationships",
    "mounts",
    "timezone",
    "variables",
    "firewall",
    "type",
    "runtime",
    "preflight",
    "dependencies",
    "build",
    "source",
    "web",
    "operations",
    "hooks",
    "crons",
    "workers",
    "additional_hosts",
    "stack",
];
const UPSUN_WEB: &[&str] = &[
    "variables",
    "timezone",
    "mounts",
    "relationships",
    "access",
    "size",
    "resources",
    "locations",
    "commands",
    "upstream",
    "document_root",
    "passthru",
    "index_files",
    "whitelist",
    "blacklist",
    "expires",
    "move_to_root",
];
const UPSUN_WEB_COMMANDS: &[&str] = &["pre_start", "start"];
const UPSUN_HOOKS: &[&str] = &["build", "deploy", "post_deploy"];
const UPSUN_BUILD: &[&str] = &["flavor"];
const UPSUN_SOURCE: &[&str] = &["root", "operations"];
const UPSUN_MOUNT: &[&str] = &["source", "source_path", "service"];
const UPSUN_MOUNT_SOURCES: &[&str] = &["instance", "service", "storage", "temporary", "tmp"];
const UPSUN_ROUTE: &[&str] = &[
    "type",
    "upstream",
    "to",
    "attributes",
    "id",
    "primary",
    "redirects",
    "tls",
    "ssi",
    "cache",
];

fn keys_within(file: &str, what: &str, map: &Yaml, allowed: &[&str]) {
    for key in map
        .as_hash()
        .unwrap_or_else(|| panic!("{file}: {what} is a map"))
        .keys()
    {
        let key = key.as_str().unwrap();
        assert!(
            allowed.contains(&key),
            "{file}: {what}.{key} is not a key Upsun accepts"
        );
    }
}

#[test]
fn the_upsun_file_keeps_to_upsuns_schema() {
    let file = ".upsun/config.yaml";
    let upsun = yaml(file);
    keys_within(file, "(top)", &upsun, UPSUN_TOP);
    for (name, app) in upsun["applications"].as_hash().unwrap() {
        let name = name.as_str().unwrap();
        keys_within(file, name, app, UPSUN_APP);
        keys_within(file, "web", &app["web"], UPSUN_WEB);
        keys_within(
            file,
            "web.commands",
            &app["web"]["commands"],
            UPSUN_WEB_COMMANDS,
        );
        keys_within(file, "hooks", &app["hooks"], UPSUN_HOOKS);
        keys_within(file, "build", &app["build"], UPSUN_BUILD);
        keys_within(file, "source", &app["source"], UPSUN_SOURCE);
        for (mount, spec) in app["mounts"].as_hash().unwrap() {
            keys_within(file, mount.as_str().unwrap(), spec, UPSUN_MOUNT);
            assert!(UPSUN_MOUNT_SOURCES.contains(&spec["source"].as_str().unwrap()));
        }
        for (var, value) in app["variables"]["env"].as_hash().unwrap() {
            assert!(value.as_str().is_some(), "{file}: env {var:?} is a string");
        }
    }
    for (url, route) in upsun["routes"].as_hash().unwrap() {
        keys_within(file, url.as_str().unwrap(), route, UPSUN_ROUTE);
        assert!(["upstream", "redirect", "proxy"].contains(&route["type"].as_str().unwrap()));
    }
}

#[test]
fn upsun_and_platform_sh_files_agree_with_the_build() {
    let upsun = yaml(".upsun/config.yaml");
    let apps = upsun["applications"].as_hash().unwrap();
    assert_eq!(apps.len(), 1);
    let (name, app) = apps.iter().next().unwrap();
    let name = name.as_str().unwrap();
    check_platform_app(".upsun/config.yaml", app);
    let route = &upsun["routes"]["https://{default}/"];
    assert_eq!(
        route["upstream"].as_str(),
        Some(format!("{name}:http").as_str())
    );
    assert_eq!(route["primary"].as_bool(), Some(true));

    let platform = yaml(".platform.app.yaml");
    check_platform_app(".platform.app.yaml", &platform);
    assert_eq!(platform["name"].as_str(), Some(name));
    let routes = yaml(".platform/routes.yaml");
    assert_eq!(
        routes["https://{default}/"]["upstream"].as_str(),
        Some(format!("{name}:http").as_str())
    );
    let services = yaml(".platform/services.yaml");
    assert!(
        services["postgresql"]["type"]
            .as_str()
            .unwrap()
            .starts_with("postgresql:")
    );
}

#[test]
fn railway_and_heroku_run_the_image_with_its_command() {
    let railway: toml::Value = toml::from_str(&read("railway.toml")).unwrap();
    assert_eq!(railway["build"]["builder"].as_str(), Some("DOCKERFILE"));
    assert_eq!(
        railway["build"]["dockerfilePath"].as_str(),
        Some("Dockerfile")
    );
    assert_eq!(
        railway["deploy"]["healthcheckPath"].as_str(),
        Some("/api/health/")
    );
    // Every start command is the image's ENTRYPOINT + CMD.
    let runtime = dockerfile().pop().unwrap();
    let entry: Vec<String> = serde_json::from_str(all(&runtime, "ENTRYPOINT")[0]).unwrap();
    let cmd: Vec<String> = serde_json::from_str(all(&runtime, "CMD")[0]).unwrap();
    let image_command = [entry, cmd].concat().join(" ");
    assert_eq!(
        railway["deploy"]["startCommand"].as_str(),
        Some(image_command.as_str())
    );
    assert_eq!(read("Procfile").trim(), format!("web: {image_command}"));
    let heroku = yaml("heroku.yml");
    assert_eq!(
        heroku["build"]["docker"]["web"].as_str(),
        Some("Dockerfile")
    );
    assert_eq!(heroku["run"]["web"].as_str(), Some(image_command.as_str()));

    let app: Json = serde_json::from_str(&read("app.json")).unwrap();
    assert_eq!(app["stack"], "container");
    for (name, spec) in app["env"].as_object().unwrap() {
        let value = spec.get("value").and_then(Json::as_str).unwrap_or_default();
        assert!(holds_no_secret(name, value), "app.json {name}");
        if name.contains("TOKEN") {
            assert_eq!(spec["generator"], "secret", "app.json {name} is generated");
        }
    }
}

#[test]
fn the_start_command_and_port_are_the_binarys() {
    // `serve` exists and reads PORT (the platforms set it).
    let dir = tempfile::tempdir().unwrap();
    let output = super::process::server(dir.path())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let output = super::process::server(dir.path())
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT"));
}

#[tokio::test]
async fn the_health_path_every_file_names_is_answered() {
    let app = spawn_app().await;
    let answer = app.get("/api/health/").await;
    assert_eq!(answer.status(), 200);
    for file in ["Dockerfile", "docker-compose.yml", "railway.toml"] {
        assert!(read(file).contains("/api/health/"), "{file}");
    }
}
