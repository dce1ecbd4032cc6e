//! The env's versions log (DynamoDB): the history of its build pointer, the "head" item that
//! serialises changes to it, and the lock that forbids them.
//!
//! The table's key is `buildId` (hash) and `timestamp` (range). Two kinds of item live in it:
//! - one **head** per env, `buildId = head/<env>`, `timestamp = head`: the sequence number of
//!   the last change, the key it set, its state, and the lock if one is held;
//! - one **entry** per change, `buildId = version/<env>` (the pointer's key, so the history is
//!   one Query, newest first), `timestamp` = when, with from, to, who and the state (and, for a release, when it scaled
//!   its colour up, which tells the nodes it launched from older ones).
//!
//! A change is *claimed* before the pointer is written: one transaction that advances the head
//! only if its sequence number is still the one read before asking the operator, and no lock
//! is held, and that adds the entry. Of two operators racing, exactly one claim succeeds; the
//! other is told who won and nothing of theirs is written. The claim is `pending` until the
//! pointer is written, then `done` (or `failed` if the write failed), so the log never shows a
//! change the pointer did not get, and a pending claim makes others wait rather than write
//! over it.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use serde::Serialize;

use super::time::Timestamp;
use crate::architecture::{Colour, version_key};
use crate::aws::{Aws, AwsError};

const HASH: &str = "buildId";
const RANGE: &str = "timestamp";
const HEAD_RANGE: &str = "head";

type Item = HashMap<String, AttributeValue>;

/// Where a change stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeState {
    /// Claimed; the pointer is being written.
    Pending,
    /// The pointer holds the new key.
    Done,
    /// Writing the pointer failed; it still holds the old key.
    Failed,
}

impl ChangeState {
    fn as_str(self) -> &'static str {
        match self {
            ChangeState::Pending => "pending",
            ChangeState::Done => "done",
            ChangeState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "pending" => ChangeState::Pending,
            "failed" => ChangeState::Failed,
            _ => ChangeState::Done,
        }
    }
}

/// A held lock on an env's builds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lock {
    /// Why, as the locker said.
    pub reason: Option<String>,
    /// Who locked.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

impl Lock {
    /// `by alice@admin since 2024-05-01T12:00:00.000Z: conference talk`.
    pub fn describe(&self) -> String {
        let reason = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        format!("by {} since {}{reason}", self.by, self.at)
    }
}

/// The head of an env's log: the last change claimed, and the lock.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Sequence number of the last change (0: none yet).
    pub seq: u64,
    /// The key the last change set.
    pub key: Option<String>,
    /// The key it replaced.
    pub from: Option<String>,
    /// Its state.
    pub state: Option<ChangeState>,
    /// When it was claimed.
    pub at: Option<Timestamp>,
    /// Who claimed it.
    pub by: Option<String>,
    /// The lock, if held.
    pub lock: Option<Lock>,
}

/// One change of the pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// When it was claimed.
    pub at: Timestamp,
    /// Its sequence number.
    pub seq: u64,
    /// The key it set.
    pub to: String,
    /// The key the pointer held before, if any.
    pub from: Option<String>,
    /// Who made it.
    pub by: String,
    /// The AWS principal that made it.
    pub principal: Option<String>,
    /// Whether the pointer got it.
    pub state: ChangeState,
    /// The colour that went live, for a blue/green release or switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    /// A switch of colour (`blue-green switch|rollback`): no pointer changed, no node needs
    /// a restart for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub switch: bool,
    /// For a release: when it asked its colour to scale up, after pointing it at `to`. Every
    /// node of that colour launched from then on is one the release asked for and boots `to`.
    /// Set-current changes, switches and releases recorded before this was kept have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled_up: Option<Timestamp>,
}

impl Entry {
    /// From when a node of this change's colour, by its launch time (whole seconds), booted
    /// `to`. For a release that recorded its scale-up, that moment's second: the colour was
    /// empty when it was pointed, and the nodes launched from then on are the ones the
    /// release asked for. Otherwise the change's own time, conservatively: a node launched in
    /// its second may have read the pointer before it changed (a `set-current` writes the
    /// pointer of a colour that keeps launching nodes).
    pub fn boots_from(&self) -> Timestamp {
        self.scaled_up.map_or(self.at, Timestamp::whole_second)
    }
}

