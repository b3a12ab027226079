//! Browser tests of the live pages, in a real headless Chromium (helpers
//! from [`crate::browser`]):
//!
//! 1. an admin's open monitor shows an employee's progress change (made over
//!    the API) live, without a reload;
//! 2. an employee's My tasks page keeps working through a dropped
//!    connection: two updates made while cut off are shown as pending and,
//!    once the connection returns, land exactly once and in order;
//! 3. an admin's open Jobs page lists a new job live, without a reload;
//! 4. a task an admin creates for an employee appears live on the
//!    employee's My tasks, on a manager's monitor and in the right column of
//!    the admin's board (moving column when its status changes), with the counters
//!    agreeing, and leaves My tasks live when it is reassigned away; no
//!    page logs an error meanwhile;
//! 5. at phone width the sidebar folds behind the menu button, a refused
//!    update far down My tasks shows a toast in view that can be dismissed,
//!    and a done task's card offers no controls.
//!
//! The connection is cut with a small TCP proxy between the browser and the
//! server ([`CutProxy`]): wholly, or partly (WebSockets through, requests
//! not). Waits are bounded polls; timings are printed, never asserted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use taskpulse::domain::role::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::browser::*;
use crate::support::*;

/// How often a condition in the page is checked.
const POLL: Duration = Duration::from_millis(50);
/// Longest wait for a live update to show.
const LIVE_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for the queued updates to be sent once the connection is
/// back (the page retries every few seconds; the socket backs off longer).
const RECOVERY_WAIT: Duration = Duration::from_secs(30);

/// Runs `script` in the page every [`POLL`] until `done` accepts its answer,
/// and returns that answer; panics after `bound`, showing the last answer.
async fn wait_until(
    client: &Client,
    what: &str,
    bound: Duration,
    script: &str,
    args: Vec<Value>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let value = client.execute(script, args.clone()).await.unwrap_or_else(|e| panic!("{what}: script failed: {e}"));
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {bound:?}; the page shows {value}");
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the page's live connection is open ("Live").
const IS_LIVE: &str = "return document.querySelector('[data-live-status]').classList.contains('is-live');";

/// Waits until the page's live connection is open (or, `false`, closed).
async fn wait_live(client: &Client, live: bool, bound: Duration) {
    let what = if live { "the page's live connection opens" } else { "the page notices the dropped connection" };
    wait_until(client, what, bound, IS_LIVE, vec![], |v| *v == json!(live)).await;
}

/// What the proxy lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Everything.
    Up,
    /// Only WebSocket connections; other requests fail (a partial outage).
    WebSocketsOnly,
    /// Nothing: open connections are dropped, new ones closed at once.
    Down,
}

/// A TCP proxy in front of the app, whose [`Link`] the test sets.
struct CutProxy {
    addr: SocketAddr,
    link: Arc<watch::Sender<Link>>,
    accept: JoinHandle<()>,
}

impl CutProxy {
    async fn start(target_port: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let link = Arc::new(watch::channel(Link::Up).0);
        let accept = tokio::spawn({
            let link = link.clone();
            async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else { continue };
                    // Subscribed before reading the link, so a cut racing with
                    // this connection either refuses it or ends it.
                    let mut watch = link.subscribe();
                    let now = *watch.borrow_and_update();
                    if now != Link::Down {
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = forward(inbound, target_port, now == Link::WebSocketsOnly) => {}
                                _ = watch.wait_for(|l| *l == Link::Down) => {}
                            }
                        });
                    }
                }
            }
        });
        CutProxy { addr, link, accept }
    }

    /// The origin the browser uses.
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(Link::Down);
    }
}

/// Forwards one connection to the app; with `websockets_only`, only when its
/// request is a WebSocket upgrade.
async fn forward(mut inbound: TcpStream, target_port: u16, websockets_only: bool) {
    let mut head = Vec::new();
    if websockets_only {
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match inbound.read(&mut buf).await {
                Ok(n) if n > 0 && head.len() < 64 * 1024 => head.extend_from_slice(&buf[..n]),
                _ => return,
            }
        }
        if !String::from_utf8_lossy(&head).to_ascii_lowercase().contains("upgrade: websocket") {
            return;
        }
    }
    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await else { return };
    if outbound.write_all(&head).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}

