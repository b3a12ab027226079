//! Logging setup: structured logs filtered by RUST_LOG (default info), one
//! line per finished request carrying its request id, method, route and
//! status (the request span closing).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Builds the subscriber writing to `writer` (tests capture the output).
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(writer)
        .finish()
}

/// Installs the global subscriber on stderr (once; later calls are ignored).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let _ = tracing::subscriber::set_global_default(subscriber(filter, std::io::stderr));
}
