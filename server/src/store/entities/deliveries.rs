use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_key: Option<String>,
    pub snapshot_id: Option<String>,
    pub filename: Option<String>,
    /// `receiving` (body arriving), `queued` (durable, posts not extracted yet), `stored`, `aborted`.
    pub state: String,
    pub format: String,
    pub compressed: bool,
    pub wire_bytes: i64,
    pub inflated_bytes: i64,
    pub posts: i64,
    pub input_errors: i64,
    pub malformed: i64,
    pub duplicates: Option<i64>,
    pub received_ms: i64,
    pub processed_ms: Option<i64>,
    pub client_ip: Option<String>,
    pub error: Option<String>,
    /// Whether the raw body (as received) is kept in `delivery_chunks` for replay.
    pub body_kept: bool,
    /// Its posts' field coverage (JSON: `delivery::coverage::PlatformCoverage` per platform).
    pub field_coverage: Option<String>,
    /// The instance extracting it (`processing`), while `lease_until_ms` is ahead: an instance that
    /// stops renewing (it died) loses it, and another takes the delivery over.
    pub lease_holder: Option<String>,
    pub lease_until_ms: Option<i64>,
    /// How far its extraction got, committed with each batch: records consumed, and the posts,
    /// input errors and duplicates among them. A taken-over extraction goes on from there.
    pub extracted_records: i64,
    pub extracted_posts: i64,
    pub extracted_input_errors: i64,
    pub extracted_duplicates: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