/// Reads the state a monitor card shows (percent, status badge) and the
/// reload marker.
const MONITOR_CARD: &str = "const card = document.getElementById('mon-' + arguments[0]); \
    if (!card) return null; \
    return { percent: card.querySelector('.state-line .percent').textContent.trim(), \
             status: card.querySelector('.state-line .badge').textContent.trim(), \
             bar: card.querySelector('progress').getAttribute('value'), \
             recent: (card.querySelector('.recent') || {}).textContent || '', \
             marker: window.__marker === 1 };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_shows_an_employees_progress_live_without_reload() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let admin = app.create_user("ada", Role::Admin).await;
    let employee = app.create_user("emil", Role::Employee).await;
    let task = fixtures::create_task(&app, &admin, TaskSpec::new("Ship the release", &[&employee])).await;
    let api = Api::for_user(&app, &employee).await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let client = open_browser(&driver, profile.path()).await;
    sign_in(&client, &app.address, &admin).await;
    client.goto(&app.url("/monitor")).await.expect("open /monitor");
    wait_for_text(&client, &format!("#mon-{task}")).await;
    wait_live(&client, true, LIVE_WAIT).await;

    // A marker that a reload would lose, and an observer that notes (in the
    // page's clock) when the card first shows the new state.
    client
        .execute(
            "window.__marker = 1; \
             const id = 'mon-' + arguments[0]; \
             new MutationObserver(function () { \
               const card = document.getElementById(id); \
               if (!window.__shownAt && card && card.querySelector('.state-line .percent').textContent.trim() === '75%') \
                 window.__shownAt = performance.now(); \
             }).observe(document.body, { subtree: true, childList: true, characterData: true }); \
             window.__sentAt = performance.now();",
            vec![json!(task)],
        )
        .await
        .expect("set the reload marker");
    let before = client.execute(MONITOR_CARD, vec![json!(task)]).await.expect("read the card");
    assert_eq!(before["percent"], "0%", "the card starts at 0%: {before}");
    assert_eq!(before["status"], "Pending", "the card starts Pending: {before}");

    // The employee sets 75 % over the API, outside the admin's browser.
    let started = Instant::now();
    let (status, body) = api.progress(task, json!({ "progress_percentage": 75 })).await;
    assert_eq!(status, 200, "progress accepted: {body}");
    assert_eq!(body["task_status"], "IN_PROGRESS", "75 % is IN_PROGRESS: {body}");
    let answered = started.elapsed();

    let shown = wait_until(
        &client,
        "the admin's monitor shows 75% and In progress",
        LIVE_WAIT,
        MONITOR_CARD,
        vec![json!(task)],
        |s| s["percent"] == "75%" && s["status"] == "In progress",
    )
    .await;
    let seen = started.elapsed();
    assert_eq!(shown["bar"], "75", "the progress bar moved too: {shown}");
    assert!(
        shown["recent"].as_str().is_some_and(|r| r.contains("0% → 75%")),
        "the card lists the new update among its latest: {shown}"
    );
    assert_eq!(shown["marker"], true, "the page was not reloaded: {shown}");
    let card_class = client
        .find(Locator::Css(&format!("#mon-{task}")))
        .await
        .expect("the card")
        .attr("class")
        .await
        .expect("card class")
        .unwrap_or_default();
    assert!(card_class.contains("status-IN_PROGRESS"), "the card is coloured as in progress: {card_class:?}");
    // The counters follow (they are refreshed a moment after a change).
    wait_until(
        &client,
        "the counters show one task in progress",
        LIVE_WAIT,
        "return ['total', 'pending', 'in_progress'].map(function (k) { \
           return document.querySelector('#counters [data-count=' + k + ']').textContent.trim(); });",
        vec![],
        |c| *c == json!(["1", "0", "1"]),
    )
    .await;
    let in_page = client
        .execute("return window.__shownAt - window.__sentAt;", vec![])
        .await
        .expect("page timings")
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!(
        "live monitor: API answered after {answered:?}; the page showed 75% {in_page:.0} ms after the request \
         started (page clock), seen by the test's poll after {seen:?}"
    );

    client.close().await.expect("close the browser session");
}