/// Why a claim was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Someone else changed the pointer since the head was read.
    #[error("{}", raced_message(.0))]
    Raced(Box<Head>),
    /// The env's builds are locked.
    #[error("builds of this env are locked {}; nothing was changed (`ce builds unlock` lifts it)", .0.describe())]
    Locked(Lock),
    /// A DynamoDB call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

fn raced_message(head: &Head) -> String {
    format!(
        "someone else changed the build from {} to {} at {}{} while this change was being \
         prepared; nothing was changed: re-run to start from the current build",
        head.from.as_deref().unwrap_or("(none)"),
        head.key.as_deref().unwrap_or("(none)"),
        head.at.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
        head.by
            .as_deref()
            .map(|b| format!(" (by {b})"))
            .unwrap_or_default(),
    )
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone holds it already.
    #[error("builds of this env are already locked {}", .0.describe())]
    Held(Lock),
    /// A DynamoDB call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Whether `head` is the claim of `change` itself, still pending: the same sequence number,
/// key, time and operator. Another operator's claim differs in at least the time or the name.
fn is_own_claim(head: &Head, change: &Change) -> bool {
    head.seq == change.seq
        && head.key.as_deref() == Some(change.to.as_str())
        && head.from == change.from
        && head.at == Some(change.at)
        && head.by.as_deref() == Some(change.by.as_str())
        && head.state == Some(ChangeState::Pending)
}

/// A change to claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The sequence number it will have (the head's plus one).
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// The key the pointer holds now.
    pub from: Option<String>,
    /// The key to set.
    pub to: String,
    /// Who.
    pub by: String,
    /// The AWS principal.
    pub principal: String,
    /// The colour that went live, for a blue/green release or switch.
    pub colour: Option<Colour>,
    /// Traffic moved to a colour whose pointer already named the build: no pointer changed.
    pub switch: bool,
    /// For a release: when it asked its colour to scale up (see [`Entry::scaled_up`]);
    /// recorded on the entry when the change finishes.
    pub scaled_up: Option<Timestamp>,
}

