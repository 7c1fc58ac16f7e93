//! platformOS's numbered pages: `per_page`/`page` arguments and the
//! `total_entries`/`total_pages`/`current_page`/`has_next_page` summary,
//! on `records`, `customizations` and every model connection.

use async_graphql::dynamic::{InputValue, ObjectAccessor, TypeRef};
use async_graphql::Error;
use serde_json::{json, Map, Value};

use crate::db::query::{RecordPage, RecordQuery, MAX_OFFSET};
use crate::graphql::errors::bad_field;

/// platformOS's default page size.
pub const DEFAULT_PER_PAGE: usize = 20;
/// platformOS's largest page.
pub const MAX_PER_PAGE: usize = 100;
/// Deepest page: an offset page reads every row before it.
pub const MAX_PAGE: usize = MAX_OFFSET / MAX_PER_PAGE;

/// One numbered page of `per_page` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub per_page: usize,
    /// From 1.
    pub page: usize,
}

/// `per_page` and `page`.
pub fn arguments() -> [InputValue; 2] {
    [
        InputValue::new("per_page", TypeRef::named(TypeRef::INT)).description(format!(
            "Records a page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE})."
        )),
        InputValue::new("page", TypeRef::named(TypeRef::INT))
            .description(format!("The page to read, from 1 (at most {MAX_PAGE}).")),
    ]
}

impl Paging {
    /// The page the arguments ask for; `None` when neither is given.
    pub fn read(args: &ObjectAccessor<'_>) -> Result<Option<Paging>, Error> {
        let per_page = number(args, "per_page")?;
        let page = number(args, "page")?;
        if per_page.is_none() && page.is_none() {
            return Ok(None);
        }
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE as i64);
        let page = page.unwrap_or(1);
        let per_page = usize::try_from(per_page)
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| bad_field("per_page", format!("must be from 1 to {MAX_PER_PAGE}")))?;
        let page = usize::try_from(page)
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad_field("page", format!("must be from 1 to {MAX_PAGE}")))?;
        Ok(Some(Paging { per_page, page }))
    }

    /// Ask the store for this page.
    pub fn apply(&self, query: &mut RecordQuery) {
        query.first = Some(self.per_page);
        query.offset = Some((self.page - 1) * self.per_page);
    }

    /// `total_entries`, `total_pages`, `current_page`, `per_page`,
    /// `has_next_page`, `has_previous_page` of a page read with `apply`.
    pub fn summary(&self, page: &RecordPage) -> Map<String, Value> {
        summary(page, self.per_page, Some(self.page))
    }
}

/// The summary of any page; `current_page` is unknown (null) for a page
/// after a cursor.
pub fn summary(page: &RecordPage, per_page: usize, current_page: Option<usize>) -> Map<String, Value> {
    let total = usize::try_from(page.total_count).unwrap_or(0);
    let total_pages = total.div_ceil(per_page.max(1));
    match json!({
        "total_entries": total,
        "total_pages": total_pages,
        "current_page": current_page,
        "per_page": per_page,
        "has_next_page": page.has_next_page,
        "has_previous_page": page.has_previous_page,
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn number(args: &ObjectAccessor<'_>, name: &str) -> Result<Option<i64>, Error> {
    match args.get(name).filter(|v| !v.is_null()) {
        Some(value) => value.i64().map(Some).map_err(|e| bad_field(name, e.message)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(total: i64, next: bool, previous: bool) -> RecordPage {
        RecordPage {
            records: Vec::new(),
            has_next_page: next,
            has_previous_page: previous,
            start_cursor: None,
            end_cursor: None,
            total_count: total,
        }
    }

    #[test]
    fn summary_counts_pages() {
        let paging = Paging { per_page: 5, page: 2 };
        let mut query = RecordQuery::default();
        paging.apply(&mut query);
        assert_eq!((query.first, query.offset), (Some(5), Some(5)));
        assert_eq!(
            Value::Object(paging.summary(&page(11, true, true))),
            json!({"total_entries": 11, "total_pages": 3, "current_page": 2, "per_page": 5,
                   "has_next_page": true, "has_previous_page": true})
        );
        assert_eq!(summary(&page(0, false, false), 20, None)["total_pages"], json!(0));
        assert_eq!(summary(&page(20, false, false), 20, None)["total_pages"], json!(1));
        assert_eq!(summary(&page(21, false, false), 20, None)["current_page"], Value::Null);
    }

    #[test]
    fn deepest_page_is_the_store_limit() {
        assert_eq!(MAX_PAGE * MAX_PER_PAGE, MAX_OFFSET);
    }
}
