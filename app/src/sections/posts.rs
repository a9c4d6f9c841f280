//! Posts (`/webhook-monitor/posts`): the collected data, most recently stored first, filtered by
//! the URL's query and paged by the cursor; one post's record in a drawer (`?post=<id>`), and
//! downloads of everything the filter matches as CSV, NDJSON or Parquet.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api;
use crate::charts::thousands;
use crate::pretty;
use crate::shell::BASE;
use crate::types::{PostFilter, PostPage, PostRecordView};
use crate::ui::{
    Choice, Columns, FilterForm, MaybeTime, PLATFORMS, SearchField, SnapshotLink, count,
    event_href, loaded, query_param,
};

/// The export's path in the monitor API (the session cookie authorises a GET).
const EXPORT: &str = "/api/brightdata/webhook/export-posts/";

/// The filter a URL query asks for.
fn filter_from(query: &leptos_router::params::ParamsMap) -> PostFilter {
    let get = |name| query_param(query, name);
    PostFilter {
        snapshot: get("snapshot"),
        platform: get("platform"),
        author: get("author"),
        from: get("from"),
        to: get("to"),
        q: get("q"),
        delivery: get("delivery"),
        cursor: get("cursor"),
        ..PostFilter::default()
    }
}

fn posts_href(filter: &PostFilter) -> String {
    format!("{BASE}/posts?{}", filter.query())
}

/// The same page with post `id`'s record open in the drawer.
fn record_href(filter: &PostFilter, id: i64) -> String {
    let query = filter.query();
    let and = if query.is_empty() { "" } else { "&" };
    format!("{BASE}/posts?{query}{and}post={id}")
}

/// Whether the filter selects anything narrower than every post.
fn narrows(filter: &PostFilter) -> bool {
    PostFilter {
        cursor: None,
        ..filter.clone()
    } != PostFilter::default()
}

#[component]
pub fn PostsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(filter_from));
    let open = Memo::new(move |_| {
        query.with(|q| query_param(q, "post").and_then(|id| id.parse::<i64>().ok()))
    });
    let page = crate::codec::data(move || filter.get(), api::posts);
    view! {
        <div class="section-head">
            <h2>"Posts"</h2>
            <Downloads filter=filter.into() file="posts".to_owned() />
        </div>
        <PostFilters filter />
        {loaded(page, move |page| view! { <PostList page filter=filter.get_untracked() open /> })}
    }
}

/// "Download CSV / NDJSON / Parquet" of every post the filter matches, as `<file>.<format>`.
#[component]
pub fn Downloads(filter: Signal<PostFilter>, file: String) -> impl IntoView {
    let link = move |format: &'static str, label: &'static str| {
        let href = move || {
            let export = PostFilter {
                cursor: None,
                format: Some(format.to_owned()),
                ..filter.get()
            };
            format!("{EXPORT}?{}", export.query())
        };
        view! {
            <a href=href download=format!("{file}.{format}") data-testid=format!("download-{format}")>
                {label}
            </a>
        }
    };
    view! {
        <span class="export" data-testid="post-downloads">
            "Download: " {link("csv", "CSV")} " · " {link("ndjson", "NDJSON")} " · "
            {link("parquet", "Parquet")}
        </span>
    }
}

/// The filters, as a GET form: the URL holds them (shareable, the back button works).
#[component]
fn PostFilters(filter: Memo<PostFilter>) -> impl IntoView {
    let text = move |name: &'static str,
                     label: &'static str,
                     placeholder: &'static str,
                     pick: fn(&PostFilter) -> Option<String>| {
        let current = Signal::derive(move || pick(&filter.get()));
        view! { <SearchField name label placeholder current /> }
    };
    view! {
        <FilterForm action=format!("{BASE}/posts")>
            <fieldset class="filters" data-testid="post-filters">
                <legend>"Filter posts"</legend>
                <Choice
                    name="platform"
                    label="Platform"
                    choices=&PLATFORMS
                    current=Signal::derive(move || filter.get().platform)
                />
                {text("snapshot", "Snapshot", "s_…", |f| f.snapshot.clone())}
                {text("author", "Author", "exact name", |f| f.author.clone())}
                {text("q", "Text", "anywhere in the record", |f| f.q.clone())}
                {text("from", "Posted from", "2026-11-01", |f| f.from.clone())}
                {text("to", "Posted before", "2026-12-01", |f| f.to.clone())}
                {text("delivery", "Delivery", "delivery id", |f| f.delivery.clone())}
                <div class="filter-actions">
                    <button type="submit">"Apply"</button>
                    <a href=format!("{BASE}/posts")>"Clear"</a>
                </div>
            </fieldset>
        </FilterForm>
    }
}