/// The versions log of one env.
#[derive(Clone, Debug)]
pub struct VersionsLog {
    client: Client,
    table: String,
    env: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn number(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The head as stored.
fn head_from(item: &Item) -> Head {
    let lock = text(item, "lock_by").map(|by| Lock {
        reason: text(item, "lock_reason"),
        by,
        at: text(item, "lock_at")
            .and_then(|t| Timestamp::parse(&t))
            .unwrap_or(Timestamp(0)),
    });
    Head {
        seq: number(item, "seq").unwrap_or(0),
        key: text(item, "key"),
        from: text(item, "from"),
        state: text(item, "state").map(|s| ChangeState::parse(&s)),
        at: text(item, "at").and_then(|t| Timestamp::parse(&t)),
        by: text(item, "by"),
        lock,
    }
}

/// An entry as stored; `None` for an item that is not one.
fn entry_from(item: &Item) -> Option<Entry> {
    Some(Entry {
        at: Timestamp::parse(&text(item, RANGE)?)?,
        seq: number(item, "seq").unwrap_or(0),
        to: text(item, "key")?,
        from: text(item, "from"),
        by: text(item, "by").unwrap_or_else(|| "?".into()),
        principal: text(item, "principal"),
        state: ChangeState::parse(&text(item, "state").unwrap_or_default()),
        colour: text(item, "colour").and_then(|c| c.parse().ok()),
        switch: text(item, "kind").as_deref() == Some("switch"),
        scaled_up: text(item, "scaled_up").and_then(|t| Timestamp::parse(&t)),
    })
}

/// The stored form of a change's entry.
fn entry_item(env: &str, change: &Change) -> Item {
    let mut item = Item::from([
        (HASH.into(), s(version_key(env))),
        (RANGE.into(), s(change.at.to_string())),
        ("env".into(), s(env)),
        ("seq".into(), n(change.seq)),
        ("key".into(), s(&change.to)),
        ("by".into(), s(&change.by)),
        ("principal".into(), s(&change.principal)),
        ("state".into(), s(ChangeState::Pending.as_str())),
    ]);
    if let Some(from) = &change.from {
        item.insert("from".into(), s(from));
    }
    if let Some(colour) = change.colour {
        item.insert("colour".into(), s(colour.as_str()));
    }
    if change.switch {
        item.insert("kind".into(), s("switch"));
    }
    if let Some(at) = change.scaled_up {
        item.insert("scaled_up".into(), s(at.to_string()));
    }
    item
}

/// Attribute names, all behind placeholders: `key`, `state`, `at`, `by` and `from` are
/// DynamoDB reserved words.
fn names(list: &[&str]) -> HashMap<String, String> {
    list.iter()
        .map(|name| (format!("#{name}"), (*name).to_owned()))
        .collect()
}

impl VersionsLog {
    /// The log of `env` in `table`.
    pub fn new(aws: &Aws, table: &str, env: &str) -> Self {
        VersionsLog {
            client: Client::new(aws.sdk_config()),
            table: table.to_owned(),
            env: env.to_owned(),
        }
    }

    fn head_key(&self) -> Item {
        Item::from([
            (HASH.into(), s(format!("head/{}", self.env))),
            (RANGE.into(), s(HEAD_RANGE)),
        ])
    }

    fn entry_key(&self, at: Timestamp) -> Item {
        Item::from([
            (HASH.into(), s(version_key(&self.env))),
            (RANGE.into(), s(at.to_string())),
        ])
    }

    /// The head, read consistently; `None` before the first change or lock.
    pub async fn head(&self) -> Result<Option<Head>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.head_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetItem", None, e))?;
        Ok(out.item.as_ref().map(head_from))
    }

    /// Claims `change`, provided the head is still `seen` and no lock is held.
    pub async fn claim(&self, seen: Option<&Head>, change: &Change) -> Result<(), ClaimError> {
        let mut values = HashMap::from([
            (":to".to_owned(), s(&change.to)),
            (":next".to_owned(), n(change.seq)),
            (":state".to_owned(), s(ChangeState::Pending.as_str())),
            (":at".to_owned(), s(change.at.to_string())),
            (":by".to_owned(), s(&change.by)),
        ]);
        let mut set =
            "SET #key = :to, seq = :next, #state = :state, #at = :at, #by = :by".to_owned();
        match &change.from {
            Some(from) => {
                values.insert(":from".into(), s(from));
                set.push_str(", #from = :from");
            }
            None => set.push_str(" REMOVE #from"),
        }
        let condition = match seen {
            None => format!("attribute_not_exists({HASH})"),
            Some(head) => {
                values.insert(":seen".into(), n(head.seq));
                "seq = :seen AND attribute_not_exists(lock_by)".to_owned()
            }
        };
        let head = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.head_key()))
            .update_expression(set)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names(&["key", "state", "at", "by", "from"])))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| invalid("TransactWriteItems", e))?;
        let entry = Put::builder()
            .table_name(&self.table)
            .set_item(Some(entry_item(&self.env, change)))
            .condition_expression(format!("attribute_not_exists({HASH})"))
            .build()
            .map_err(|e| invalid("TransactWriteItems", e))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(head).build())
            .transact_items(TransactWriteItem::builder().put(entry).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                let head = self.head().await?.unwrap_or_default();
                if is_own_claim(&head, change) {
                    // The transaction was applied but its answer lost; the SDK's retry then
                    // failed its own condition. The head is this change's claim: it stands.
                    return Ok(());
                }
                Err(match head.lock {
                    Some(lock) => ClaimError::Locked(lock),
                    None => ClaimError::Raced(Box::new(head)),
                })
            }
            Err(e) => Err(AwsError::from_sdk("TransactWriteItems", None, e).into()),
        }
    }

    /// Keeps a pending claim fresh: its head's time becomes now, if no one claimed since. A
    /// release waits minutes on new nodes; without this, others would take its claim for one
    /// whose operator died.
    pub async fn touch(&self, change: &Change) -> Result<(), AwsError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.head_key()))
            .update_expression("SET #at = :now")
            .condition_expression("seq = :seq")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":now", s(Timestamp::now().to_string()))
            .expression_attribute_values(":seq", n(change.seq))
            .send()
            .await;
        unless_superseded(sent)
    }

    /// Records how a claimed change ended, on its entry (with a release's scale-up moment)
    /// and (if no one claimed since) the head.
    pub async fn finish(&self, change: &Change, state: ChangeState) -> Result<(), AwsError> {
        let set_state = |key: Item| {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET #state = :state")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":state", s(state.as_str()))
        };
        let mut entry = set_state(self.entry_key(change.at));
        if let Some(at) = change.scaled_up {
            entry = entry
                .update_expression("SET #state = :state, scaled_up = :scaled_up")
                .expression_attribute_values(":scaled_up", s(at.to_string()));
        }
        entry
            .condition_expression(format!("attribute_exists({HASH})"))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateItem", None, e))?;
        // A later change may own the head now; this one's entry says how it ended.
        let sent = set_state(self.head_key())
            .condition_expression("seq = :seq")
            .expression_attribute_values(":seq", n(change.seq))
            .send()
            .await;
        unless_superseded(sent)
    }

    /// The changes of the env's pointer, newest first, at most `limit`.
    pub async fn history(&self, limit: Option<usize>) -> Result<Vec<Entry>, AwsError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#hash = :pointer")
            .expression_attribute_names("#hash", HASH)
            .expression_attribute_values(":pointer", s(version_key(&self.env)))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send();
        let mut entries = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| AwsError::from_sdk("Query", None, e))?;
            entries.extend(entry_from(&item));
            if limit.is_some_and(|l| entries.len() >= l) {
                break;
            }
        }
        Ok(entries)
    }

    /// Takes the lock, unless someone holds it.
    pub async fn lock(&self, lock: &Lock) -> Result<(), LockError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.head_key()))
            .condition_expression("attribute_not_exists(lock_by)")
            .expression_attribute_values(":by", s(&lock.by))
            .expression_attribute_values(":at", s(lock.at.to_string()))
            .expression_attribute_values(":zero", n(0));
        update = match &lock.reason {
            Some(reason) => update
                .update_expression(
                    "SET lock_by = :by, lock_at = :at, lock_reason = :reason, \
                     seq = if_not_exists(seq, :zero)",
                )
                .expression_attribute_values(":reason", s(reason)),
            None => update.update_expression(
                "SET lock_by = :by, lock_at = :at, seq = if_not_exists(seq, :zero) \
                 REMOVE lock_reason",
            ),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let held = self.head().await?.and_then(|h| h.lock);
                Err(held.map_or_else(
                    // Unlocked in between: let the operator try again rather than loop.
                    || {
                        LockError::Aws(AwsError::Other {
                            operation: "UpdateItem".into(),
                            code: "ConditionalCheckFailed".into(),
                            message: "the lock changed hands while it was being taken; run again"
                                .into(),
                        })
                    },
                    LockError::Held,
                ))
            }
            Err(e) => Err(AwsError::from_sdk("UpdateItem", None, e).into()),
        }
    }

    /// Lifts the lock; returns the lock that was held, `None` if there was none.
    pub async fn unlock(&self) -> Result<Option<Lock>, AwsError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.head_key()))
            .update_expression("REMOVE lock_by, lock_at, lock_reason")
            .condition_expression("attribute_exists(lock_by)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out.attributes.as_ref().and_then(|a| head_from(a).lock)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsError::from_sdk("UpdateItem", None, e)),
        }
    }
}

