//! CloudFormation templates, JSON or YAML with the short-form tags: every
//! resource a node; an edge for every `Ref`, `Fn::GetAtt`, `Fn::Sub`
//! (`${X}` and `${X.Attr}` in the string, not pseudo parameters, template
//! parameters or the `Fn::Sub` variable map's own names) and `DependsOn`
//! between two resources. `Fn::If` and conditions are left as they are:
//! both branches are read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sim_engine::error::Error;
use sim_models::spec::{AwsTarget, ResourceType, Target};

use crate::graph::{Evidence, GNode, Graph};
use crate::yaml::{Kind, Node};

/// Intrinsic functions (long form `Fn::X`, short form `!X`), besides `Ref`
/// and `Condition` (the CloudFormation intrinsic function reference).
const INTRINSICS: [&str; 18] = [
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "Length",
    "ToJsonString",
];

/// Whether `doc` looks like a CloudFormation template.
pub fn detect(doc: &Node) -> bool {
    doc.get("AWSTemplateFormatVersion").is_some()
        || doc.get("Resources").is_some_and(|r| {
            r.entries().iter().any(|(_, v)| {
                v.get("Type")
                    .and_then(Node::str)
                    .is_some_and(|t| t.starts_with("AWS::") || t.starts_with("Custom::"))
            })
        })
}

/// The Preflight type of a resource type (docs/importers.md has the table).
pub fn runtime_type(t: &str) -> Option<ResourceType> {
    let starts = |p: &str| t.starts_with(p);
    Some(match t {
        "AWS::RDS::DBInstance" | "AWS::RDS::DBCluster" | "AWS::DynamoDB::Table" => {
            ResourceType::Database
        }
        _ if starts("AWS::DocDB::DB") || starts("AWS::Neptune::DB") => ResourceType::Database,
        _ if starts("AWS::ElastiCache::")
            && !t.contains("SubnetGroup")
            && !t.contains("ParameterGroup")
            && !t.contains("SecurityGroup")
            && !t.contains("User") =>
        {
            ResourceType::Cache
        }
        "AWS::SQS::Queue"
        | "AWS::SNS::Topic"
        | "AWS::Kinesis::Stream"
        | "AWS::MSK::Cluster"
        | "AWS::AmazonMQ::Broker" => ResourceType::Queue,
        "AWS::S3::Bucket" | "AWS::EFS::FileSystem" => ResourceType::Storage,
        "AWS::Lambda::Function" => ResourceType::Function,
        "AWS::ECS::Service" => ResourceType::Container,
        "AWS::EC2::Instance" | "AWS::AutoScaling::AutoScalingGroup" | "AWS::EKS::Nodegroup" => {
            ResourceType::Compute
        }
        "AWS::EKS::Cluster" | "AWS::Cognito::UserPool" => ResourceType::Service,
        "AWS::ElasticLoadBalancing::LoadBalancer"
        | "AWS::ElasticLoadBalancingV2::LoadBalancer"
        | "AWS::ApiGateway::RestApi"
        | "AWS::ApiGatewayV2::Api"
        | "AWS::CloudFront::Distribution" => ResourceType::LoadBalancer,
        _ if starts("AWS::Route53::") => ResourceType::Dns,
        "AWS::EC2::NatGateway" => ResourceType::NetworkLink,
        _ => return None,
    })
}

/// Resources that wire others together without carrying requests between
/// them: paths through these are not collapsed into dependencies.
pub fn network_or_security(t: &str) -> bool {
    [
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::Route",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::NetworkAcl",
        "AWS::EC2::NetworkInterface",
        "AWS::IAM::",
        "AWS::SecretsManager::",
        "AWS::KMS::",
        "AWS::Logs::",
        "AWS::RDS::DBSubnetGroup",
        "AWS::ElastiCache::SubnetGroup",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// The FIS resource type of a CloudFormation type, where there is one.
fn fis_type(t: &str) -> Option<&'static str> {
    Some(match t {
        "AWS::EC2::Instance" => "aws:ec2:instance",
        "AWS::RDS::DBInstance" => "aws:rds:db",
        "AWS::RDS::DBCluster" => "aws:rds:cluster",
        "AWS::Lambda::Function" => "aws:lambda:function",
        _ => return None,
    })
}

struct Ctx<'a> {
    file: &'a Path,
    resources: &'a BTreeSet<String>,
    parameters: &'a BTreeSet<String>,
}

