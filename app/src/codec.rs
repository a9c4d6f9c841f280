//! How the dashboard's data travels from the server to the page: as a server function's answer
//! ([`ViewJson`]) and as the data of the server's first paint that the page hydrates from
//! ([`Json`], the codec of a section's [`Data`]).
//!
//! The server writes JSON with serde. The page reads it with miniserde: serde's derived
//! deserializers are generic, so every view type brought its own copy of the JSON parser's
//! struct, sequence and option code into the WASM (~100 KB of the code after optimisation);
//! miniserde's are a few small functions per type around one shared, non-generic parser. Both read
//! the same field names (the view types derive both, and neither renames a field); the round trip
//! of every view type is tested below. Every type that crosses is a struct (or an enum without
//! data, read as its name), so miniserde's derived readers serve them all and no serde
//! deserializer is left in the page.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use leptos::server_fn::codec::Post;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;

use crate::error::{DashboardError, ErrorKind};

/// A server function's answer: JSON written by serde, read by miniserde.
pub struct ViewEncoding;

/// The `output` of every dashboard server function (and the encoding of their errors and of the
/// live stream's updates).
pub type ViewJson = Post<ViewEncoding>;

impl ContentType for ViewEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for ViewEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for ViewEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, serde_json::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: miniserde::Deserialize> Decodes<T> for ViewEncoding {
    type Error = String;

    fn decode(bytes: Bytes) -> Result<T, String> {
        read_view(&bytes)
    }
}

/// A view type from JSON text.
fn read_view<T: miniserde::Deserialize>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the answer is not UTF-8".to_owned())?;
    miniserde::json::from_str(text).map_err(|_| "the answer is not the expected JSON".to_owned())
}

/// A server function's errors travel as its answers do.
impl FromServerFnError for DashboardError {
    type Encoder = ViewEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::new(ErrorKind::Transport, value.to_string())
    }
}

/// A section's answer in the server's first paint: `ok ` and the view, or `err ` and the error.
pub struct Json;

const OK: &str = "ok ";
const ERR: &str = "err ";

impl<T: Serialize> Encoder<Result<T, DashboardError>> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &Result<T, DashboardError>) -> Result<String, serde_json::Error> {
        Ok(match value {
            Ok(view) => OK.to_owned() + &serde_json::to_string(view)?,
            Err(error) => ERR.to_owned() + &serde_json::to_string(error)?,
        })
    }
}

impl<T: miniserde::Deserialize> Decoder<Result<T, DashboardError>> for Json {
    type Error = String;
    type Encoded = str;