/// Opens `path` signed in as `user` in a new browser session and waits
/// until its live connection is open.
async fn live_page(
    driver: &ChromeDriver,
    profile: &std::path::Path,
    app: &TestApp,
    user: &TestUser,
    path: &str,
) -> Client {
    let client = open_browser(driver, profile).await;
    sign_in(&client, &app.address, user).await;
    client.goto(&app.url(path)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    wait_live(&client, true, LIVE_WAIT).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_appears_live_on_my_tasks_and_the_monitor() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let admin = app.create_user("ada", Role::Admin).await;
    let manager = app.create_user("mona", Role::Manager).await;
    let employee = app.create_user("emil", Role::Employee).await;
    let other = app.create_user("olga", Role::Employee).await;
    let first = fixtures::create_task(&app, &admin, TaskSpec::new("Already there", &[&employee])).await;

    let driver = ChromeDriver::start().await;
    let (p1, p2, p3) = (
        tempfile::tempdir().expect("profile"),
        tempfile::tempdir().expect("profile"),
        tempfile::tempdir().expect("profile"),
    );
    let mine = live_page(&driver, p1.path(), &app, &employee, "/tasks").await;
    let monitor = live_page(&driver, p2.path(), &app, &manager, "/monitor").await;
    let board = live_page(&driver, p3.path(), &app, &admin, "/monitor?view=board").await;
    wait_for_text(&mine, &format!("#mine-{first}")).await;
    wait_for_text(&monitor, &format!("#mon-{first}")).await;

    let task = fixtures::create_task(&app, &admin, TaskSpec::new("Arrives live", &[&employee])).await;
    let title = |prefix: &'static str| {
        format!(
            "const c = document.getElementById('{prefix}' + arguments[0]); return c ? c.querySelector('h3 a').textContent.trim() : null;"
        )
    };
    wait_until(&mine, "the new card on My tasks", LIVE_WAIT, &title("mine-"), vec![json!(task)], |v| {
        *v == json!("Arrives live")
    })
    .await;
    wait_until(&monitor, "the new card on the monitor", LIVE_WAIT, &title("mon-"), vec![json!(task)], |v| {
        *v == json!("Arrives live")
    })
    .await;
    // On the board it lands in its status's column, and moves with it.
    let column = "const c = document.getElementById('mon-' + arguments[0]); return c ? c.parentElement.id : null;";
    wait_until(&board, "the new card in the board's Pending column", LIVE_WAIT, column, vec![json!(task)], |v| {
        *v == json!("col-PENDING")
    })
    .await;
    Api::for_user(&app, &employee).await.progress(task, json!({ "progress_percentage": 30 })).await;
    wait_until(&board, "the card moves to In progress", LIVE_WAIT, column, vec![json!(task)], |v| {
        *v == json!("col-IN_PROGRESS")
    })
    .await;
    let copies = board.execute("return document.querySelectorAll('#mon-' + arguments[0]).length;", vec![json!(task)]);
    assert_eq!(copies.await.expect("read"), json!(1), "moved, not copied");
    // The counters agree with the grid.
    wait_until(
        &monitor,
        "the monitor's counters count both tasks",
        LIVE_WAIT,
        "return [document.querySelector('#counters [data-count=total]').textContent.trim(), \
                 document.querySelectorAll('#monitor-grid .task-card').length];",
        vec![],
        |v| *v == json!(["2", 2]),
    )
    .await;

    // Reassigned away: it leaves the employee's page, stays on the monitor.
    let actor = fixtures::actor_for(&app, &admin).await;
    let input = taskpulse::services::assign::TaskInput {
        title: "Arrives live".into(),
        description: String::new(),
        project_id: None,
        assignee_ids: vec![other.id],
        due: String::new(),
        zone: chrono_tz::UTC,
        priority: "MEDIUM".into(),
        estimated_hours: "4".into(),
        difficulty: "5".into(),
        skills: Vec::new(),
    };
    taskpulse::services::assign::update(&app.db, &app.bus, &actor, task, None, input).await.expect("reassigned");
    wait_until(&mine, "the reassigned card leaves My tasks", LIVE_WAIT, &title("mine-"), vec![json!(task)], |v| {
        v.is_null()
    })
    .await;
    let still = mine.execute(&title("mine-"), vec![json!(first)]).await.expect("read");
    assert_eq!(still, json!("Already there"), "the other card stays");
    assert!(
        monitor.execute(&title("mon-"), vec![json!(task)]).await.expect("read").is_string(),
        "still on the monitor"
    );

    assert_eq!(console_errors(&mine).await, Vec::<String>::new(), "My tasks logged no error");
    assert_eq!(console_errors(&monitor).await, Vec::<String>::new(), "the monitor logged no error");
    assert_eq!(console_errors(&board).await, Vec::<String>::new(), "the board logged no error");
    mine.close().await.expect("close");
    monitor.close().await.expect("close");
    board.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_at_phone_width_keeps_menus_and_messages_in_reach() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let admin = app.create_user("ada", Role::Admin).await;
    let employee = app.create_user("emil", Role::Employee).await;
    let done = fixtures::create_task(&app, &admin, TaskSpec::new("Finished work", &[&employee])).await;
    let mut tasks = Vec::new();
    for n in 0..10 {
        tasks.push(fixtures::create_task(&app, &admin, TaskSpec::new(&format!("Task number {n}"), &[&employee])).await);
    }
    Api::for_user(&app, &employee).await.progress(done, json!({ "progress_percentage": 100 })).await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().expect("profile");
    let client = open_browser(&driver, profile.path()).await;
    client.set_window_size(390, 844).await.expect("phone width");
    sign_in(&client, &app.address, &employee).await;
    client.goto(&app.url("/tasks")).await.expect("open My tasks");
    wait_live(&client, true, LIVE_WAIT).await;

    // The sidebar is folded; the menu button opens it.
    let shown = "const s = document.getElementById('sidebar'); return getComputedStyle(s).display !== 'none';";
    assert_eq!(client.execute(shown, vec![]).await.expect("read"), json!(false), "folded at 390 px");
    client.find(Locator::Css("[data-menu]")).await.expect("menu button").click().await.expect("open the menu");
    assert_eq!(client.execute(shown, vec![]).await.expect("read"), json!(true), "the menu opens it");
    client.find(Locator::Css("[data-menu]")).await.expect("menu button").click().await.expect("close the menu");

    // A done task offers no controls.
    let controls = "const c = document.getElementById('mine-' + arguments[0]); \
        return [c.querySelectorAll('input[type=range], button[name=action]').length, !!c.querySelector('[data-role=closed]')];";
    assert_eq!(client.execute(controls, vec![json!(done)]).await.expect("read"), json!([0, true]));

    // The task furthest down is cancelled where this page cannot hear it;
    // updating it from the bottom of the page is refused with a toast.
    let last = client
        .execute(
            "const b = document.querySelectorAll('#my-tasks button[name=action][value=progress]'); \
             return Number(b[b.length - 1].closest('form').getAttribute('data-task'));",
            vec![],
        )
        .await
        .expect("the lowest card")
        .as_i64()
        .expect("a task id");
    assert!(tasks.contains(&last));
    let actor = fixtures::actor_for(&app, &admin).await;
    taskpulse::services::progress::set_status(&app.db, &Default::default(), &actor, last, "CANCELLED", "", None)
        .await
        .expect("cancelled");
    open_controls(&client, last).await;
    let button = client
        .find(Locator::Css(&format!("#mine-{last} button[name=action][value=progress]")))
        .await
        .expect("its update button");
    client.execute("arguments[0].scrollIntoView({block: 'end'});", vec![json!(button)]).await.expect("scroll");
    let scrolled = client.execute("return window.scrollY;", vec![]).await.expect("read");
    assert!(scrolled.as_f64().unwrap_or(0.0) > 300.0, "the page scrolled down: {scrolled}");
    button.click().await.expect("click update");
    let toast = wait_until(
        &client,
        "a toast in view",
        LIVE_WAIT,
        "const t = document.querySelector('#toasts .toast'); if (!t) return null; const r = t.getBoundingClientRect(); \
         return { text: t.innerText, role: t.getAttribute('role'), inView: r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth };",
        vec![],
        |v| !v.is_null(),
    )
    .await;
    assert_eq!(toast["inView"], true, "the toast is in view: {toast}");
    assert_eq!(toast["role"], "alert", "announced: {toast}");
    assert!(toast["text"].as_str().is_some_and(|t| t.contains("changed meanwhile")), "says why: {toast}");
    client.find(Locator::Css("#toasts .toast-close")).await.expect("dismiss button").click().await.expect("dismiss");
    let left =
        client.execute("return document.querySelectorAll('#toasts .toast').length;", vec![]).await.expect("read");
    assert_eq!(left, json!(0), "dismissed");
    // The refused request itself is logged by the browser (409); nothing else.
    let unexpected: Vec<String> =
        console_errors(&client).await.into_iter().filter(|e| !e.contains("status of 409")).collect();
    assert_eq!(unexpected, Vec::<String>::new(), "no page error");
    client.close().await.expect("close");
}

