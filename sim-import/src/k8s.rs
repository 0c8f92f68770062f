//! Kubernetes manifests (multi-document YAML) and Compose files. A
//! workload (Deployment, StatefulSet, DaemonSet; a Compose service) is a
//! runtime node; a Kubernetes Service is a node `service/NAME` that the
//! workloads its selector matches serve; an environment variable (or a
//! ConfigMap a container takes its environment from) whose value names a
//! Service's DNS name or `host:port` (URLs included) is an edge from the
//! workload to that Service. Compose: `depends_on` (list or map), `links`
//! and environment values naming another service.

use std::collections::BTreeMap;
use std::path::Path;

use sim_engine::error::Error;
use sim_models::spec::{KubernetesTarget, ResourceType, Target};

use crate::graph::{Evidence, GNode, Graph};
use crate::yaml::{Kind, Node};

/// Whether `doc` is a Kubernetes object.
pub fn detect(doc: &Node) -> bool {
    doc.get("apiVersion").is_some() && doc.get("kind").is_some()
}

/// Whether `doc` is a Compose file.
pub fn detect_compose(doc: &Node) -> bool {
    doc.get("services")
        .is_some_and(|s| matches!(s.kind, Kind::Map(_)))
}

/// The type a container image suggests.
fn image_type(image: &str) -> ResourceType {
    let name = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .split([':', '@'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| name.contains(x));
    if has(&["redis", "memcached", "valkey"]) {
        ResourceType::Cache
    } else if has(&[
        "mongo",
        "postgres",
        "mysql",
        "mariadb",
        "cassandra",
        "cockroach",
        "couchdb",
    ]) {
        ResourceType::Database
    } else if has(&["kafka", "rabbitmq", "nats", "pulsar", "activemq"]) {
        ResourceType::Queue
    } else {
        ResourceType::Container
    }
}

/// The hosts a configuration value names: `svc`, `svc:port`,
/// `svc.ns.svc.cluster.local:port`, `scheme://host:port/path`, lists
/// separated by commas or spaces.
pub fn hosts(value: &str) -> Vec<String> {
    value
        .split([',', ' ', ';'])
        .filter(|s| !s.is_empty())
        .filter_map(|item| {
            let rest = item.split_once("://").map_or(item, |(_, r)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let host = rest.split(['/', '?']).next()?.split(':').next()?;
            (!host.is_empty()).then(|| host.to_ascii_lowercase())
        })
        .collect()
}

struct Workload<'a> {
    name: String,
    ns: String,
    labels: BTreeMap<String, String>,
    spec: &'a Node,
    line: usize,
}

/// Reads the Kubernetes documents `docs` of `file` into `g`.
pub fn read(docs: &[Node], file: &Path, g: &mut Graph) -> Result<(), Error> {
    let f = file.display().to_string();
    let mut workloads = Vec::new();
    let mut services: Vec<(String, String, BTreeMap<String, String>, usize)> = Vec::new();
    let mut config_maps: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for doc in docs {
        if matches!(doc.kind, Kind::Scalar(_)) {
            continue;
        }
        let kind = doc.get("kind").and_then(Node::str).unwrap_or("");
        let name = doc
            .at(&["metadata", "name"])
            .and_then(Node::str)
            .unwrap_or("")
            .to_owned();
        let ns = doc
            .at(&["metadata", "namespace"])
            .and_then(Node::str)
            .unwrap_or("default")
            .to_owned();
        if kind.is_empty() || name.is_empty() {
            return Err(Error::input(format!(
                "preflight: import: {f}:{}: a Kubernetes object needs `kind` and `metadata.name`",
                doc.line
            )));
        }
        let map = |n: Option<&Node>| -> BTreeMap<String, String> {
            n.map(|n| {
                n.entries()
                    .iter()
                    .filter_map(|(k, v)| v.str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
        };
        match kind {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
                let template = doc.at(&["spec", "template"]);
                let labels = map(template.and_then(|t| t.at(&["metadata", "labels"])));
                let image = template
                    .and_then(|t| t.at(&["spec", "containers"]))
                    .and_then(|c| c.items().first())
                    .and_then(|c| c.get("image"))
                    .and_then(Node::str)
                    .unwrap_or("");
                let container = template
                    .and_then(|t| t.at(&["spec", "containers"]))
                    .and_then(|c| c.items().first())
                    .and_then(|c| c.get("name"))
                    .and_then(Node::str)
                    .map(str::to_owned);
                let replicas = doc
                    .at(&["spec", "replicas"])
                    .and_then(Node::str)
                    .and_then(|r| r.parse::<u32>().ok());
                g.add_node(GNode {
                    id: name.clone(),
                    kind: kind.into(),
                    runtime: Some(image_type(image)),
                    replicas: Some(replicas.unwrap_or(1)),
                    replicas_from: Some(if replicas.is_some() {
                        "spec.replicas".into()
                    } else {
                        "spec.replicas absent: Kubernetes' default, 1".into()
                    }),
                    target: Some(Target {
                        kubernetes: Some(KubernetesTarget {
                            namespace: Some(ns.clone()),
                            selector: labels.clone(),
                            container,
                        }),
                        ..Target::default()
                    })
                    .filter(|_| !labels.is_empty()),
                    file: f.clone(),
                    line: doc.line,
                    folded_into: None,
                    notes: Vec::new(),
                });
                workloads.push(Workload {
                    name,
                    ns,
                    labels,
                    spec: doc,
                    line: doc.line,
                });
            }
            "Service" => {
                let selector = map(doc.at(&["spec", "selector"]));
                let lb = doc.at(&["spec", "type"]).and_then(Node::str) == Some("LoadBalancer");
                g.add_node(GNode::new(
                    format!("service/{name}"),
                    "Service",
                    lb.then_some(ResourceType::LoadBalancer),
                    &f,
                    doc.line,
                ));
                services.push((name, ns, selector, doc.line));
            }
            "Ingress" => {
                g.add_node(GNode::new(
                    format!("ingress/{name}"),
                    "Ingress",
                    Some(ResourceType::LoadBalancer),
                    &f,
                    doc.line,
                ));
                let mut backends = Vec::new();
                collect_backends(doc, &mut backends);
                for (svc, line) in backends {
                    g.add_edge(
                        &format!("ingress/{name}"),
                        &format!("service/{svc}"),
                        Evidence {
                            via: "ingress backend".into(),
                            detail: format!("Ingress {name} → Service {svc}"),
                            file: f.clone(),
                            line,
                        },
                        None,
                    );
                }
            }
            "ConfigMap" => {
                config_maps.insert(
                    (ns.clone(), name.clone()),
                    map(doc.get("data")).into_iter().collect(),
                );
                g.add_node(GNode::new(
                    format!("configmap/{name}"),
                    kind,
                    None,
                    &f,
                    doc.line,
                ));
            }
            "ServiceAccount"
            | "Secret"
            | "Namespace"
            | "Role"
            | "RoleBinding"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PersistentVolumeClaim"
            | "PersistentVolume"
            | "HorizontalPodAutoscaler"
            | "NetworkPolicy"
            | "PodDisruptionBudget"
            | "Job"
            | "CronJob"
            | "StorageClass" => {
                g.add_node(GNode::new(
                    format!("{}/{name}", kind.to_ascii_lowercase()),
                    kind,
                    None,
                    &f,
                    doc.line,
                ));
            }
            other => {
                g.warnings.push(format!(
                    "{f}:{}: a Kubernetes `{other}` ({name}) is not a kind Preflight reads: kept in the graph, not in the scenario",
                    doc.line
                ));
                g.add_node(GNode::new(
                    format!("{}/{name}", other.to_ascii_lowercase()),
                    other,
                    None,
                    &f,
                    doc.line,
                ));
            }
        }
    }
    // Services → the workloads their selectors match.
    for (svc, ns, selector, line) in &services {
        if selector.is_empty() {
            continue;
        }
        for w in &workloads {
            if w.ns == *ns && selector.iter().all(|(k, v)| w.labels.get(k) == Some(v)) {
                g.add_edge(
                    &format!("service/{svc}"),
                    &w.name,
                    Evidence {
                        via: "selector".into(),
                        detail: format!(
                            "Service {svc} selects {} ({})",
                            w.name,
                            fmt_labels(selector)
                        ),
                        file: f.clone(),
                        line: *line,
                    },
                    None,
                );
            }
        }
    }
    // Workloads → the Services their configuration names.
    for w in &workloads {
        let containers = w.spec.at(&["spec", "template", "spec", "containers"]);
        for c in containers.map(Node::items).unwrap_or(&[]) {
            let mut values: Vec<(String, String, usize)> = Vec::new();
            for e in c.get("env").map(Node::items).unwrap_or(&[]) {
                if let (Some(k), Some(v)) = (e.get("name").and_then(Node::str), e.get("value")) {
                    values.push((k.to_owned(), v.str().unwrap_or("").to_owned(), v.line));
                }
            }
            for e in c.get("envFrom").map(Node::items).unwrap_or(&[]) {
                if let Some(cm) = e.at(&["configMapRef", "name"]).and_then(Node::str)
                    && let Some(data) = config_maps.get(&(w.ns.clone(), cm.to_owned()))
                {
                    for (k, v) in data {
                        values.push((format!("{k} (ConfigMap {cm})"), v.clone(), e.line));
                    }
                }
            }
            for (k, v, line) in values {
                for host in hosts(&v) {
                    let mut parts = host.split('.');
                    let first = parts.next().unwrap_or("");
                    let ns = parts.next().unwrap_or(&w.ns).to_owned();
                    if services
                        .iter()
                        .any(|(s, sns, _, _)| s == first && *sns == ns)
                    {
                        g.add_edge(
                            &w.name,
                            &format!("service/{first}"),
                            Evidence {
                                via: "env".into(),
                                detail: format!("{}: {k}={v}", w.name),
                                file: f.clone(),
                                line,
                            },
                            None,
                        );
                    }
                }
            }
        }
        let _ = w.line;
    }
    Ok(())
}

fn fmt_labels(l: &BTreeMap<String, String>) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn collect_backends(n: &Node, out: &mut Vec<(String, usize)>) {
    if let Some(name) = n.at(&["service", "name"]).and_then(Node::str) {
        out.push((name.to_owned(), n.line));
    }
    if let Some(name) = n.get("serviceName").and_then(Node::str) {
        out.push((name.to_owned(), n.line));
    }
    match &n.kind {
        Kind::Seq(items) => items.iter().for_each(|i| collect_backends(i, out)),
        Kind::Map(m) => m.iter().for_each(|(_, v)| collect_backends(v, out)),
        Kind::Scalar(_) => {}
    }
}

/// Reads the Compose file `doc` of `file` into `g`.
pub fn read_compose(doc: &Node, file: &Path, g: &mut Graph) -> Result<(), Error> {
    let f = file.display().to_string();
    let services = doc.get("services").map(Node::entries).unwrap_or(&[]);
    let names: Vec<&str> = services.iter().map(|(k, _)| k.as_str()).collect();
    for (name, s) in services {
        let image = s.get("image").and_then(Node::str).unwrap_or(name);
        let replicas = s
            .at(&["deploy", "replicas"])
            .and_then(Node::str)
            .and_then(|r| r.parse::<u32>().ok());
        g.add_node(GNode {
            id: name.clone(),
            kind: "compose service".into(),
            runtime: Some(image_type(image)),
            replicas: Some(replicas.unwrap_or(1)),
            replicas_from: Some(if replicas.is_some() {
                "deploy.replicas".into()
            } else {
                "no deploy.replicas: one container".into()
            }),
            target: None,
            file: f.clone(),
            line: s.line,
            folded_into: None,
            notes: Vec::new(),
        });
    }
    for (name, s) in services {
        let mut need = |to: &str, via: &str, detail: String, line: usize| -> Result<(), Error> {
            if names.contains(&to) {
                g.add_edge(
                    name,
                    to,
                    Evidence {
                        via: via.into(),
                        detail,
                        file: f.clone(),
                        line,
                    },
                    None,
                );
                Ok(())
            } else if via == "env" {
                Ok(())
            } else {
                Err(Error::input(format!(
                    "preflight: import: {f}:{line}: services.{name}.{via}: `{to}` is not a service of this file (it has {})",
                    names.join(", ")
                )))
            }
        };
        if let Some(d) = s.get("depends_on") {
            match &d.kind {
                Kind::Seq(items) => {
                    for i in items {
                        let to = i.str().unwrap_or("");
                        need(
                            to,
                            "depends_on",
                            format!("services.{name}.depends_on: {to}"),
                            i.line,
                        )?;
                    }
                }
                Kind::Map(entries) => {
                    for (to, cond) in entries {
                        let c = cond
                            .get("condition")
                            .and_then(Node::str)
                            .unwrap_or("service_started");
                        need(
                            to,
                            "depends_on",
                            format!("services.{name}.depends_on.{to} ({c})"),
                            cond.line,
                        )?;
                    }
                }
                Kind::Scalar(_) => {}
            }
        }
        for l in s.get("links").map(Node::items).unwrap_or(&[]) {
            let to = l.str().unwrap_or("").split(':').next().unwrap_or("");
            need(
                to,
                "links",
                format!("services.{name}.links: {}", l.str().unwrap_or("")),
                l.line,
            )?;
        }
        let env: Vec<(String, String, usize)> = match s.get("environment").map(|e| &e.kind) {
            Some(Kind::Seq(items)) => items
                .iter()
                .filter_map(|i| {
                    i.str()
                        .and_then(|t| t.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned(), i.line))
                })
                .collect(),
            Some(Kind::Map(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.str().unwrap_or("").to_owned(), v.line))
                .collect(),
            _ => Vec::new(),
        };
        for (k, v, line) in env {
            for host in hosts(&v) {
                if names.contains(&host.as_str()) {
                    need(
                        &host,
                        "env",
                        format!("services.{name}.environment: {k}={v}"),
                        line,
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls_lists_and_host_ports() {
        assert_eq!(hosts("cartservice:7070"), vec!["cartservice"]);
        assert_eq!(
            hosts("http://frontend.default.svc.cluster.local:80/x"),
            vec!["frontend.default.svc.cluster.local"]
        );
        assert_eq!(
            hosts("mongodb://user:pw@mongodb-geo:27017"),
            vec!["mongodb-geo"]
        );
        assert_eq!(hosts("a:1,b:2"), vec!["a", "b"]);
        assert_eq!(
            image_type("docker.io/library/redis:alpine"),
            ResourceType::Cache
        );
        assert_eq!(image_type("mongo:4.4.6"), ResourceType::Database);
        assert_eq!(
            image_type("deathstarbench/social-network-microservices"),
            ResourceType::Container
        );
    }
}