#[component]
fn PostList(page: PostPage, filter: PostFilter, open: Memo<Option<i64>>) -> impl IntoView {
    if page.posts.is_empty() {
        let text = if narrows(&filter) {
            "No post matches these filters. Clear them to see every post."
        } else {
            "No posts yet: the records of every delivery BrightData sends appear here, one row per post."
        };
        return view! {
            <p class="empty-state" data-testid="posts-empty">
                {text}
            </p>
        }
        .into_any();
    }
    let older = page.next_cursor.map(|cursor| {
        posts_href(&PostFilter {
            cursor: Some(cursor),
            ..filter.clone()
        })
    });
    let newest = filter.cursor.is_some().then(|| {
        posts_href(&PostFilter {
            cursor: None,
            ..filter.clone()
        })
    });
    // The drawer's post, when it is on this page.
    let posts = StoredValue::new(page.posts.clone());
    let drawer_filter = filter.clone();
    view! {
        <div class="table-scroll">
            <table class="plain" data-testid="posts-table">
                <Columns columns=&[("Platform", ""), ("Post", ""), ("Author", ""), ("Posted", ""), ("Text", "wide-only"), ("Likes", "num"), ("Comments", "num"), ("Shares", "num"), ("Views", "num"), ("Snapshot", ""), ("", "")] />
                <tbody>
                    {page
                        .posts
                        .into_iter()
                        .map(|p| {
                            let record_href = record_href(&filter, p.id);
                            let text = p.text.clone().unwrap_or_default();
                            let short: String = text.chars().take(80).collect();
                            view! {
                                <tr data-post=p.id>
                                    <td>{p.platform.clone()}</td>
                                    <td class="mono">{p.post_id.clone()}</td>
                                    <td>{p.author.clone().unwrap_or_default()}</td>
                                    <td>
                                        <MaybeTime at_ms=p.posted_ms />
                                    </td>
                                    <td class="wide-only reason-text" title=text.clone()>
                                        {short}
                                    </td>
                                    <td class="num">{count(p.likes)}</td>
                                    <td class="num">{count(p.comments)}</td>
                                    <td class="num">{count(p.shares)}</td>
                                    <td class="num">{count(p.views)}</td>
                                    <td>
                                        <SnapshotLink id=p.snapshot_id.clone() />
                                    </td>
                                    <td>
                                        <a href=record_href data-testid="open-record">
                                            "Record"
                                        </a>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {newest.map(|href| view! { <a href=href>"← Most recent"</a> })}
            {older.map(|href| view! { <a href=href data-testid="older">"Older →"</a> })}
        </nav>
        {move || {
            let id = open.get()?;
            let post = posts.with_value(|posts| posts.iter().find(|p| p.id == id).cloned())?;
            Some(view! { <RecordDrawer post close=posts_href(&drawer_filter) /> })
        }}
    }
    .into_any()
}

/// One post's record as BrightData sent it, shown as text (never as markup), with where it came
/// from.
#[component]
fn RecordDrawer(post: PostRecordView, close: String) -> impl IntoView {
    let record = pretty::json(&post.record);
    let delivery_posts = posts_href(&PostFilter {
        delivery: Some(post.delivery_id.to_string()),
        ..PostFilter::default()
    });
    view! {
        <aside class="drawer" aria-labelledby="drawer-title" data-testid="record-drawer">
            <div class="drawer-head">
                <h3 id="drawer-title">
                    {post.platform.clone()} " post " <span class="mono">{post.post_id.clone()}</span>
                </h3>
                <a href=close class="drawer-close" aria-label="Close the record">
                    "Close ✕"
                </a>
            </div>
            <dl class="facts">
                <dt>"Snapshot"</dt>
                <dd>
                    <SnapshotLink id=post.snapshot_id.clone() />
                </dd>
                <dt>"Delivery"</dt>
                <dd>
                    <a href=delivery_posts data-testid="drawer-delivery">
                        {format!("delivery {}", post.delivery_id)}
                    </a>
                    {post
                        .event_id
                        .map(|event| {
                            view! {
                                " · "
                                <a href=event_href(event) data-testid="drawer-event">
                                    {format!("its request (event {event})")}
                                </a>
                            }
                        })}
                </dd>
                <dt>"Delivered"</dt>
                <dd>{format!("{} time(s)", thousands(post.times_delivered as i64))}</dd>
            </dl>
            <pre class="body" data-testid="drawer-record" tabindex="0">
                {record}
            </pre>
        </aside>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_query_becomes_the_filter_and_empty_fields_mean_any() {
        let query = leptos_router::params::ParamsMap::from_iter([
            ("platform".to_owned(), "tiktok".to_owned()),
            ("snapshot".to_owned(), "".to_owned()),
            ("q".to_owned(), "two words".to_owned()),
            ("post".to_owned(), "12".to_owned()),
        ]);
        let filter = filter_from(&query);
        assert_eq!(filter.platform.as_deref(), Some("tiktok"));
        assert_eq!(filter.snapshot, None);
        assert_eq!(filter.q.as_deref(), Some("two words"));
        assert!(narrows(&filter));
        assert!(!narrows(&PostFilter::default()));
        assert_eq!(
            posts_href(&filter),
            format!("{BASE}/posts?platform=tiktok&q=two%20words")
        );
        assert_eq!(
            record_href(&filter, 7),
            format!("{BASE}/posts?platform=tiktok&q=two%20words&post=7")
        );
        assert_eq!(
            record_href(&PostFilter::default(), 7),
            format!("{BASE}/posts?post=7")
        );
    }
}
