//! Relay-style pages over newest-first lists. Cursors are opaque to clients: base64 of the
//! (time, id) pair the next page starts after.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::{
    domain::PageAfter,
    domain::{AppError, AppResult, Message, MessageKey},
};

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

pub fn encode_cursor(at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", at.timestamp_millis()))
}

fn decode_cursor(cursor: &str) -> Option<PageAfter> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?).ok()?;
    let (millis, id) = raw.split_once(':')?;
    let at = DateTime::from_timestamp_millis(millis.parse().ok()?)?;
    uuid::Uuid::parse_str(id).ok()?;
    Some(PageAfter {
        at,
        id: id.to_owned(),
    })
}

/// A validated `first`/`after` pair.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<PageAfter>,
}

impl PageRequest {
    pub fn new(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&first) {
            return Err(AppError::bad_input(
                "first",
                Message::new(MessageKey::PageSize).with("max", MAX_PAGE_SIZE),
            ));
        }
        let after = match after.filter(|a| !a.is_empty()) {
            Some(cursor) => Some(
                decode_cursor(cursor)
                    .ok_or_else(|| AppError::bad_input("after", MessageKey::CursorUnknown))?,
            ),
            None => None,
        };
        Ok(PageRequest {
            limit: first as usize,
            after,
        })
    }
}

/// One page: the items, whether more follow, and how many there are in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub total_count: u64,
}

impl<T> Page<T> {
    /// `fetched` holds up to `limit + 1` items; the extra one only says a next page exists.
    pub fn from_fetched(mut fetched: Vec<T>, request: &PageRequest, total_count: u64) -> Self {
        let has_next_page = fetched.len() > request.limit;
        fetched.truncate(request.limit);
        Page {
            items: fetched,
            has_next_page,
            has_previous_page: request.after.is_some(),
            total_count,
        }
    }

    /// The same page over other items, such as the records its keys name.
    pub fn with_items<U>(self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let cursor = encode_cursor(at, &id);
        let page = PageRequest::new(Some(5), Some(&cursor)).unwrap();
        assert_eq!(page.after, Some(PageAfter { at, id }));
        assert!(PageRequest::new(None, Some("nonsense")).is_err());
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(101), None).is_err());
    }
}
