use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at_ms: i64,
    pub endpoint: String,
    pub outcome: String,
    pub status: i16,
    pub latency_us: i64,
    pub bytes: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub snapshot_id: Option<String>,
    pub platform: Option<String>,
    pub records: Option<i64>,
    pub delivery_id: Option<i64>,
    pub error: Option<String>,
    pub headers: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
