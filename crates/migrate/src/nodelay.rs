//! `TCP_NODELAY` on the database connections sqlx opens.
//!
//! sqlx 0.9.0 opens its TCP sockets without `TCP_NODELAY` (a regression from 0.8, reported
//! as transact-rs/sqlx#4335 and fixed upstream by #4336, in no release yet). With Nagle's
//! algorithm on, a short message sent right after a longer one waits for the server's
//! delayed ACK, about 40 ms on Linux: the `CopyDone` that ends a `COPY`, the `Sync` after a
//! statement. sqlx gives no access to its socket, so after each connection is made the
//! migration finds this process's sockets connected to that server and sets the option on
//! them. It works on a duplicate of each descriptor (`pidfd_getfd` on this very process):
//! the option belongs to the socket, so the duplicate sets it for sqlx's descriptor too, and
//! no descriptor sqlx owns is touched. Setting it again on an earlier connection is a no-op.
//!
//! Remove this module once sqlx sets the option itself.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use rustix::process::{PidfdFlags, PidfdGetfdFlags};

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to `host:port`; how many
/// it found. A failure (a kernel older than 5.6, no `/proc`) leaves Nagle's algorithm on,
/// which costs latency, never correctness.
pub async fn set_on_connections_to(host: &str, port: u16) -> usize {
    let peers: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => addresses.collect(),
        Err(e) => {
            tracing::debug!(host, error = %e, "TCP_NODELAY not set: the host does not resolve");
            return 0;
        }
    };
    match set_on_sockets_to(&peers) {
        Ok(set) => set,
        Err(e) => {
            tracing::debug!(host, error = %e, "TCP_NODELAY not set on the connections");
            0
        }
    }
}

/// The host and port of a `postgres://` or `mysql://` URL, when it names a TCP server (a
/// Unix socket has no Nagle's algorithm).
pub fn tcp_server(url: &str) -> Option<(String, u16)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str().filter(|h| !h.is_empty())?;
    let port = parsed.port().unwrap_or(
        if parsed.scheme() == "postgres" || parsed.scheme() == "postgresql" {
            5432
        } else {
            3306
        },
    );
    Some((host.trim_matches(['[', ']']).to_owned(), port))
}

fn set_on_sockets_to(peers: &[SocketAddr]) -> std::io::Result<usize> {
    let mut set = 0;
    for_sockets_to(peers, |socket| {
        if rustix::net::sockopt::set_tcp_nodelay(socket, true).is_ok() {
            set += 1;
        }
    })?;
    Ok(set)
}

/// This process's TCP sockets connected to `host:port`: each one's local address and
/// whether it has `TCP_NODELAY` (what a test checks after connecting).
pub async fn sockets_to(host: &str, port: u16) -> std::io::Result<Vec<(SocketAddr, bool)>> {
    let peers: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    let mut sockets = Vec::new();
    let mut failed = None;
    for_sockets_to(&peers, |socket| {
        let local = rustix::net::getsockname(socket)
            .ok()
            .and_then(|local| SocketAddr::try_from(local).ok());
        match (local, rustix::net::sockopt::tcp_nodelay(socket)) {
            (Some(local), Ok(nodelay)) => sockets.push((local, nodelay)),
            (_, Err(e)) => failed = Some(e),
            (None, Ok(_)) => {}
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(sockets),
    }
}

/// Calls `each` with a duplicate of every socket descriptor of this process connected to
/// one of `peers`.
fn for_sockets_to(peers: &[SocketAddr], mut each: impl FnMut(&OwnedFd)) -> std::io::Result<()> {
    let me = rustix::process::pidfd_open(rustix::process::getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(entry) = entry else { continue };
        // Only sockets: their link reads `socket:[inode]`.
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|link| link.as_os_str().as_bytes().starts_with(b"socket:"));
        let fd = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok());
        let Some(fd) = fd.filter(|_| is_socket) else {
            continue;
        };
        // The descriptor may have been closed (and its number reused) since the listing:
        // what the duplicate is connected to is checked, not assumed.
        let Ok(socket) = rustix::process::pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let connected_to_peer = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(|peer| SocketAddr::try_from(peer).ok())
            .is_some_and(|peer| peers.contains(&peer));
        if connected_to_peer {
            each(&socket);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_of_a_url_is_its_host_and_port_or_the_engine_default() {
        assert_eq!(
            tcp_server("postgres://u:p@127.0.0.1/db"),
            Some(("127.0.0.1".to_owned(), 5432))
        );
        assert_eq!(
            tcp_server("mysql://root@db.example:3307/x"),
            Some(("db.example".to_owned(), 3307))
        );
        assert_eq!(
            tcp_server("postgres://[::1]:6543/db"),
            Some(("::1".to_owned(), 6543))
        );
        assert_eq!(tcp_server("postgres:///db?host=/run/postgresql"), None);
        assert_eq!(tcp_server("not a url"), None);
    }

    #[tokio::test]
    async fn sets_the_option_on_the_sockets_to_the_server_and_on_no_other() {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (server_addr, other_addr) = (server.local_addr().unwrap(), other.local_addr().unwrap());
        let first = std::net::TcpStream::connect(server_addr).unwrap();
        let second = std::net::TcpStream::connect(server_addr).unwrap();
        let elsewhere = std::net::TcpStream::connect(other_addr).unwrap();
        assert!(
            !first.nodelay().unwrap(),
            "sockets start with Nagle's algorithm on"
        );

        let set = set_on_connections_to("127.0.0.1", server_addr.port()).await;

        assert_eq!(set, 2);
        assert!(first.nodelay().unwrap() && second.nodelay().unwrap());
        assert!(
            !elsewhere.nodelay().unwrap(),
            "a socket to another server is left alone"
        );
        let to_server = sockets_to("127.0.0.1", server_addr.port()).await.unwrap();
        let mut locals: Vec<SocketAddr> = to_server.iter().map(|(local, _)| *local).collect();
        locals.sort();
        let mut expected = vec![first.local_addr().unwrap(), second.local_addr().unwrap()];
        expected.sort();
        assert_eq!(locals, expected);
        assert!(to_server.iter().all(|(_, nodelay)| *nodelay));
        let to_other = sockets_to("127.0.0.1", other_addr.port()).await.unwrap();
        assert_eq!(to_other, vec![(elsewhere.local_addr().unwrap(), false)]);
    }
}