impl Ctx<'_> {
    fn error(&self, line: usize, path: &str, what: String) -> Error {
        Error::input(format!(
            "preflight: import: {}:{line}: {path}: {what}",
            self.file.display()
        ))
    }
    fn evidence(&self, via: &str, detail: String, line: usize) -> Evidence {
        Evidence {
            via: via.into(),
            detail,
            file: self.file.display().to_string(),
            line,
        }
    }
}

/// The names `${…}` of a `Fn::Sub` string refers to: `(name, attribute)`.
fn sub_names(s: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        if rest.starts_with('!') {
            // `${!Literal}`: written as is.
            continue;
        }
        let Some(end) = rest.find('}') else { break };
        let name = rest[..end].trim();
        rest = &rest[end + 1..];
        let (base, attr) = match name.split_once('.') {
            Some((b, a)) => (b, Some(a.to_owned())),
            None => (name, None),
        };
        out.push((base.to_owned(), attr));
    }
    out
}

/// Walks `node` (part of resource `from`), adding an edge for every
/// reference to another resource.
fn walk(
    ctx: &Ctx<'_>,
    g: &mut Graph,
    from: &str,
    node: &Node,
    path: &str,
    locals: &BTreeSet<String>,
) -> Result<(), Error> {
    let mut reference =
        |g: &mut Graph, via: &str, name: &str, line: usize, detail: String| -> Result<(), Error> {
            if ctx.resources.contains(name) {
                g.add_edge(from, name, ctx.evidence(via, detail, line), None);
                Ok(())
            } else if ctx.parameters.contains(name)
                || name.starts_with("AWS::")
                || locals.contains(name)
            {
                Ok(())
            } else {
                Err(ctx.error(
                    line,
                    path,
                    format!(
                        "`{via}` names `{name}`, which is no resource or parameter of the template"
                    ),
                ))
            }
        };
    // Short form.
    if let Some(tag) = node.tag.as_deref() {
        let name = &tag[1..];
        match name {
            "Ref" => {
                let target = node.str().unwrap_or("");
                return reference(g, "Ref", target, node.line, format!("{path}: !Ref {target}"));
            }
            "GetAtt" => return get_att(ctx, g, from, node, path, &mut reference),
            "Sub" => return sub(ctx, g, from, node, path, locals, &mut reference),
            "Condition" => return Ok(()),
            _ if INTRINSICS.contains(&name) => {}
            _ => g.warnings.push(format!(
                "{}:{}: {path}: unknown intrinsic function `{tag}`; its references are still followed",
                ctx.file.display(),
                node.line
            )),
        }
    }
    match &node.kind {
        Kind::Scalar(_) => Ok(()),
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(ctx, g, from, item, &format!("{path}[{i}]"), locals)?;
            }
            Ok(())
        }
        Kind::Map(entries) => {
            if let [(key, value)] = entries.as_slice() {
                match key.as_str() {
                    "Ref" => {
                        let target = value.str().unwrap_or("");
                        return reference(
                            g,
                            "Ref",
                            target,
                            value.line,
                            format!("{path}: Ref {target}"),
                        );
                    }
                    "Fn::GetAtt" => {
                        return get_att(
                            ctx,
                            g,
                            from,
                            value,
                            &format!("{path}.Fn::GetAtt"),
                            &mut reference,
                        );
                    }
                    "Fn::Sub" => {
                        return sub(
                            ctx,
                            g,
                            from,
                            value,
                            &format!("{path}.Fn::Sub"),
                            locals,
                            &mut reference,
                        );
                    }
                    k if k.starts_with("Fn::") && !INTRINSICS.contains(&&k[4..]) => {
                        g.warnings.push(format!(
                            "{}:{}: {path}: unknown intrinsic function `{k}`; its references are still followed",
                            ctx.file.display(),
                            value.line
                        ));
                    }
                    _ => {}
                }
            }
            for (k, v) in entries {
                walk(ctx, g, from, v, &format!("{path}.{k}"), locals)?;
            }
            Ok(())
        }
    }
}