/// An UpdateItem of the head conditioned on its `seq`: refused by that condition means a later
/// change owns the head, which is no error.
fn unless_superseded(
    sent: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>,
) -> Result<(), AwsError> {
    match sent {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::from_sdk("UpdateItem", None, e)),
    }
}

fn invalid(operation: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Other {
        operation: operation.into(),
        code: "invalid request".into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> Change {
        Change {
            seq: 4,
            at: Timestamp(1_714_564_803_250),
            from: Some("dist/master/1.tar.xz".into()),
            to: "dist/master/2.tar.xz".into(),
            by: "alice@admin".into(),
            principal: "arn:aws:iam::1:user/alice".into(),
            colour: None,
            switch: false,
            scaled_up: None,
        }
    }

    /// The head as this change's claim left it.
    fn claimed_head(change: &Change) -> Head {
        Head {
            seq: change.seq,
            key: Some(change.to.clone()),
            from: change.from.clone(),
            state: Some(ChangeState::Pending),
            at: Some(change.at),
            by: Some(change.by.clone()),
            lock: None,
        }
    }

    #[test]
    fn a_head_holding_this_changes_pending_claim_is_recognised_as_its_own() {
        let change = change();
        assert!(is_own_claim(&claimed_head(&change), &change));
    }

    #[test]
    fn a_head_claimed_by_someone_else_for_the_same_build_is_not_its_own() {
        let change = change();
        let other = Head {
            by: Some("bob@admin".into()),
            ..claimed_head(&change)
        };
        let later = Head {
            at: Some(Timestamp(change.at.0 + 1)),
            ..claimed_head(&change)
        };
        let finished = Head {
            state: Some(ChangeState::Done),
            ..claimed_head(&change)
        };
        let next = Head {
            seq: change.seq + 1,
            ..claimed_head(&change)
        };
        for head in [other, later, finished, next] {
            assert!(!is_own_claim(&head, &change), "{head:?}");
        }
    }

    #[test]
    fn an_entry_is_keyed_by_the_pointer_and_reads_back_as_pending() {
        let item = entry_item("prod", &change());
        assert_eq!(item[HASH], s("version/prod"));
        assert_eq!(item[RANGE], s("2024-05-01T12:00:03.250Z"));
        let entry = entry_from(&item).expect("an entry");
        assert_eq!(entry.seq, 4);
        assert_eq!(entry.to, "dist/master/2.tar.xz");
        assert_eq!(entry.from.as_deref(), Some("dist/master/1.tar.xz"));
        assert_eq!(entry.state, ChangeState::Pending);
    }

    #[test]
    fn a_releases_scale_up_moment_is_stored_and_read_back_and_older_entries_have_none() {
        let release = Change {
            colour: Some(Colour::Green),
            scaled_up: Some(Timestamp(1_714_564_803_900)),
            ..change()
        };
        let item = entry_item("prod", &release);
        assert_eq!(item["scaled_up"], s("2024-05-01T12:00:03.900Z"));
        let entry = entry_from(&item).expect("an entry");
        assert_eq!(entry.scaled_up, Some(Timestamp(1_714_564_803_900)));
        assert_eq!(entry.boots_from(), Timestamp(1_714_564_803_000));
        let mut old = item;
        old.remove("scaled_up");
        let entry = entry_from(&old).expect("an entry written before the field existed");
        assert_eq!(entry.scaled_up, None);
        assert_eq!(entry.boots_from(), Timestamp(1_714_564_803_250));
    }

    #[test]
    fn a_head_with_lock_attributes_carries_the_lock() {
        let item = Item::from([
            ("seq".into(), n(0)),
            ("lock_by".into(), s("bob@admin")),
            ("lock_at".into(), s("2024-05-01T12:00:00.000Z")),
            ("lock_reason".into(), s("CppCon talk")),
        ]);
        let head = head_from(&item);
        assert_eq!(head.key, None);
        let lock = head.lock.expect("locked");
        assert_eq!(
            lock.describe(),
            "by bob@admin since 2024-05-01T12:00:00.000Z: CppCon talk"
        );
    }

    #[test]
    fn the_loser_of_a_race_is_told_who_changed_what_when() {
        let head = Head {
            seq: 5,
            key: Some("dist/master/3.tar.xz".into()),
            from: Some("dist/master/2.tar.xz".into()),
            state: Some(ChangeState::Done),
            at: Some(Timestamp(1_714_564_803_250)),
            by: Some("carol@laptop".into()),
            lock: None,
        };
        assert_eq!(
            ClaimError::Raced(Box::new(head)).to_string(),
            "someone else changed the build from dist/master/2.tar.xz to dist/master/3.tar.xz \
             at 2024-05-01T12:00:03.250Z (by carol@laptop) while this change was being \
             prepared; nothing was changed: re-run to start from the current build"
        );
    }
}
