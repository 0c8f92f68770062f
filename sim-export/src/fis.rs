//! `--format fis`: per scenario the JSON of an AWS FIS
//! `CreateExperimentTemplate` request (as `aws fis create-experiment-template
//! --cli-input-json` and boto3 take it), and one CloudFormation template with
//! every experiment template and the CloudWatch alarms at the abort
//! thresholds that its stop conditions reference.

use serde_json::{Map, Value, json};
use sim_engine::error::Error;
use sim_models::spec::ResourceType;

use crate::select::{Chosen, Selection};
use crate::{Ctx, Files, Mapped, json, num, whole_ms, whole_percent, whole_seconds};

/// FIS actions run for one minute at least and twelve hours at most (the
/// FIS actions reference, "duration" of each action).
const MIN_S: u64 = 60;
const MAX_S: u64 = 12 * 3600;

/// Where a scenario's resource is on AWS.
struct Aws {
    resource_type: String,
    /// `resourceArns` or `resourceTags`.
    arn: Option<String>,
    tags: Option<Map<String, Value>>,
    /// Target parameters (EKS pods).
    parameters: Option<Value>,
    /// Region and account, from the ARNs.
    region: Option<String>,
    account: Option<String>,
}

/// `aws:rds:db` from `arn:aws:rds:eu-west-1:123456789012:db:orders`.
fn type_of_arn(arn: &str) -> Option<&'static str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (service, resource) = (parts.get(2)?, parts.get(5)?);
    let kind = resource.split([':', '/']).next()?;
    Some(match (*service, kind) {
        ("rds", "db") => "aws:rds:db",
        ("rds", "cluster") => "aws:rds:cluster",
        ("ec2", "instance") => "aws:ec2:instance",
        ("ecs", "task") => "aws:ecs:task",
        ("eks", "cluster") => "aws:eks:pod",
        ("lambda", "function") => "aws:lambda:function",
        _ => return None,
    })
}

fn region_account(arn: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let get = |i: usize| {
        parts
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
    };
    (get(3), get(4))
}

/// The AWS target of `resource`, or why there is none.
fn aws_target(ctx: &Ctx<'_>, files: &mut Files, resource: &str) -> Mapped<Aws> {
    let target = ctx.run.target(resource);
    if let Some(a) = target.and_then(|t| t.aws.as_ref()) {
        let rt = a
            .resource_type
            .clone()
            .or_else(|| a.arn.as_deref().and_then(type_of_arn).map(str::to_owned));
        let Some(resource_type) = rt else {
            return Ok(Err(format!(
                "AWS FIS has no resource type for `{}` (an ARN of a kind FIS does not act on; give `target.aws.resource_type` if it is one)",
                a.arn.as_deref().unwrap_or(resource)
            )));
        };
        let (region, account) = a
            .arn
            .iter()
            .chain(a.cluster.iter())
            .map(|arn| region_account(arn))
            .find(|(r, a)| r.is_some() && a.is_some())
            .unwrap_or_default();
        let parameters = match (&a.cluster, resource_type.as_str()) {
            (Some(c), "aws:ecs:task") => Some(json!({ "cluster": c })),
            _ => None,
        };
        return Ok(Ok(Aws {
            resource_type,
            arn: a.arn.clone(),
            tags: a.tags.as_ref().map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect()
            }),
            parameters,
            region,
            account,
        }));
    }
    // Pods on EKS, from the Kubernetes target.
    if let Some(k) = target.and_then(|t| t.kubernetes.as_ref()) {
        ctx.placeholder(
            files,
            format!(
                "resource `{resource}` has `target.kubernetes` but no `target.aws`: its pods are written as an EKS target with clusterIdentifier REPLACE-ME (the EKS cluster's ARN)"
            ),
        )?;
        let selector = k
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        return Ok(Ok(Aws {
            resource_type: "aws:eks:pod".into(),
            arn: None,
            tags: None,
            parameters: Some(json!({
                "clusterIdentifier": "REPLACE-ME",
                "namespace": k.namespace.clone().unwrap_or_else(|| "default".into()),
                "selectorType": "labelSelector",
                "selectorValue": selector,
            })),
            region: None,
            account: None,
        }));
    }
    let kind = ctx
        .run
        .scenario
        .resources
        .iter()
        .find(|r| r.id == resource)
        .map(|r| r.kind);
    let resource_type = match kind {
        Some(ResourceType::Compute) => "aws:ec2:instance",
        Some(ResourceType::Database) => "aws:rds:db",
        Some(ResourceType::Container | ResourceType::Service) => "aws:ecs:task",
        _ => {
            return Ok(Err(format!(
                "resource `{resource}` has no `target.aws`, and its type has no AWS FIS resource type to guess"
            )));
        }
    };
    ctx.placeholder(
        files,
        format!(
            "resource `{resource}` has no `target.aws`: it is written as {resource_type} resources tagged `REPLACE-ME: {resource}`; set `resources[{resource}].target.aws` (arn, or tags and resource_type)"
        ),
    )?;
    Ok(Ok(Aws {
        resource_type: resource_type.into(),
        arn: None,
        tags: Some(
            [("REPLACE-ME".to_owned(), Value::String(resource.to_owned()))]
                .into_iter()
                .collect(),
        ),
        parameters: None,
        region: None,
        account: None,
    }))
}

