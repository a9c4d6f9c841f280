use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub dataset_id: Option<String>,
    pub platform: Option<String>,
    /// `triggered | running | ready | delivered | failed | cancelled` (see `ingest::lifecycle`).
    pub status: String,
    pub error: Option<String>,
    pub posts: i64,
    pub input_errors: i64,
    pub deliveries: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub notified_ms: Option<i64>,
    pub ready_ms: Option<i64>,
    pub delivered_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// `complete | incomplete | unverified`; none until judged (see `completeness`).
    pub completeness: Option<String>,
    /// Records and errors BrightData says the snapshot produced.
    pub expected_records: Option<i64>,
    pub expected_errors: Option<i64>,
    /// Records and input errors received for it at the last check (each delivery file once).
    pub received_records: Option<i64>,
    /// Why it is unverified, or what the last call to BrightData's API answered.
    pub completeness_note: Option<String>,
    pub checked_ms: Option<i64>,
    /// When a redelivery was last asked for.
    pub redelivery_ms: Option<i64>,
    /// Its field coverage judged against the platform's usual (JSON: `delivery::drift`'s
    /// `PlatformJudgement` per platform).
    pub field_coverage: Option<String>,
    /// `normal | drift | learning | not_judged | accepted`; none until judged.
    pub drift: Option<String>,
    pub drift_checked_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
