//! Resource types (`type:` of a resource, keys of `failure_modes`): the
//! kinds of resource, each with built-in default failure modes.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of a resource; each has built-in default failure modes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A virtual machine or host.
    Compute,
    /// A container (pod, task).
    Container,
    /// A serverless function.
    Function,
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// A message queue.
    Queue,
    /// Object or block storage.
    Storage,
    /// A load balancer or API gateway.
    LoadBalancer,
    /// A network link.
    NetworkLink,
    /// A DNS service.
    Dns,
    /// A third-party API.
    ExternalApi,
    /// A generic service.
    Service,
}

impl ResourceType {
    /// Every resource type, in declaration order.
    pub const ALL: [ResourceType; 12] = [
        ResourceType::Compute,
        ResourceType::Container,
        ResourceType::Function,
        ResourceType::Database,
        ResourceType::Cache,
        ResourceType::Queue,
        ResourceType::Storage,
        ResourceType::LoadBalancer,
        ResourceType::NetworkLink,
        ResourceType::Dns,
        ResourceType::ExternalApi,
        ResourceType::Service,
    ];

    /// The name used in scenario files (`load_balancer`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::Compute => "compute",
            ResourceType::Container => "container",
            ResourceType::Function => "function",
            ResourceType::Database => "database",
            ResourceType::Cache => "cache",
            ResourceType::Queue => "queue",
            ResourceType::Storage => "storage",
            ResourceType::LoadBalancer => "load_balancer",
            ResourceType::NetworkLink => "network_link",
            ResourceType::Dns => "dns",
            ResourceType::ExternalApi => "external_api",
            ResourceType::Service => "service",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