/// An ISO 8601 duration, `PT36M1S`.
fn iso(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = "PT".to_owned();
    if h > 0 {
        out += &format!("{h}H");
    }
    if m > 0 {
        out += &format!("{m}M");
    }
    if s > 0 || out == "PT" {
        out += &format!("{s}S");
    }
    out
}

/// The action for a scenario on `aws`: id, the action's target key, its
/// parameters, a description; or why there is none.
fn action(c: &Chosen, aws: &Aws, ctx: &Ctx<'_>, files: &mut Files) -> Mapped<Action> {
    let p = &c.row;
    let secs = whole_seconds(p.duration_s).min(MAX_S);
    let rt = aws.resource_type.as_str();
    let mode = p.failure_mode.as_str();
    let timed = matches!(
        (rt, mode),
        (
            "aws:ecs:task" | "aws:eks:pod",
            "latency_spike" | "network_latency" | "cpu_throttle" | "memory_starvation"
        ) | ("aws:ec2:instance", "process_crash")
    );
    if timed && secs < MIN_S {
        return Ok(Err(format!(
            "its duration, {} s, is under the one minute AWS FIS actions run at least (a longer injection than simulated)",
            whole_seconds(p.duration_s)
        )));
    }
    let mut params = Map::new();
    let service_account = |files: &mut Files,
                           params: &mut Map<String, Value>|
     -> Result<(), Error> {
        ctx.placeholder(
            files,
            "AWS FIS EKS pod actions need the Kubernetes service account FIS uses in the pods' namespace: written as kubernetesServiceAccount REPLACE-ME".into(),
        )?;
        params.insert("kubernetesServiceAccount".into(), json!("REPLACE-ME"));
        Ok(())
    };
    let latency = || {
        p.added_latency_ms
            .map(whole_ms)
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                "the added latency is under 1 ms (or unknown) in scenarios.parquet".to_owned()
            })
    };
    let cpu = || {
        p.slowdown
            .filter(|s| *s > 1.0)
            .map(|s| whole_percent(1.0 - 1.0 / s))
            .filter(|x| *x > 0)
            .ok_or_else(|| "the slowdown is unknown or under 1% in scenarios.parquet".to_owned())
    };
    let (id, key, what) = match (rt, mode) {
        ("aws:ecs:task", "process_crash") => (
            "aws:ecs:stop-task",
            "Tasks",
            "stop the tasks (ECS starts new ones)".to_owned(),
        ),
        ("aws:ecs:task", "latency_spike" | "network_latency") => {
            let ms = match latency() {
                Ok(ms) => ms,
                Err(e) => return Ok(Err(e)),
            };
            latency_params(&mut params, secs, ms);
            (
                "aws:ecs:task-network-latency",
                "Tasks",
                format!("add {ms} ms to the tasks' network traffic for {secs} s"),
            )
        }
        ("aws:ecs:task", "cpu_throttle") => {
            let pct = match cpu() {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            stress_params(&mut params, secs, pct);
            (
                "aws:ecs:task-cpu-stress",
                "Tasks",
                format!("load the tasks' CPU to {pct}% for {secs} s"),
            )
        }
        ("aws:eks:pod", "process_crash") => {
            service_account(files, &mut params)?;
            (
                "aws:eks:pod-delete",
                "Pods",
                "delete the pods (their controller starts new ones)".to_owned(),
            )
        }
        ("aws:eks:pod", "latency_spike" | "network_latency") => {
            let ms = match latency() {
                Ok(ms) => ms,
                Err(e) => return Ok(Err(e)),
            };
            latency_params(&mut params, secs, ms);
            service_account(files, &mut params)?;
            (
                "aws:eks:pod-network-latency",
                "Pods",
                format!("add {ms} ms to the pods' network traffic for {secs} s"),
            )
        }
        ("aws:eks:pod", "cpu_throttle") => {
            let pct = match cpu() {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            stress_params(&mut params, secs, pct);
            service_account(files, &mut params)?;
            (
                "aws:eks:pod-cpu-stress",
                "Pods",
                format!("load the pods' CPU to {pct}% for {secs} s"),
            )
        }
        ("aws:eks:pod", "memory_starvation") => {
            let Some(pct) = p
                .concurrency_lost_percent
                .map(|x| whole_percent(x / 100.0))
                .filter(|x| *x > 0)
            else {
                return Ok(Err(
                    "the share of memory taken is unknown in scenarios.parquet".into(),
                ));
            };
            stress_params(&mut params, secs, pct);
            service_account(files, &mut params)?;
            (
                "aws:eks:pod-memory-stress",
                "Pods",
                format!("take {pct}% of the pods' memory for {secs} s"),
            )
        }
        ("aws:ec2:instance", "process_crash") => {
            params.insert("startInstancesAfterDuration".into(), json!(iso(secs)));
            (
                "aws:ec2:stop-instances",
                "Instances",
                format!("stop the instances, start them again after {secs} s"),
            )
        }
        ("aws:rds:db", "process_crash") => {
            params.insert("forceFailover".into(), json!("false"));
            ("aws:rds:reboot-db-instances", "DBInstances", "reboot the DB instance (down while it restarts, not for the whole simulated repair)".to_owned())
        }
        (rt, mode) => {
            return Ok(Err(format!(
                "AWS FIS has no action for {mode} on {rt} (docs/exports.md, the mapping table)"
            )));
        }
    };
    Ok(Ok(Action {
        id: id.to_owned(),
        key,
        params,
        what,
    }))
}

/// A FIS action: its id, the key its target goes under, its parameters and
/// what it does in words.
struct Action {
    id: String,
    key: &'static str,
    params: Map<String, Value>,
    what: String,
}

/// The parameters of the ECS task and EKS pod network-latency actions.
fn latency_params(params: &mut Map<String, Value>, secs: u64, ms: u64) {
    params.insert("duration".into(), json!(iso(secs)));
    params.insert("delayMilliseconds".into(), json!(ms.to_string()));
    params.insert("jitterMilliseconds".into(), json!("0"));
    params.insert("sources".into(), json!("ALL"));
}

/// The parameters of the CPU and memory stress actions.
fn stress_params(params: &mut Map<String, Value>, secs: u64, pct: u64) {
    params.insert("duration".into(), json!(iso(secs)));
    params.insert("percent".into(), json!(pct.to_string()));
}

/// `orders-db-latency-spike` → `OrdersDbLatencySpike`.
fn pascal(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `orders-db-latency-spike` → `ordersDbLatencySpike`.
fn camel(id: &str) -> String {
    let p = pascal(id);
    let mut cs = p.chars();
    cs.next()
        .map(|f| f.to_ascii_lowercase().to_string() + cs.as_str())
        .unwrap_or_default()
}

pub(crate) fn files(ctx: &Ctx<'_>, sel: &Selection) -> Result<Files, Error> {
    let mut files = Files::default();
    let role = match &ctx.opts.fis_role_arn {
        Some(r) => r.clone(),
        None => {
            ctx.placeholder(
                &mut files,
                "no --fis-role-arn: the experiment role is written as arn:aws:iam::123456789012:role/REPLACE-ME (the CloudFormation template takes it as the parameter ExperimentRoleArn)".into(),
            )?;
            "arn:aws:iam::123456789012:role/REPLACE-ME".into()
        }
    };
    // The load balancer in front of the workload, for the alarms' metrics.
    let lb = ctx.run.scenario.resources.iter().find_map(|r| {
        let arn = r.target.as_ref()?.aws.as_ref()?.arn.as_ref()?;
        let name = arn
            .split_once(":loadbalancer/")
            .map(|(_, n)| n.to_owned())?;
        Some((arn.clone(), name))
    });
    let mut resources = Map::new();
    let mut outputs = Map::new();
    let mut any = false;
    for c in &sel.chosen {
        let p = &c.row;
        let id = &p.scenario_id;
        let aws = match aws_target(ctx, &mut files, &p.target)? {
            Ok(a) => a,
            Err(why) => {
                files.skipped.push((id.clone(), why));
                continue;
            }
        };
        let Action {
            id: action_id,
            key,
            params,
            what,
        } = match action(c, &aws, ctx, &mut files)? {
            Ok(a) => a,
            Err(why) => {
                files.skipped.push((id.clone(), why));
                continue;
            }
        };
        let (region, account) = match (&aws.region, &aws.account) {
            (Some(r), Some(a)) => (r.clone(), a.clone()),
            _ => {
                let found = ctx
                    .run
                    .scenario
                    .resources
                    .iter()
                    .filter_map(|r| r.target.as_ref()?.aws.as_ref()?.arn.clone())
                    .map(|arn| region_account(&arn))
                    .find(|(r, a)| r.is_some() && a.is_some());
                match found {
                    Some((Some(r), Some(a))) => (r, a),
                    _ => {
                        ctx.placeholder(
                            &mut files,
                            "no ARN in the scenario gives the region and account: the alarms' ARNs are written with REPLACE-ME".into(),
                        )?;
                        ("REPLACE-ME".into(), "REPLACE-ME".into())
                    }
                }
            }
        };
        let target_name = format!("{}Targets", camel(&p.target));
        let selection = if p.replicas == "all" || aws.resource_type == "aws:rds:db" {
            "ALL".to_owned()
        } else {
            "COUNT(1)".to_owned()
        };
        let mut target = Map::new();
        target.insert("resourceType".into(), json!(aws.resource_type));
        if let Some(arn) = &aws.arn {
            target.insert("resourceArns".into(), json!([arn]));
        } else if let Some(tags) = &aws.tags {
            target.insert("resourceTags".into(), Value::Object(tags.clone()));
        }
        if let Some(pm) = &aws.parameters {
            target.insert("parameters".into(), pm.clone());
        }
        target.insert("selectionMode".into(), json!(selection));
        let alarms: Vec<(String, String, f64, &str)> = [
            ("abort-error-rate", &c.abort_error_rate, 1.0, "error rate"),
            ("abort-latency-p99", &c.abort_latency_p99_ms, 0.001, "p99"),
        ]
        .into_iter()
        .filter(|(_, t, _, _)| t.usable())
        .map(|(suffix, t, scale, what)| {
            (
                format!("preflight-{}-{suffix}", crate::k8s_name(id)),
                format!("{}{}", pascal(id), pascal(suffix)),
                t.value * scale,
                what,
            )
        })
        .collect();
        let description = format!(
            "Preflight run {}, scenario rank {} {} ({} on {}): {what}. Stops when {}.",
            ctx.provenance.run_manifest,
            p.rank,
            id,
            p.failure_mode,
            p.target,
            stop_words(c)
        );
        let description: String = description.chars().take(512).collect();
        let action_name = camel(&format!("{}-{}", p.failure_mode, "action"));
        let tags = json!({
            "Name": format!("preflight-{}", crate::k8s_name(id)),
            "preflight:run": ctx.provenance.run_manifest,
            "preflight:scenario": id,
            "preflight:rank": p.rank.to_string(),
        });
        let request = json!({
            "clientToken": format!("preflight-{}-{}", &ctx.provenance.run_manifest.trim_start_matches("sha256:")[..12], crate::k8s_name(id)),
            "description": description,
            "targets": { &target_name: Value::Object(target.clone()) },
            "actions": { &action_name: {
                "actionId": action_id,
                "description": what,
                "parameters": Value::Object(params.clone()),
                "targets": { key: &target_name },
            }},
            "stopConditions": alarms.iter().map(|(name, _, _, _)| json!({
                "source": "aws:cloudwatch:alarm",
                "value": format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}"),
            })).collect::<Vec<_>>(),
            "roleArn": role,
            "tags": tags,
            "experimentOptions": {
                "accountTargeting": "single-account",
                "emptyTargetResolutionMode": "fail",
            },
        });
        let file = format!("{}.json", crate::k8s_name(id));
        files.files.push((file.clone(), json(&request)));
        files.exported.push((
            id.clone(),
            action_id.clone(),
            vec![file, "cloudformation.json".into()],
        ));
        // The same in CloudFormation, with its alarms.
        for (name, logical, threshold, what) in &alarms {
            resources.insert(
                logical.clone(),
                alarm(name, *threshold, what, c, lb.is_some()),
            );
        }
        let pascal_keys = |m: &Map<String, Value>| -> Value {
            Value::Object(m.iter().map(|(k, v)| (pascal_key(k), v.clone())).collect())
        };
        resources.insert(
            format!("{}Experiment", pascal(id)),
            json!({
                "Type": "AWS::FIS::ExperimentTemplate",
                "Properties": {
                    "Description": description,
                    "RoleArn": { "Ref": "ExperimentRoleArn" },
                    "StopConditions": alarms.iter().map(|(_, logical, _, _)| json!({
                        "Source": "aws:cloudwatch:alarm",
                        "Value": { "Fn::GetAtt": [logical, "Arn"] },
                    })).collect::<Vec<_>>(),
                    "Targets": { &target_name: pascal_keys(&target) },
                    "Actions": { &action_name: {
                        "ActionId": action_id,
                        "Description": what,
                        "Parameters": Value::Object(params),
                        "Targets": { key: &target_name },
                    }},
                    "ExperimentOptions": {
                        "AccountTargeting": "single-account",
                        "EmptyTargetResolutionMode": "fail",
                    },
                    "Tags": tags,
                },
            }),
        );
        outputs.insert(
            format!("{}ExperimentTemplateId", pascal(id)),
            json!({
                "Description": "Start it with: aws fis start-experiment --experiment-template-id <this id>",
                "Value": { "Ref": format!("{}Experiment", pascal(id)) },
            }),
        );
        any = true;
    }
    if any {
        let mut parameters = Map::new();
        parameters.insert(
            "ExperimentRoleArn".into(),
            json!({
                "Type": "String",
                "Default": role,
                "AllowedPattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$",
                "Description": "The IAM role AWS FIS assumes to run the experiments.",
            }),
        );
        let mut lb_param = json!({
            "Type": "String",
            "Description": "The load balancer in front of the workload, as CloudWatch names it (app/NAME/ID): the alarms measure its target group's errors and response time.",
        });
        if let (Some((_, name)), Value::Object(m)) = (&lb, &mut lb_param) {
            m.insert("Default".into(), json!(name));
        }
        parameters.insert("LoadBalancer".into(), lb_param);
        parameters.insert(
            "TargetGroup".into(),
            json!({
                "Type": "String",
                "Description": "The workload's target group, as CloudWatch names it (targetgroup/NAME/ID).",
            }),
        );
        let template = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": format!(
                "Preflight run {}: AWS FIS experiment templates for the exported scenarios of {}, and the CloudWatch alarms at their abort thresholds that stop them.",
                ctx.provenance.run_manifest, ctx.provenance.scenario
            ),
            "Parameters": parameters,
            "Resources": resources,
            "Outputs": outputs,
        });
        files
            .files
            .push(("cloudformation.json".into(), json(&template)));
    }
    Ok(files)
}

