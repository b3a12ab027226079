//! The single SQLite writer. SQLite allows one writer at a time; funnelling
//! every write transaction through one connection on one thread means no
//! caller ever sees "database is locked" and tail latency stays bounded
//! (several writer connections stall each other for hundreds of ms).
//!
//! Group commit: with `synchronous=FULL` every COMMIT costs an fsync, so the
//! writer commits the writes that queued up meanwhile together. It blocks for
//! the first write, takes whatever else is already queued (at most
//! [`MAX_GROUP`], never waiting for more) and runs them in one `BEGIN
//! IMMEDIATE` transaction, each closure inside its own savepoint: one that
//! fails or panics is rolled back to its savepoint alone and gets its own
//! error, the others still commit. Callers are answered only after the single
//! COMMIT (and its fsync) returned; if that COMMIT fails nothing of the group
//! was stored and every caller whose closure succeeded gets the error. Alone, a
//! write is a group of one and waits for nothing; under load groups grow by
//! themselves. A closure sees the writes of those before it in its group,
//! exactly as if they had committed first.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use diesel::connection::{Connection, TransactionManager};
use diesel::result::Error as QueryError;

use super::conn::{DbConn, DbError, begin_immediate};
use super::manager::Manager;

type Tm = <DbConn as Connection>::TransactionManager;

/// Most writes committed in one group; bounds how long a group holds the lock.
const MAX_GROUP: usize = 256;

/// Answers one caller once its write's fate is known: `None` when the write is
/// durable, otherwise the error that undid (or prevented) it.
type Deliver = Box<dyn FnOnce(Option<&QueryError>) + Send>;

/// What a queued write reports after its closure ran.
struct Ran {
    /// The closure succeeded: keep its savepoint.
    ok: bool,
    /// Sends the caller its result, after the group's COMMIT.
    answer: Deliver,
}

/// A queued write: given the connection (inside its savepoint) it runs the
/// caller's closure; given the error that kept its group from starting, it
/// runs nothing.
type Job = Box<dyn FnOnce(Result<&mut DbConn, &QueryError>) -> Ran + Send>;

/// Counters of the SQLite writer, for monitoring and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Groups run: transactions (and fsyncs with `synchronous=FULL`) the
    /// writer committed or attempted.
    pub groups: u64,
    /// Write closures handled (run, or refused because their group failed to
    /// start).
    pub writes: u64,
    /// Writes submitted and not yet picked up by the writer.
    pub queued: u64,
}

#[derive(Default)]
struct Counters {
    groups: AtomicU64,
    writes: AtomicU64,
    queued: AtomicU64,
}

/// Handle to the writer thread; dropping the last handle stops the thread.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Opens the writer connection and starts its thread.
    pub(super) fn start(manager: Manager) -> Result<Writer, DbError> {
        let mut conn = manager.establish().map_err(|e| DbError::Task(e.to_string()))?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut pending = VecDeque::new();
                loop {
                    if pending.is_empty() {
                        let Ok(job) = inbox.recv() else { break };
                        pending.push_back(job);
                    }
                    while pending.len() < MAX_GROUP {
                        let Ok(job) = inbox.try_recv() else { break };
                        pending.push_back(job);
                    }
                    thread_counters.queued.fetch_sub(pending.len() as u64, Ordering::Relaxed);
                    run_group(&mut conn, &mut pending, &thread_counters);
                    // Jobs a broken group left unrun are counted as queued again.
                    thread_counters.queued.fetch_add(pending.len() as u64, Ordering::Relaxed);
                    if depth(&mut conn).ok() != Some(0) {
                        // The transaction could not be closed: start afresh.
                        match manager.establish() {
                            Ok(fresh) => conn = fresh,
                            Err(e) => tracing::error!("cannot reopen the SQLite writer connection: {e}"),
                        }
                    }
                }
            })
            .map_err(|e| DbError::Task(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { jobs, counters })
    }

    /// The writer's counters so far.
    pub(super) fn stats(&self) -> WriterStats {
        WriterStats {
            groups: self.counters.groups.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            queued: self.counters.queued.load(Ordering::Relaxed),
        }
    }

    /// Queues a write and waits until its group committed (or failed). An
    /// error or a panic inside the closure rolls back this write alone and is
    /// reported to this caller only; the writer keeps running.
    pub(super) async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn: Result<&mut DbConn, &QueryError>| {
            let result = match conn {
                Ok(conn) => {
                    let _entered = span.enter();
                    catch_unwind(AssertUnwindSafe(|| f(conn)))
                        .unwrap_or_else(|_| Err(E::from(DbError::Task("write transaction panicked".into()))))
                }
                Err(e) => Err(E::from(shared_error(e))),
            };
            let ok = result.is_ok();
            let answer: Deliver = Box::new(move |undone: Option<&QueryError>| {
                let result = match (result, undone) {
                    (Ok(_), Some(e)) => Err(E::from(shared_error(e))),
                    (result, _) => result,
                };
                // The caller may have gone away (request cancelled); the write
                // has committed or rolled back regardless.
                let _ = reply.send(result);
            });
            Ran { ok, answer }
        });
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(E::from(DbError::WriterGone));
        }
        answer.await.map_err(|_| E::from(DbError::WriterGone))?
    }
}