type RefFn<'r> = dyn FnMut(&mut Graph, &str, &str, usize, String) -> Result<(), Error> + 'r;

fn get_att(
    ctx: &Ctx<'_>,
    g: &mut Graph,
    _from: &str,
    node: &Node,
    path: &str,
    reference: &mut RefFn<'_>,
) -> Result<(), Error> {
    let (name, attr) = match &node.kind {
        Kind::Scalar(s) => match s.split_once('.') {
            Some((n, a)) => (n.to_owned(), a.to_owned()),
            None => {
                return Err(ctx.error(
                    node.line,
                    path,
                    format!("`GetAtt {s}`: expected `Resource.Attribute`"),
                ));
            }
        },
        Kind::Seq(items) if items.len() == 2 => (
            items[0].str().unwrap_or("").to_owned(),
            items[1].str().unwrap_or("(computed)").to_owned(),
        ),
        _ => {
            return Err(ctx.error(
                node.line,
                path,
                "`GetAtt`: expected `[Resource, Attribute]` or `Resource.Attribute`".into(),
            ));
        }
    };
    reference(
        g,
        "Fn::GetAtt",
        &name,
        node.line,
        format!("{path}: GetAtt {name}.{attr}"),
    )
}

fn sub(
    ctx: &Ctx<'_>,
    g: &mut Graph,
    from: &str,
    node: &Node,
    path: &str,
    locals: &BTreeSet<String>,
    reference: &mut RefFn<'_>,
) -> Result<(), Error> {
    let (text, vars) = match &node.kind {
        Kind::Scalar(s) => (s.clone(), None),
        Kind::Seq(items) if !items.is_empty() => {
            (items[0].str().unwrap_or("").to_owned(), items.get(1))
        }
        _ => {
            return Err(ctx.error(
                node.line,
                path,
                "`Sub`: expected a string or `[string, {variables}]`".into(),
            ));
        }
    };
    let mut local = locals.clone();
    if let Some(vars) = vars {
        for (k, v) in vars.entries() {
            local.insert(k.clone());
            walk(ctx, g, from, v, &format!("{path}[1].{k}"), locals)?;
        }
    }
    for (name, attr) in sub_names(&text) {
        if local.contains(&name) {
            continue;
        }
        let via = "Fn::Sub";
        let shown = match &attr {
            Some(a) => format!("${{{name}.{a}}}"),
            None => format!("${{{name}}}"),
        };
        reference(g, via, &name, node.line, format!("{path}: {shown}"))?;
    }
    Ok(())
}

/// A number, or a `Ref` to a parameter with a numeric default.
fn number(n: &Node, params: &Node) -> Option<(f64, String)> {
    if let Some(s) = n.str()
        && n.tag.is_none()
    {
        return s.parse().ok().map(|v| (v, String::new()));
    }
    let p = match (&n.tag, n.get("Ref")) {
        (Some(t), _) if t == "!Ref" => n.str()?,
        (_, Some(r)) => r.str()?,
        _ => return None,
    };
    let d = params.at(&[p, "Default"])?.str()?;
    d.parse()
        .ok()
        .map(|v| (v, format!(" (parameter {p}'s default)")))
}

fn truthy(n: &Node, params: &Node) -> Option<(bool, String)> {
    if let Some(s) = n.str()
        && n.tag.is_none()
    {
        return Some((s.eq_ignore_ascii_case("true"), String::new()));
    }
    let p = match (&n.tag, n.get("Ref")) {
        (Some(t), _) if t == "!Ref" => n.str()?,
        (_, Some(r)) => r.str()?,
        _ => return None,
    };
    let d = params.at(&[p, "Default"])?.str()?;
    Some((
        d.eq_ignore_ascii_case("true"),
        format!(" (parameter {p}'s default)"),
    ))
}

