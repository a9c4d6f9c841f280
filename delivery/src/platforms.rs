//! Which platform a BrightData dataset scrapes, for records whose URL does not tell. Built-in ids are
//! BrightData's public "posts" datasets; `WEBHOOK_DATASET_PLATFORMS` adds or overrides
//! (`gd_xxx=instagram,gd_yyy=tiktok`).

use std::collections::HashMap;

const BUILT_IN: [(&str, &str); 4] = [
    ("gd_lk5ns7kz21pck8jpis", "instagram"),
    ("gd_lkaxegm826bjpoo9m5", "facebook"),
    ("gd_lyy3tktm25m4avu764", "linkedin"),
    ("gd_lu702nij2f790tmv9h", "tiktok"),
];

#[derive(Debug, Clone)]
pub struct DatasetPlatforms(HashMap<String, String>);

impl DatasetPlatforms {
    pub fn new(extra: &[(String, String)]) -> Self {
        let mut map: HashMap<String, String> = BUILT_IN
            .iter()
            .map(|(id, platform)| (id.to_string(), platform.to_string()))
            .collect();
        for (id, platform) in extra {
            map.insert(id.clone(), platform.clone());
        }
        Self(map)
    }

    pub fn platform(&self, dataset_id: &str) -> Option<&str> {
        self.0.get(dataset_id).map(String::as_str)
    }
}

/// `gd_xxx=instagram,gd_yyy=tiktok`
pub fn parse_pairs(text: &str) -> Option<Vec<(String, String)>> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (id, platform) = pair.split_once('=')?;
            let (id, platform) = (id.trim(), platform.trim().to_ascii_lowercase());
            let valid = !id.is_empty()
                && !platform.is_empty()
                && platform.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !id.chars().any(char::is_whitespace);
            valid.then(|| (id.to_owned(), platform))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_overrides() {
        let map = DatasetPlatforms::new(
            &parse_pairs("gd_custom=tiktok, gd_lk5ns7kz21pck8jpis=x").unwrap(),
        );
        assert_eq!(map.platform("gd_lkaxegm826bjpoo9m5"), Some("facebook"));
        assert_eq!(map.platform("gd_custom"), Some("tiktok"));
        assert_eq!(map.platform("gd_lk5ns7kz21pck8jpis"), Some("x"));
        assert_eq!(map.platform("gd_unknown"), None);
        assert!(parse_pairs("gd_x").is_none());
        assert!(parse_pairs("gd_x=Insta Gram").is_none());
    }
}
