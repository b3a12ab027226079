//! The single SQLite writer. SQLite allows one writer at a time; funnelling
//! every write transaction through one connection on one thread means no
//! caller ever sees "database is locked" and tail latency stays bounded
//! (several writer connections stall each other for hundreds of ms).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use super::{DbConn, DbError, Manager, immediate_transaction};

type Job = Box<dyn FnOnce(&mut DbConn) + Send>;

/// Handle to the writer thread; dropping the last handle stops the thread.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the writer connection and starts its thread.
    pub(super) fn start(manager: Manager) -> Result<Writer, DbError> {
        let mut conn = manager.establish().map_err(|e| DbError::Task(e.to_string()))?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Ok(job) = inbox.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| DbError::Task(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Queues a write transaction and waits for its outcome. A panic inside
    /// the closure rolls its transaction back and is reported as an error;
    /// the writer keeps running.
    pub(super) async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn: &mut DbConn| {
            let _entered = span.enter();
            let outcome = catch_unwind(AssertUnwindSafe(|| immediate_transaction(conn, f)));
            let result = match outcome {
                Ok(result) => result,
                Err(_) => {
                    // The closure panicked inside the transaction: undo it.
                    use diesel::connection::{Connection, TransactionManager};
                    let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                    Err(E::from(DbError::Task("write transaction panicked".into())))
                }
            };
            // The caller may have gone away (request cancelled); the
            // transaction has committed or rolled back regardless.
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| E::from(DbError::WriterGone))?;
        answer.await.map_err(|_| E::from(DbError::WriterGone))?
    }
}