/// `resourceType` → `ResourceType`.
fn pascal_key(k: &str) -> String {
    let mut cs = k.chars();
    cs.next()
        .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
        .unwrap_or_default()
}

fn stop_words(c: &Chosen) -> String {
    let mut w = Vec::new();
    if c.abort_error_rate.usable() {
        w.push(format!(
            "the error rate exceeds {}",
            num(c.abort_error_rate.value)
        ));
    }
    if c.abort_latency_p99_ms.usable() {
        w.push(format!(
            "p99 exceeds {} ms",
            num(c.abort_latency_p99_ms.value.round())
        ));
    }
    w.join(" or ")
}

/// A CloudWatch alarm on the load balancer's target group.
fn alarm(name: &str, threshold: f64, what: &str, c: &Chosen, _lb_known: bool) -> Value {
    let dims = json!([
        { "Name": "LoadBalancer", "Value": { "Ref": "LoadBalancer" } },
        { "Name": "TargetGroup", "Value": { "Ref": "TargetGroup" } },
    ]);
    let t = if what == "p99" {
        &c.abort_latency_p99_ms
    } else {
        &c.abort_error_rate
    };
    let description = format!(
        "Stops scenario rank {} {}: {what} above its abort threshold {} ({}; healthy bound {}, breach level {}).",
        c.row.rank,
        c.row.scenario_id,
        num(t.value),
        t.basis,
        num(t.healthy_high),
        t.breach.map_or("none".into(), num)
    );
    let metric = |id: &str, name: &str| {
        json!({
            "Id": id,
            "ReturnData": false,
            "MetricStat": {
                "Metric": { "Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dims },
                "Period": 60,
                "Stat": "Sum",
            },
        })
    };
    if what == "p99" {
        json!({
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description,
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "TargetResponseTime",
                "Dimensions": dims,
                "ExtendedStatistic": "p99",
                "Unit": "Seconds",
                "Period": 60,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "Threshold": threshold,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        })
    } else {
        json!({
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": threshold,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "TreatMissingData": "notBreaching",
                "Metrics": [
                    metric("errors", "HTTPCode_Target_5XX_Count"),
                    metric("requests", "RequestCount"),
                    { "Id": "errorRate", "Label": "error rate", "Expression": "errors / requests", "ReturnData": true },
                ],
            },
        })
    }
}
