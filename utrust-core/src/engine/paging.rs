//! Keyset pages of what a principal may see.
//!
//! The store pages by id; visibility is decided by the engine per item. A
//! filtered page therefore keeps fetching store pages after the last id seen
//! until it has `limit` visible items or the store runs out. The loop lives
//! here once; [`FilteredSource`] says where the items come from and which to
//! keep. (A trait rather than closures: the boxed futures stay `Send` for the
//! server's handlers.)

use async_trait::async_trait;

use crate::error::Result;

/// Where a filtered page's items come from, and which of them to keep.
#[async_trait]
pub(super) trait FilteredSource: Send + Sync {
    /// The items.
    type Item: Send;
    /// The id pages are ordered by.
    type Cursor: Copy + Send;

    /// The item's position.
    fn cursor(item: &Self::Item) -> Self::Cursor;

    /// Up to `limit` items after `after`, in cursor order.
    async fn fetch(&self, after: Option<Self::Cursor>, limit: u32) -> Result<Vec<Self::Item>>;

    /// Whether the principal gets `item`.
    async fn keep(&self, item: &Self::Item) -> Result<bool>;
}

/// Up to `limit` kept items after `after`, and the cursor of the next page
/// (`None` when the source is exhausted).
pub(super) async fn filtered_page<S: FilteredSource>(
    source: &S,
    mut after: Option<S::Cursor>,
    limit: u32,
) -> Result<(Vec<S::Item>, Option<S::Cursor>)> {
    let fetch = limit.max(1);
    let mut out = Vec::new();
    loop {
        let page = source.fetch(after, fetch).await?;
        let exhausted = page.len() < fetch as usize;
        for item in page {
            after = Some(S::cursor(&item));
            if source.keep(&item).await? {
                out.push(item);
                if out.len() == limit as usize {
                    return Ok((out, after));
                }
            }
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}
