//! SQLite group commit: concurrent transactions of this process share one
//! database transaction and one commit, each in its own savepoint.
//!
//! SQLite has one writer at a time and a commit costs a WAL append of every
//! page touched, so writers that queue behind each other join the open
//! transaction instead: each runs its work in a savepoint (an error rolls
//! back that work only), hands the connection to the next one, and returns
//! only once the group's COMMIT has succeeded. A failed commit fails every
//! member; no caller is ever answered before its write is committed.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;

use super::sql::Conn;
use super::StoreError;

type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

/// Members per commit at most, so a steady stream still commits often.
const MAX_GROUP: usize = 64;

/// The outcome of one group's commit, shared by its members.
#[derive(Default)]
struct Group {
    outcome: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

impl Group {
    fn finish(&self, outcome: Result<(), String>) {
        *lock(&self.outcome) = Some(outcome);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let mut outcome = lock(&self.outcome);
        loop {
            if let Some(result) = outcome.as_ref() {
                return result.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[derive(Default)]
struct State {
    /// The writer connection, when no member is running.
    conn: Option<Pooled>,
    /// A member is running its work.
    busy: bool,
    /// Members waiting for their turn.
    waiting: usize,
    /// The open transaction's group and how many members it has.
    open: Option<(Arc<Group>, usize)>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    turn: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends a member's turn even if its work panicked: the whole open
/// transaction is then abandoned (the connection is dropped, which rolls it
/// back) and its group fails.
struct Turn<'a> {
    writer: &'a GroupCommit,
    conn: Option<Pooled>,
    group: Option<Arc<Group>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.writer.state);
        if std::thread::panicking() || self.conn.is_none() {
            if let Some((group, _)) = state.open.take() {
                group.finish(Err("the transaction was abandoned".into()));
            }
            if let Some(group) = self.group.take() {
                group.finish(Err("the transaction was abandoned".into()));
            }
            state.conn = None;
        } else {
            state.conn = self.conn.take();
        }
        state.busy = false;
        self.writer.turn.notify_one();
    }
}

impl GroupCommit {
    /// Run `work` in the shared transaction; `Ok` only once it is committed.
    pub(crate) fn run<R>(
        &self,
        pool: &Pool<ConnectionManager<SqliteConnection>>,
        work: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut state = lock(&self.state);
        state.waiting += 1;
        while state.busy {
            state = self.turn.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.waiting -= 1;
        state.busy = true;
        let conn = state.conn.take();
        let open = state.open.take();
        drop(state);

        let mut turn = Turn {
            writer: self,
            conn: None,
            group: None,
        };
        let mut conn = match conn {
            Some(conn) => conn,
            None => pool.get().map_err(|e| StoreError::Pool(e.to_string()))?,
        };
        let (group, members) = match open {
            Some(open) => open,
            None => {
                conn.batch_execute("BEGIN IMMEDIATE")?;
                (Arc::new(Group::default()), 0)
            }
        };
        turn.group = Some(group.clone());
        let result = in_savepoint(&mut conn, work);
        if matches!(result, Err(StoreError::Query(_))) && conn.batch_execute("SELECT 1").is_err() {
            // The connection itself is broken: abandon the group.
            return result;
        }
        let members = members + 1;
        let join_next = lock(&self.state).waiting > 0 && members < MAX_GROUP;
        if join_next {
            // Leave the transaction open for the member whose turn is next,
            // then wait for the group's commit.
            lock(&self.state).open = Some((group.clone(), members));
            turn.conn = Some(conn);
            turn.group = None;
            drop(turn);
            return match group.wait() {
                Ok(()) => result,
                Err(why) => Err(StoreError::Database(format!("the commit failed: {why}"))),
            };
        }
        let committed = conn.batch_execute("COMMIT");
        match &committed {
            Ok(()) => group.finish(Ok(())),
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                group.finish(Err(e.to_string()));
            }
        }
        turn.conn = Some(conn);
        turn.group = None;
        drop(turn);
        committed?;
        result
    }
}

/// `work` inside a savepoint: its error undoes its writes only.
fn in_savepoint<R>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    conn.batch_execute("SAVEPOINT member")?;
    let result = work(&mut Conn::Sqlite(conn));
    match &result {
        Ok(_) => conn.batch_execute("RELEASE member")?,
        Err(_) => conn.batch_execute("ROLLBACK TO member; RELEASE member")?,
    }
    result
}