/// Reads the state of an employee card and the offline queue.
const MY_CARD: &str = "const card = document.getElementById('mine-' + arguments[0]); \
    if (!card) return null; \
    const note = card.querySelector('.pending-note'); \
    const status = document.querySelector('[data-queue-status]'); \
    const key = Object.keys(localStorage).find(function (k) { return k.indexOf('taskpulse-queue-') === 0; }); \
    return { progress: card.querySelector('.task-state').getAttribute('data-progress'), \
             percent: card.querySelector('[data-role=percent]').textContent.trim(), \
             status: card.querySelector('[data-role=status]').textContent.trim(), \
             note: note.hidden ? '' : note.textContent.trim(), \
             queueStatus: status.hidden ? '' : status.textContent.trim(), \
             queue: key ? JSON.parse(localStorage.getItem(key)) : [], \
             live: document.querySelector('[data-live-status]').classList.contains('is-live'), \
             marker: window.__marker === 1, \
             unshown: window.__unshown || [] };";

/// Installs a watcher that records (in `window.__unshown`) every moment the
/// card of a task, after a change of the page, does not show as many
/// pending updates as the browser holds for it.
const WATCH_PENDING: &str = "window.__unshown = []; \
    const id = String(arguments[0]); \
    new MutationObserver(function () { \
      const key = Object.keys(localStorage).find(function (k) { return k.indexOf('taskpulse-queue-') === 0; }); \
      const n = (key ? JSON.parse(localStorage.getItem(key)) : []).filter(function (q) { return q.task === id; }).length; \
      const note = document.querySelector('#mine-' + id + ' .pending-note'); \
      const says = !note || note.hidden ? 0 : parseInt(note.textContent, 10); \
      if (says !== n) window.__unshown.push(n + ' queued, ' + says + ' shown'); \
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });";