/// Runs the jobs in `pending` as one group: `BEGIN IMMEDIATE`, one savepoint
/// per job, one COMMIT, then the answers. Should a savepoint fail to close,
/// the transaction can no longer be trusted: it is rolled back, the jobs run so
/// far get the error and the rest stay in `pending` for the next group.
fn run_group(conn: &mut DbConn, pending: &mut VecDeque<Job>, counters: &Counters) {
    counters.groups.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = begin_immediate(conn) {
        tracing::error!("SQLite writer cannot begin a transaction: {e}");
        counters.writes.fetch_add(pending.len() as u64, Ordering::Relaxed);
        for job in pending.drain(..) {
            (job(Err(&e)).answer)(Some(&e));
        }
        return;
    }
    let mut answers = Vec::with_capacity(pending.len());
    let mut broken = None;
    while let Some(job) = pending.pop_front() {
        counters.writes.fetch_add(1, Ordering::Relaxed);
        let ran = match Tm::begin_transaction(conn) {
            Ok(()) => {
                let ran = job(Ok(conn));
                if let Err(e) = end_savepoint(conn, ran.ok) {
                    broken = Some(e);
                }
                ran
            }
            Err(e) => {
                let ran = job(Err(&e));
                broken = Some(e);
                ran
            }
        };
        answers.push(ran.answer);
        if broken.is_some() {
            break;
        }
    }
    let outcome = match broken {
        Some(e) => {
            tracing::error!("SQLite writer rolls back a group of {}: {e}", answers.len());
            while depth(conn).is_ok_and(|d| d > 0) && Tm::rollback_transaction(conn).is_ok() {}
            Err(e)
        }
        None => Tm::commit_transaction(conn).inspect_err(|e| {
            tracing::error!("SQLite writer cannot commit a group of {}: {e}", answers.len());
        }),
    };
    for answer in answers {
        answer(outcome.as_ref().err());
    }
}

/// Releases (`keep`) or rolls back the savepoint of the job that just ran and
/// checks the group's transaction is back at depth 1.
fn end_savepoint(conn: &mut DbConn, keep: bool) -> Result<(), QueryError> {
    // A panic can leave the closure's own nested transactions open.
    while depth(conn)? > 2 {
        Tm::rollback_transaction(conn)?;
    }
    if keep {
        Tm::commit_transaction(conn)?;
    } else {
        Tm::rollback_transaction(conn)?;
    }
    match depth(conn)? {
        1 => Ok(()),
        _ => Err(QueryError::NotInTransaction),
    }
}

/// Current transaction depth: 0 outside a transaction, 1 in the group's
/// transaction, 2 inside a job's savepoint.
fn depth(conn: &mut DbConn) -> Result<u32, QueryError> {
    Ok(Tm::transaction_manager_status_mut(conn).transaction_depth()?.map_or(0, std::num::NonZero::get))
}

/// Copies an error for each caller it concerns (errors are not `Clone`),
/// keeping a database error's kind so callers can still recognise it.
fn shared_error(e: &QueryError) -> DbError {
    match e {
        QueryError::DatabaseError(kind, info) => {
            DbError::Query(QueryError::DatabaseError(*kind, Box::new(info.message().to_owned())))
        }
        other => DbError::Task(format!("write group failed: {other}")),
    }
}