/// Reads the template `doc` of `file` into `g`.
pub fn read(doc: &Node, file: &Path, g: &mut Graph) -> Result<(), Error> {
    let Some(resources) = doc.get("Resources") else {
        return Err(Error::input(format!(
            "preflight: import: {}: a CloudFormation template needs `Resources`",
            file.display()
        )));
    };
    let names: BTreeSet<String> = resources.entries().iter().map(|(k, _)| k.clone()).collect();
    let empty = Node {
        tag: None,
        line: 0,
        kind: Kind::Map(Vec::new()),
    };
    let params_node = doc.get("Parameters").unwrap_or(&empty);
    let parameters: BTreeSet<String> = params_node
        .entries()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    let ctx = Ctx {
        file,
        resources: &names,
        parameters: &parameters,
    };
    let f = file.display().to_string();
    let mut depends: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    for (id, res) in resources.entries() {
        let path = format!("Resources.{id}");
        let kind = res
            .get("Type")
            .and_then(Node::str)
            .ok_or_else(|| ctx.error(res.line, &path, "a resource needs `Type`".into()))?;
        let mut runtime = runtime_type(kind);
        if runtime.is_none() && !kind.starts_with("AWS::") {
            // A custom resource or a type of another namespace: kept, as a
            // generic service, and said.
            runtime = Some(ResourceType::Service);
            g.warnings.push(format!(
                "{f}:{}: {path}: resource type `{kind}` is not one Preflight knows: kept as a `service`",
                res.line
            ));
        }
        let props = res.get("Properties").unwrap_or(&empty);
        let mut replicas = None;
        let mut notes = Vec::new();
        match kind {
            "AWS::ECS::Service" => {
                replicas = props
                    .get("DesiredCount")
                    .and_then(|n| number(n, params_node))
                    .map(|(v, w)| (v, format!("DesiredCount{w}")));
            }
            "AWS::AutoScaling::AutoScalingGroup" => {
                replicas = props
                    .get("DesiredCapacity")
                    .and_then(|n| number(n, params_node))
                    .map(|(v, w)| (v, format!("DesiredCapacity{w}")))
                    .or_else(|| {
                        props
                            .get("MinSize")
                            .and_then(|n| number(n, params_node))
                            .map(|(v, w)| (v, format!("MinSize{w}")))
                    });
            }
            "AWS::EKS::Nodegroup" => {
                replicas = props
                    .at(&["ScalingConfig", "DesiredSize"])
                    .and_then(|n| number(n, params_node))
                    .map(|(v, w)| (v, format!("ScalingConfig.DesiredSize{w}")));
            }
            "AWS::ElastiCache::ReplicationGroup" => {
                replicas = props
                    .get("NumCacheClusters")
                    .and_then(|n| number(n, params_node))
                    .map(|(v, w)| (v, format!("NumCacheClusters{w}")));
            }
            "AWS::RDS::DBInstance" | "AWS::RDS::DBCluster" => {
                match props.get("MultiAZ").and_then(|n| truthy(n, params_node)) {
                    Some((true, w)) => {
                        replicas =
                            Some((2.0, format!("MultiAZ: true{w}, a standby in another zone")))
                    }
                    other => {
                        if props.get("SourceDBInstanceIdentifier").is_none()
                            && kind == "AWS::RDS::DBInstance"
                        {
                            notes.push(format!(
                                "one DB instance without MultiAZ{}",
                                other.map(|(_, w)| w).unwrap_or_default()
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        let target = Some(Target {
            aws: Some(AwsTarget {
                arn: None,
                tags: Some([("aws:cloudformation:logical-id".to_owned(), id.clone())].into()),
                resource_type: fis_type(kind).map(str::to_owned),
                cluster: None,
            }),
            ..Target::default()
        })
        .filter(|_| runtime.is_some());
        g.add_node(GNode {
            id: id.clone(),
            kind: kind.to_owned(),
            runtime,
            replicas: replicas.as_ref().map(|(v, _)| v.max(1.0) as u32),
            replicas_from: replicas.map(|(_, w)| w),
            target,
            file: f.clone(),
            line: res.line,
            folded_into: None,
            notes,
        });
        for (key, value) in res.entries() {
            match key.as_str() {
                "DependsOn" => {
                    let list: Vec<&Node> = match &value.kind {
                        Kind::Scalar(_) => vec![value],
                        _ => value.items().iter().collect(),
                    };
                    for d in list {
                        let name = d.str().unwrap_or("");
                        if !names.contains(name) {
                            return Err(ctx.error(
                                d.line,
                                &format!("{path}.DependsOn"),
                                format!("`DependsOn` names `{name}`, which is no resource of the template"),
                            ));
                        }
                        g.add_edge(
                            id,
                            name,
                            ctx.evidence("DependsOn", format!("{path}.DependsOn: {name}"), d.line),
                            None,
                        );
                        depends
                            .entry(id.clone())
                            .or_default()
                            .push((name.to_owned(), d.line));
                    }
                }
                "Type" | "Condition" | "DeletionPolicy" | "UpdateReplacePolicy" => {}
                _ => walk(
                    &ctx,
                    g,
                    id,
                    value,
                    &format!("{path}.{key}"),
                    &BTreeSet::new(),
                )?,
            }
        }
        // A read replica is a replica of its source.
        if kind == "AWS::RDS::DBInstance"
            && let Some(src) = props.get("SourceDBInstanceIdentifier")
        {
            let name = src.get("Ref").and_then(Node::str).or_else(|| {
                (src.tag.as_deref() == Some("!Ref"))
                    .then(|| src.str())
                    .flatten()
            });
            if let Some(name) = name.filter(|n| names.contains(*n))
                && let Some(n) = g.nodes.get_mut(id)
            {
                n.folded_into = Some(name.to_owned());
            }
        }
    }
    // Read replicas add to their source's replicas, and a source with one
    // is no longer a single instance.
    let folded: Vec<(String, String)> = g
        .nodes
        .values()
        .filter_map(|n| n.folded_into.clone().map(|s| (n.id.clone(), s)))
        .collect();
    for (replica, source) in folded {
        if let Some(s) = g.nodes.get_mut(&source) {
            let base = s.replicas.unwrap_or(1);
            s.replicas = Some(base + 1);
            s.replicas_from = Some(match &s.replicas_from {
                Some(w) => format!("{w}; read replica {replica}"),
                None => format!("read replica {replica}"),
            });
            s.notes
                .retain(|n| !n.starts_with("one DB instance without MultiAZ"));
            s.notes.push(format!("one DB instance without MultiAZ, with read replica {replica} (read-only: writes still depend on the one instance)"));
        }
    }
    // A single NAT gateway: every private subnet's outbound traffic.
    let nats: Vec<&str> = resources
        .entries()
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Node::str) == Some("AWS::EC2::NatGateway"))
        .map(|(k, _)| k.as_str())
        .collect();
    if let [nat] = nats.as_slice() {
        let routes = g.edges.keys().filter(|(_, to)| to == nat).count();
        if let Some(n) = g.nodes.get_mut(*nat) {
            n.notes.push(format!(
                "the template's only NAT gateway ({routes} resources refer to it): outbound traffic of the private subnets stops when it does"
            ));
        }
    }
    cycle(&depends, file)?;
    Ok(())
}

/// A cycle of `DependsOn` is an error naming it.
fn cycle(depends: &BTreeMap<String, Vec<(String, usize)>>, file: &Path) -> Result<(), Error> {
    // 0 unseen, 1 on the stack, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        depends: &'a BTreeMap<String, Vec<(String, usize)>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let i = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut c: Vec<String> = stack[i..].iter().map(|s| (*s).to_owned()).collect();
                c.push(n.to_owned());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for (d, _) in depends.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, depends, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    for n in depends.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, depends, &mut state, &mut stack) {
            let line = depends
                .get(&c[0])
                .and_then(|v| v.iter().find(|(d, _)| *d == c[1]))
                .map_or(0, |(_, l)| *l);
            return Err(Error::input(format!(
                "preflight: import: {}:{line}: Resources.{}.DependsOn: a cycle of DependsOn: {} (CloudFormation cannot create these resources in any order)",
                file.display(),
                c[0],
                c.join(" → ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sub_names;

    #[test]
    fn sub_strings_name_resources_attributes_and_not_literals() {
        assert_eq!(
            sub_names("arn:${AWS::Partition}:s3:::${Bucket}/x-${Fn.Arn}-${!Literal}"),
            vec![
                ("AWS::Partition".to_owned(), None),
                ("Bucket".to_owned(), None),
                ("Fn".to_owned(), Some("Arn".to_owned())),
            ]
        );
    }
}
