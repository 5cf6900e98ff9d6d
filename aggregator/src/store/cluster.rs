//! The ClickHouse nodes a GDPR erasure must reach. ClickHouse 18.16 refuses `ALTER … DELETE`
//! on a Distributed table and its `ON CLUSTER` needs ZooKeeper, so in cluster mode (the node
//! has the macro `tracking_cluster`, see `common::schema`) the aggregator runs the mutations on
//! every node's `<table>_local` itself. The nodes are those of cluster `<name>_all` (every
//! node, see `sql/cluster/remote_servers.example.xml`); their HTTP URLs come from
//! `AGGREGATOR_CLICKHOUSE_NODES` or, when that is empty, from the hosts in `system.clusters`
//! with the scheme and port of `CLICKHOUSE_URL`.

use common::ch::ChSettings;
use common::schema::{cluster_name, SchemaError};

/// One ClickHouse node the erasure runs on.
#[derive(Clone)]
pub struct Node {
    /// Its HTTP URL (for messages and logs).
    pub url: String,
    /// A client bound to the tracking database on that node.
    pub client: clickhouse::Client,
}

/// Why the nodes could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// ClickHouse refused or is unreachable.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The cluster config and the node list do not fit together.
    #[error("cluster mode: {0}")]
    Config(String),
}

impl From<SchemaError> for ClusterError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::ClickHouse(e) => Self::ClickHouse(e),
            other => Self::Config(other.to_string()),
        }
    }
}

/// The nodes to erase on: just the configured one on a single node; every node of the
/// cluster in cluster mode, each checked to be a node of the same cluster.
pub async fn nodes(settings: &ChSettings, listed: &[String]) -> Result<Vec<Node>, ClusterError> {
    let node = |url: &str| Node {
        url: url.to_string(),
        client: ChSettings {
            url: url.to_string(),
            ..settings.clone()
        }
        .client(),
    };
    let entry = node(&settings.url);
    let Some(cluster) = cluster_name(&entry.client).await? else {
        return Ok(vec![entry]);
    };
    let all = format!("{cluster}_all");
    let hosts: Vec<String> = entry
        .client
        .query("SELECT host_name FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num")
        .bind(&all)
        .fetch_all()
        .await?;
    let urls = if listed.is_empty() {
        derive_urls(&settings.url, &hosts)?
    } else {
        listed.to_vec()
    };
    let mut distinct = urls.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != hosts.len() {
        return Err(ClusterError::Config(format!(
            "cluster {all} has {} nodes but AGGREGATOR_CLICKHOUSE_NODES names {} distinct URLs",
            hosts.len(),
            distinct.len()
        )));
    }
    let mut out = Vec::with_capacity(urls.len());
    for url in &urls {
        let n = node(url);
        let theirs = cluster_name(&n.client).await?;
        if theirs.as_deref() != Some(cluster.as_str()) {
            return Err(ClusterError::Config(format!(
                "{url} is not a node of cluster {cluster:?} (its macro tracking_cluster: {theirs:?})"
            )));
        }
        out.push(n);
    }
    Ok(out)
}

/// Each host with the scheme and port of `entry` (every node serving HTTP on the same port,
/// as in a Kubernetes StatefulSet). Refused when hosts collapse into fewer URLs, e.g. several
/// nodes on one machine: those need `AGGREGATOR_CLICKHOUSE_NODES`.
fn derive_urls(entry: &str, hosts: &[String]) -> Result<Vec<String>, ClusterError> {
    let base = url::Url::parse(entry)
        .map_err(|e| ClusterError::Config(format!("CLICKHOUSE_URL {entry:?}: {e}")))?;
    let mut urls = Vec::with_capacity(hosts.len());
    for host in hosts {
        let mut u = base.clone();
        u.set_host(Some(host))
            .map_err(|e| ClusterError::Config(format!("host {host:?} of system.clusters: {e}")))?;
        urls.push(u.as_str().trim_end_matches('/').to_string());
    }
    let mut distinct = urls.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < urls.len() {
        return Err(ClusterError::Config(format!(
            "the cluster's nodes share addresses ({}) at the port of CLICKHOUSE_URL; \
             list every node's HTTP URL in AGGREGATOR_CLICKHOUSE_NODES",
            hosts.join(", ")
        )));
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hosts_take_the_scheme_and_port_of_the_entry_url() {
        let got = derive_urls(
            "https://ch-0.ch:8443/",
            &hosts(&["ch-0.ch", "ch-1.ch", "10.0.0.7"]),
        );
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            [
                "https://ch-0.ch:8443",
                "https://ch-1.ch:8443",
                "https://10.0.0.7:8443"
            ]
        );
    }

    #[test]
    fn nodes_on_one_address_need_the_explicit_list() {
        let e = derive_urls("http://127.0.0.1:8123", &hosts(&["127.0.0.1", "127.0.0.1"]));
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("AGGREGATOR_CLICKHOUSE_NODES"), "{msg}");
    }
}
