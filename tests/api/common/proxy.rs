//! A TCP proxy in front of the test database that a test can cut and restore, to see
//! how the service behaves while its database is unreachable — without stopping a server
//! other tests share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: live connections watch it and close.
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// Listens on a loopback port and forwards to `target` (host:port).
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let up2 = up.clone();
        let gen_tx = generation.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            up,
            generation,
        }
    }

    /// Refuses new connections and closes the live ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let scheme_end = url.find("://").unwrap() + 3;
        let rest = &url[scheme_end..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..host_end];
        let userinfo = authority
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        format!(
            "{}{userinfo}{}{}",
            &url[..scheme_end],
            self.addr,
            &rest[host_end..]
        )
    }

    /// `host:port` of a postgres URL.
    pub fn target_of(url: &str) -> String {
        let scheme_end = url.find("://").unwrap() + 3;
        let rest = &url[scheme_end..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..host_end];
        let hostport = authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority);
        if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:5432")
        }
    }
}
