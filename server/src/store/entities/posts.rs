use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub platform: String,
    pub post_id: String,
    pub snapshot_id: Option<String>,
    pub delivery_id: i64,
    pub url: Option<String>,
    pub author: Option<String>,
    pub posted_ms: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    pub data: String,
    pub first_seen_ms: i64,
    pub updated_ms: i64,
    pub times_delivered: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