    fn decode(text: &str) -> Result<Result<T, DashboardError>, String> {
        if let Some(view) = text.strip_prefix(OK) {
            read_view(view.as_bytes()).map(Ok)
        } else if let Some(error) = text.strip_prefix(ERR) {
            read_view(error.as_bytes()).map(Err)
        } else {
            Err("neither an answer nor an error".to_owned())
        }
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
) -> Data<Result<T, DashboardError>>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + miniserde::Deserialize + Send + Sync + 'static,
    Fut: Future<Output = Result<T, DashboardError>> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    /// Written by the server's serde, read by the page's miniserde, equal.
    fn round_trip<T: Serialize + miniserde::Deserialize + PartialEq + Debug>(value: T) {
        let json = serde_json::to_vec(&value).unwrap();
        let back: T = <ViewEncoding as Decodes<T>>::decode(Bytes::from(json.clone()))
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&json)));
        assert_eq!(back, value);
    }

    fn event(id: i64, full: bool) -> EventView {
        let some = |s: &str| full.then(|| s.to_owned());
        EventView {
            id,
            at_ms: 1_764_000_000_000 + id,
            endpoint: "webhook".into(),
            outcome: "accepted".into(),
            status: 200,
            latency_us: 1234,
            bytes: 5678,
            client_ip: some("203.0.113.9"),
            user_agent: some("BrightData \"quoted\" \u{e9}\\ <script>"),
            snapshot_id: some("s_abc"),
            platform: some("instagram"),
            records: full.then_some(12),
            delivery_id: full.then_some(-3),
            error: some("line\nbreak"),
        }
    }

    fn metrics(requests: i64) -> MetricsView {
        MetricsView {
            window: "1h".into(),
            from_ms: 1,
            to_ms: 2,
            requests,
            accepted: 3,
            duplicates: 1,
            rejected: 2,
            by_outcome: BTreeMap::from([("accepted".into(), 3), ("rate_limited".into(), 2)]),
            success_rate: 0.625,
            error_rate: 1.0 / 3.0,
            authenticated: 5,
            authenticated_error_rate: 1e-9,
            latency: LatencyView {
                p50_ms: 0.5,
                p95_ms: 12.25,
                p99_ms: 1e6,
                max_ms: 2.0,
                mean_ms: 0.0,
            },
            throughput: ThroughputView {
                per_minute_mean: 0.1,
                per_minute_peak: 7.0,
                series: vec![BucketCount {
                    at_ms: 60_000,
                    span_ms: 60_000,
                    requests: 4,
                }],
            },
            bytes: i64::MAX,
            records: i64::MIN,
            by_platform: vec![PlatformView {
                platform: "tiktok".into(),
                requests: 1,
                accepted: 1,
                records: 9,
                bytes: 10,
            }],
            by_snapshot: vec![SnapshotCountView {
                snapshot_id: "s_1".into(),
                requests: 1,
                records: 2,
            }],
        }
    }

    fn alert(acknowledged: bool) -> AlertView {
        AlertView {
            id: 7,
            rule: "error_rate".into(),
            subject: "webhook".into(),
            severity: "critical".into(),
            message: "error rate 40%".into(),
            status: "open".into(),
            first_seen_ms: 10,
            last_seen_ms: 20,
            count: 3,
            resolved_ms: acknowledged.then_some(30),
            acknowledged_by: acknowledged.then(|| "ops".into()),
            acknowledged_ms: acknowledged.then_some(25),
        }
    }

    fn delivery(full: bool) -> DeliveryView {
        DeliveryView {
            id: 4,
            snapshot_id: full.then(|| "s_abc".into()),
            filename: full.then(|| "part-1.json.gz".into()),
            state: "stored".into(),
            format: "json".into(),
            compressed: full,
            wire_bytes: 100,
            inflated_bytes: 1000,
            records: 6,
            input_errors: 4,
            malformed: 0,
            duplicates: full.then_some(2),
            received_ms: 5,
            processed_ms: full.then_some(6),
            error: full.then(|| "x".into()),
            body_kept: !full,
        }
    }

    fn post(full: bool) -> PostView {
        PostView {
            platform: "facebook".into(),
            post_id: "p1".into(),
            url: full.then(|| "https://example.com/p/1".into()),
            author: full.then(|| "someone".into()),
            posted_ms: full.then_some(1),
            likes: full.then_some(2),
            comments: full.then_some(3),
            shares: full.then_some(4),
            views: full.then_some(5),
            times_delivered: 2,
        }
    }

    fn snapshot(full: bool) -> SnapshotView {
        SnapshotView {
            id: "s_abc".into(),
            dataset_id: full.then(|| "gd_1".into()),
            platform: full.then(|| "linkedin".into()),
            status: "failed".into(),
            error: full.then(|| "quota".into()),
            records: 1,
            input_errors: 2,
            deliveries: 3,
            created_ms: 4,
            updated_ms: 5,
            notified_ms: full.then_some(6),
            ready_ms: full.then_some(7),
            delivered_ms: full.then_some(8),
            finished_ms: full.then_some(9),
            completeness: if full {
                CompletenessView {
                    verdict: "incomplete".into(),
                    expected_records: Some(10),
                    expected_errors: Some(1),
                    received_records: Some(7),
                    missing: Some(3),
                    note: "3 of 10 records missing".into(),
                    checked_ms: Some(10),
                    redelivery_ms: Some(11),
                }
            } else {
                CompletenessView {
                    verdict: "pending".into(),
                    ..CompletenessView::default()
                }
            },
            drift: DriftView {
                verdict: if full { "drift" } else { "pending" }.into(),
                fields: if full {
                    vec!["linkedin:likes".into()]
                } else {
                    vec![]
                },
                checked_ms: full.then_some(12),
            },
        }
    }

    fn coverage() -> PlatformCoverageView {
        PlatformCoverageView {
            platform: "linkedin".into(),
            records: 40,
            verdict: "drift".into(),
            note: "1 field drifted".into(),
            baseline_snapshots: 5,
            fields: vec![
                FieldCoverageView {
                    field: "likes".into(),
                    coverage: 0.0,
                    baseline: Some(1.0),
                    kind: String::new(),
                    baseline_kind: Some("number".into()),
                    key: true,
                    change: Some("emptied".into()),
                    note: Some("likes: filled in 0% of 40 records (usually 100%)".into()),
                },
                FieldCoverageView {
                    field: "tags".into(),
                    coverage: 0.25,
                    baseline: None,
                    kind: "array".into(),
                    baseline_kind: None,
                    key: false,
                    change: None,
                    note: None,
                },
            ],
        }
    }

    #[test]
    fn every_view_type_reads_back_what_the_server_wrote() {
        let health = HealthView {
            status: "degraded".into(),
            reasons: vec![HealthReason {
                check: "error_rate".into(),
                status: "warning".into(),
                message: "12%".into(),
            }],
            error_rate: 0.12,
            p95_ms: 3.5,
            requests_5m: 9,
            last_accepted_ms: Some(1),
            disk_free_bytes: Some(u64::MAX),
            open_critical_alerts: 0,
            version: "0.1.0".into(),
            uptime_s: 60,
        };
        round_trip(HealthView {
            last_accepted_ms: None,
            disk_free_bytes: None,
            ..health.clone()
        });
        let bucket = AnalyticsBucket {
            at_ms: 0,
            span_ms: 60_000,
            requests: 5,
            accepted: 4,
            rejected: 1,
            authenticated: 4,
            authenticated_failed: 0,
            records: 30,
            p50_ms: 1.5,
            p95_ms: 2.5,
            p99_ms: 3.5,
        };
        round_trip(OverviewView {
            window: "24h".into(),
            metrics: metrics(8),
            previous: MetricsView::default(),
            health,
            open_alerts: 1,
            error_threshold: 0.1,
            bucket: "hour".into(),
            buckets: vec![bucket.clone(), bucket],
            latest_events: vec![event(1, true), event(2, false)],
            alerts: vec![alert(false), alert(true)],
        });
        round_trip(EventPage {
            events: vec![event(3, true)],
            next_cursor: Some("c".into()),
        });
        round_trip(EventPage::default());
        round_trip(EventDetailView {
            event: event(4, true),
            headers: Some(vec![
                HeaderView {
                    name: "content-type".into(),
                    values: vec!["application/json".into()],
                },
                HeaderView {
                    name: "x-twice".into(),
                    values: vec!["a".into(), "b".into()],
                },
                HeaderView {
                    name: "x-none".into(),
                    values: vec![],
                },
            ]),
            delivery: Some(delivery(true)),
            body: Some(BodyView {
                encoding: "gzip".into(),
                stored_bytes: 12,
                readable: true,
                truncated: false,
                text: "[{\"a\": \"<img onerror=x>\"}]".into(),
            }),
            posts: vec![post(true), post(false)],
        });
        round_trip(EventDetailView {
            event: event(5, false),
            headers: None,
            delivery: None,
            body: None,
            posts: vec![],
        });
        round_trip(ReplayView {
            status: "stored".into(),
            delivery_id: 4,
        });
        round_trip(SnapshotPage {
            snapshots: vec![snapshot(true), snapshot(false)],
            next_cursor: None,
        });
        round_trip(SnapshotDetailView {
            snapshot: snapshot(true),
            stored_posts: 2,
            deliveries: vec![delivery(false)],
            notifications: vec![NotificationView {
                id: 1,
                status: "ready".into(),
                notified_status: "ready".into(),
                error: None,
                received_ms: 3,
            }],
            input_errors: vec![InputErrorView {
                id: 1,
                delivery_id: 4,
                kind: "dead_page".into(),
                code: Some("404".into()),
                message: "gone".into(),
                input_url: None,
                at_ms: 5,
            }],
            posts: vec![post(true)],
            can_redeliver: true,
            coverage: vec![coverage()],
        });
        round_trip(SnapshotDetailView {
            snapshot: snapshot(false),
            stored_posts: 0,
            deliveries: vec![],
            notifications: vec![],
            input_errors: vec![],
            posts: vec![],
            can_redeliver: false,
            coverage: vec![],
        });
        round_trip(vec![CoverageHistoryView {
            platform: "linkedin".into(),
            fields: vec!["likes".into(), "url".into()],
            snapshots: vec![CoveragePointView {
                snapshot_id: "s_1".into(),
                created_ms: 3,
                verdict: "normal".into(),
                coverage: vec![1.0, 0.5],
            }],
        }]);
        round_trip(RedeliveryView {
            snapshot_id: "s_1".into(),
            delivery_id: Some("d_1".into()),
            asked_ms: 5,
        });
        round_trip(RedeliveryView {
            snapshot_id: "s_1".into(),
            delivery_id: None,
            asked_ms: 5,
        });
        round_trip(AlertList {
            alerts: vec![alert(true)],
        });
        round_trip(alert(false));
        round_trip(SelfTestReport {
            passed: false,
            checks: vec![SelfTestCheck {
                name: "token".into(),
                description: "d".into(),
                expected: "401".into(),
                actual: "200".into(),
                passed: false,
            }],
            warnings: vec![SelfTestWarning {
                setting: "BRIGHTDATA_BASE_URL".into(),
                severity: "info".into(),
                message: "m".into(),
            }],
        });
        round_trip(SetupView {
            base_url: "https://x.example".into(),
            base_url_source: "BRIGHTDATA_BASE_URL".into(),
            base_url_warnings: vec!["w".into()],
            reachable: true,
            data_url: "https://x.example/api/brightdata/webhook/".into(),
            notify_url: "https://x.example/api/brightdata/notify/".into(),
            auth_header: "Bearer ***".into(),
            token_source: "file".into(),
            dashboard_url: "https://x.example/webhook-monitor".into(),
            settings: vec![SettingView {
                name: "PORT".into(),
                value: "8000".into(),
            }],
        });
    }

    #[test]
    fn the_live_stream_s_updates_read_back_and_wrong_ones_are_refused() {
        use crate::types::LiveUpdate;
        round_trip(LiveUpdate::heartbeat());
        round_trip(LiveUpdate::changes(u64::MAX, 0, None));
        round_trip(LiveUpdate::changes(
            2,
            1,
            Some(vec!["s_1".into(), "s_\"2".into()]),
        ));
        for wrong in [
            r#"{"heartbeat":true}"#,
            r#"{"heartbeat":false,"events":1,"alerts":0,"snapshots":[1]}"#,
            r#"{"heartbeat":"yes","events":1,"alerts":0,"snapshots":null}"#,
            r#"{"heartbeat":false,"events":-1,"alerts":0,"snapshots":null}"#,
            r#"["hello",1]"#,
        ] {
            assert!(
                read_view::<LiveUpdate>(wrong.as_bytes()).is_err(),
                "{wrong}"
            );
        }
    }

    #[test]
    fn every_error_reads_back_and_unknown_ones_are_refused() {
        use crate::error::ErrorKind::*;
        for (kind, message) in [
            (Unauthorized, ""),
            (Forbidden, "no CSRF header"),
            (InvalidToken, ""),
            (RateLimited, ""),
            (Invalid, "window"),
            (NotFound, "no event 9"),
            (Conflict, "body not kept"),
            (Internal, "db"),
            (Transport, "offline"),
        ] {
            round_trip(DashboardError::new(kind, message));
        }
        for wrong in [
            r#""Unauthorized""#,
            r#"{"kind":"Unknown","message":""}"#,
            r#"{"kind":"NotFound","message":1}"#,
            r#"{"kind":"NotFound"}"#,
            r#"{"NotFound":"a"}"#,
            r#"{}"#,
        ] {
            assert!(
                read_view::<DashboardError>(wrong.as_bytes()).is_err(),
                "{wrong}"
            );
        }
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let read = |text: &str| read_view::<ReplayView>(text.as_bytes());
        assert!(read(r#"{"status":"stored","delivery_id":4}"#).is_ok());
        // A field missing, of the wrong type, truncated, not JSON, not UTF-8.
        assert!(read(r#"{"status":"stored"}"#).is_err());
        assert!(read(r#"{"status":1,"delivery_id":4}"#).is_err());
        assert!(read(r#"{"status":"stored","delivery_id":4"#).is_err());
        assert!(read("<html>").is_err());
        assert!(read_view::<ReplayView>(b"{\"status\":\"\xff\"}").is_err());
        // Unknown fields are ignored, as serde does: an older page reads a newer server.
        assert!(read(r#"{"status":"s","delivery_id":4,"new":[1,{"a":null}]}"#).is_ok());
    }

    #[test]
    fn what_the_server_encodes_the_page_decodes() {
        let ok: Result<ReplayView, DashboardError> = Ok(ReplayView {
            status: "é \"q\"".into(),
            delivery_id: -3,
        });
        let text = <Json as Encoder<_>>::encode(&ok).unwrap();
        assert_eq!(<Json as Decoder<_>>::decode(&text), Ok(ok));
        for error in [
            DashboardError::unauthorized(),
            DashboardError::new(ErrorKind::NotFound, "no event 9"),
        ] {
            let err: Result<ReplayView, DashboardError> = Err(error);
            let text = <Json as Encoder<_>>::encode(&err).unwrap();
            assert_eq!(<Json as Decoder<_>>::decode(&text), Ok(err));
        }
        assert!(<Json as Decoder<Result<ReplayView, DashboardError>>>::decode("[1,").is_err());
        assert!(<Json as Decoder<Result<ReplayView, DashboardError>>>::decode("ok [1,").is_err());
    }
}