/// Opens a card's progress controls, as a person does: its "Update"
/// summary, by keyboard (focus, then Enter).
async fn open_controls(client: &Client, task: i64) {
    let open = format!("#mine-{task} .update-panel[open]");
    if client.find(Locator::Css(&open)).await.is_ok() {
        return;
    }
    let summary =
        client.find(Locator::Css(&format!("#mine-{task} .update-panel > summary"))).await.expect("the Update summary");
    summary.send_keys(&Key::Enter.to_string()).await.expect("open the controls by keyboard");
    client.find(Locator::Css(&open)).await.expect("the controls are open");
}

/// Clicks a quick-progress button of a card.
async fn click_quick(client: &Client, task: i64, value: u8) {
    open_controls(client, task).await;
    client
        .find(Locator::Css(&format!("#mine-{task} button[name=progress_quick][value='{value}']")))
        .await
        .unwrap_or_else(|e| panic!("the {value}% button: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {value}%: {e}"));
}

async fn my_card(client: &Client, task: i64) -> Value {
    client.execute(MY_CARD, vec![json!(task)]).await.expect("read the card")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_updates_are_queued_and_land_once_in_order() {
    if !browser_available() {
        return;
    }
    // The page is served through a proxy on another port, as behind a
    // reverse proxy: the proxy's address is a trusted one.
    let app = TestApp::try_spawn_with(Backend::Sqlite, |s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("IP")])
        .await
        .expect("SQLite app");
    let admin = app.create_user("ada", Role::Admin).await;
    let employee = app.create_user("emil", Role::Employee).await;
    let task = fixtures::create_task(&app, &admin, TaskSpec::new("Write the manual", &[&employee])).await;
    let other = fixtures::create_task(&app, &admin, TaskSpec::new("Review the index", &[&employee])).await;
    let trail_before = fixtures::trail(&app, task).await.len();
    let proxy = CutProxy::start(app.port).await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let client = open_browser(&driver, profile.path()).await;
    // Everything, the page and its socket, goes through the proxy.
    sign_in(&client, &proxy.origin(), &employee).await;
    client.goto(&format!("{}/tasks", proxy.origin())).await.expect("open /tasks");
    wait_for_text(&client, &format!("#mine-{task}")).await;
    wait_live(&client, true, LIVE_WAIT).await;
    client.execute("window.__marker = 1;", vec![]).await.expect("set the reload marker");

    // Cut the connection; the page notices that its socket is gone.
    proxy.set(Link::Down);
    wait_live(&client, false, LIVE_WAIT).await;

    // Two updates while offline: a quick button, then the slider moved by
    // keyboard with a note and "Update progress". Both are kept in the
    // browser and shown as pending.
    client.execute(WATCH_PENDING, vec![json!(task)]).await.expect("watch the pending notes");
    click_quick(&client, task, 25).await;
    wait_until(&client, "the first offline update is shown as pending", LIVE_WAIT, MY_CARD, vec![json!(task)], |s| {
        s["note"] == "1 update waiting to be sent"
    })
    .await;
    open_controls(&client, task).await;
    let slider = client.find(Locator::Css(&format!("#progress-{task}"))).await.expect("the progress slider");
    // Page Up moves a range input by a tenth of its range: 0 → 50.
    slider.send_keys(&Key::PageUp.to_string().repeat(5)).await.expect("move the slider by keyboard");
    client
        .find(Locator::Css(&format!("#notes-{task}")))
        .await
        .expect("the notes field")
        .send_keys("Half of the chapters drafted")
        .await
        .expect("type a note");
    client
        .find(Locator::Css(&format!("#mine-{task} button[name=action][value=progress]")))
        .await
        .expect("the Update progress button")
        .click()
        .await
        .expect("click Update progress");
    let pending =
        wait_until(&client, "both offline updates are shown as pending", LIVE_WAIT, MY_CARD, vec![json!(task)], |s| {
            s["note"] == "2 updates waiting to be sent"
        })
        .await;
    assert!(
        pending["queueStatus"].as_str().is_some_and(|s| s.starts_with("2 pending updates")),
        "the page says two updates are pending: {pending}"
    );
    assert_eq!(pending["progress"], "0", "the task's shown state is still the server's: {pending}");
    let queue = pending["queue"].as_array().expect("the stored queue");
    assert_eq!(queue.len(), 2, "two updates stored in the browser: {pending}");
    assert_ne!(queue[0]["key"], queue[1]["key"], "each update has its own idempotency key: {pending}");
    assert_eq!(fixtures::trail(&app, task).await.len(), trail_before, "nothing reached the server while cut off");
    assert_eq!(fixtures::task(&app, task).await.progress, 0, "the task is unchanged while cut off");

    // Meanwhile another task of hers changes elsewhere (over the API), so
    // the page is stale when its socket returns.
    let api = Api::for_user(&app, &employee).await;
    let (status, body) = api.progress(other, json!({ "progress_percentage": 10 })).await;
    assert_eq!(status, 200, "the other task's update is accepted: {body}");

    // The socket comes back before requests do: it resyncs the page (a
    // fresh rendering of the cards), and the cards still show what waits.
    client
        .execute("document.getElementById('mine-' + arguments[0]).__before = true;", vec![json!(task)])
        .await
        .expect("mark the card");
    proxy.set(Link::WebSocketsOnly);
    wait_live(&client, true, RECOVERY_WAIT).await;
    wait_until(
        &client,
        "the reconnected socket resyncs the cards",
        LIVE_WAIT,
        "return !document.getElementById('mine-' + arguments[0]).__before;",
        vec![json!(task)],
        |v| *v == json!(true),
    )
    .await;
    let missed = my_card(&client, other).await;
    assert_eq!(missed["progress"], "10", "the resync brings the change made while offline: {missed}");
    let resynced = my_card(&client, task).await;
    assert_eq!(resynced["queue"].as_array().map(Vec::len), Some(2), "both still queued: {resynced}");
    assert_eq!(resynced["note"], "2 updates waiting to be sent", "the resynced card shows them pending: {resynced}");
    assert_eq!(fixtures::trail(&app, task).await.len(), trail_before, "nothing sent without requests getting through");

    // Requests get through again: the queue drains and the page shows the result.
    proxy.set(Link::Up);
    let restored = Instant::now();
    let done = wait_until(
        &client,
        "the queued updates are sent and the page shows 50%",
        RECOVERY_WAIT,
        MY_CARD,
        vec![json!(task)],
        |s| s["queue"] == json!([]) && s["progress"] == "50" && s["note"] == "" && s["queueStatus"] == "",
    )
    .await;
    eprintln!("offline queue: drained {:?} after the connection returned", restored.elapsed());
    assert_eq!(
        (&done["percent"], &done["status"]),
        (&json!("50%"), &json!("In progress")),
        "the page shows 50%: {done}"
    );
    assert_eq!(done["marker"], true, "the page was not reloaded: {done}");

    // Exactly two new trail rows, in the order they were made.
    let trail = fixtures::trail(&app, task).await;
    let new: Vec<_> = trail[trail_before..]
        .iter()
        .map(|row| {
            (
                row.previous_progress,
                row.new_progress,
                row.previous_status.as_str(),
                row.new_status.as_str(),
                row.notes.as_str(),
            )
        })
        .collect();
    assert_eq!(
        new,
        [(0, 25, "PENDING", "IN_PROGRESS", ""), (25, 50, "IN_PROGRESS", "IN_PROGRESS", "Half of the chapters drafted")],
        "both updates landed once, in order"
    );
    assert!(trail[trail_before..].iter().all(|row| row.user_id == Some(employee.id)), "both made by the employee");
    let stored = fixtures::task(&app, task).await;
    assert_eq!((stored.progress, stored.status.as_str()), (50, "IN_PROGRESS"), "final state");

    // And the page stays consistent.
    let after = my_card(&client, task).await;
    assert_eq!(after["progress"], "50", "after the reconnect the page still shows 50%: {after}");
    assert_eq!(after["unshown"], json!([]), "while updates were queued, the card always said so: {after}");

    client.close().await.expect("close the browser session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_page_shows_a_new_job_live_without_reload() {
    if !browser_available() {
        return;
    }
    let app = TestApp::try_spawn(Backend::Sqlite).await.expect("SQLite app");
    let admin = app.create_user("joan", Role::Admin).await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let client = open_browser(&driver, profile.path()).await;
    sign_in(&client, &app.address, &admin).await;
    client.goto(&app.url("/jobs")).await.expect("open /jobs");
    wait_for_text(&client, "#jobs-live").await;
    client.execute("window.__marker = 1;", vec![]).await.expect("set the reload marker");
    // Give the page's socket a moment to open (then it is up to date).
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A job enqueued by a use case elsewhere, announced as the engine does.
    let now = taskpulse::db::now();
    let id = app
        .db
        .write(move |c| {
            let options = taskpulse::jobs::EnqueueOptions::default();
            Ok::<_, taskpulse::db::DbError>(taskpulse::jobs::enqueue_in(c, "cleanup-jobs", &json!({}), &options, now)?)
        })
        .await
        .expect("enqueued")
        .expect("a new job");
    let started = Instant::now();
    app.bus.jobs_changed();
    let shown = wait_until(
        &client,
        "the Jobs page lists the new job",
        LIVE_WAIT,
        "const row = document.getElementById('job-' + arguments[0]); \
         return { row: !!row, pending: document.querySelector('[data-count=pending]')?.textContent, marker: window.__marker === 1 };",
        vec![json!(id)],
        |v| v["row"] == json!(true),
    )
    .await;
    eprintln!("the Jobs page showed the new job {:.0} ms after the change", started.elapsed().as_secs_f64() * 1e3);
    assert_eq!(shown["pending"], "1", "the counts follow: {shown}");
    assert_eq!(shown["marker"], true, "the page was not reloaded: {shown}");
}
