//! Campaign ranges as the unit of work: shards as separate processes, then
//! `merge`, give the run directory a local run writes; a run killed with
//! SIGKILL and started again with `--resume` ends identical to one left
//! alone; a merge names what is missing (docs/distributed.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{LIVE, SMALL, bin, preflight, stderr, write};

/// Every result file of a run directory (not the manifest, whose command
/// line and times differ by design).
const TABLES: [&str; 6] = [
    "campaigns.parquet",
    "handlers.parquet",
    "risk.parquet",
    "events.parquet",
    "scenarios.parquet",
    "remediations.parquet",
];

fn same_tables(a: &Path, b: &Path) {
    for t in TABLES {
        let (x, y) = (a.join(t), b.join(t));
        assert_eq!(x.is_file(), y.is_file(), "{t}");
        if x.is_file() {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{t} differs between {} and {}",
                a.display(),
                b.display()
            );
        }
    }
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `LIVE` (natural and programme jobs, events, predicted scenarios) and a
/// targeted injection, in both modes: every kind of job.
fn scenario(dir: &Path) -> PathBuf {
    let text = format!(
        "{LIVE}injections:\n  - {{ id: db-down, target: db, mode: process_crash, at: 2m, duration: 1m }}\nvariants:\n  - {{ name: patient, set: {{ \"handlers[front].operations[get].steps[0].timeout\": 2s }} }}\n"
    );
    write(dir, "live.yaml", &text)
}

const ARGS: [&str; 8] = [
    "--campaigns",
    "10",
    "--mode",
    "both",
    "--scenario-campaigns",
    "2",
    "--events",
    "--quiet",
];

#[test]
fn four_shards_as_processes_then_merge_equal_a_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let local = tmp.path().join("local");
    let mut args = vec!["run", s(&file)];
    args.extend(ARGS);
    args.extend(["--threads", "2", "--out", s(&local)]);
    ok(preflight(&args));
    // Four shards at once, each its own process and directory.
    let dirs: Vec<PathBuf> = (0..4)
        .map(|i| tmp.path().join(format!("shard{i}")))
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let shard = format!("{i}/4");
            let mut c = bin();
            c.args(["run", s(&file)]).args(ARGS).args([
                "--threads",
                "1",
                "--range-size",
                "3",
                "--shard",
                &shard,
                "--out",
                s(d),
            ]);
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().unwrap());
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend(["--out", s(&merged), "--quiet"]);
    ok(preflight(&args));
    same_tables(&local, &merged);
    // A shard run again finds its ranges done and changes nothing; a
    // directory given twice is merged once.
    let again = ok(preflight(&[
        "run",
        s(&file),
        "--campaigns",
        "10",
        "--mode",
        "both",
        "--scenario-campaigns",
        "2",
        "--events",
        "--range-size",
        "3",
        "--shard",
        "1/4",
        "--out",
        s(&dirs[1]),
    ]));
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("0 run now") && said.contains("found done"),
        "{said}"
    );
    let twice = tmp.path().join("twice");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend([s(&dirs[0]), "--out", s(&twice), "--quiet"]);
    ok(preflight(&args));
    same_tables(&local, &twice);
}

fn small_shards(tmp: &Path, n: usize, extra: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let file = write(tmp, "small.yaml", SMALL);
    let dirs: Vec<PathBuf> = (0..n).map(|i| tmp.join(format!("s{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        let shard = format!("{i}/{n}");
        let mut args = vec![
            "run",
            s(&file),
            "--campaigns",
            "8",
            "--range-size",
            "2",
            "--quiet",
            "--shard",
            &shard,
            "--out",
            s(d),
        ];
        args.extend(extra);
        ok(preflight(&args));
    }
    (file, dirs)
}

#[test]
fn a_merge_names_the_missing_ranges_and_the_command_that_fills_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, dirs) = small_shards(tmp.path(), 3, &[]);
    let out = tmp.path().join("merged");
    let o = preflight(&["merge", s(&dirs[0]), s(&dirs[2]), "--out", s(&out)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    // 2 jobs (base, patient) × 4 ranges; shard 1 of 3 has ranges 1, 4, 7.
    assert!(err.contains("3 of 8 ranges are missing"), "{err}");
    assert!(
        err.contains("job 0 (base/natural), campaigns 2..4: shard 1/3"),
        "{err}"
    );
    assert!(
        err.contains("job 1 (patient/natural), campaigns 6..8: shard 1/3"),
        "{err}"
    );
    assert!(err.contains("--shard 1/3"), "{err}");
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn a_damaged_part_or_another_run_s_shard_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, dirs) = small_shards(tmp.path(), 2, &[]);
    // Another seed is another run.
    let other = tmp.path().join("other");
    ok(preflight(&[
        "run",
        s(&file),
        "--campaigns",
        "8",
        "--range-size",
        "2",
        "--quiet",
        "--seed",
        "9",
        "--shard",
        "1/2",
        "--out",
        s(&other),
    ]));
    let o = preflight(&[
        "merge",
        s(&dirs[0]),
        s(&other),
        "--out",
        s(&tmp.path().join("m")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shards of different runs"),
        "{}",
        stderr(&o)
    );
    // A part whose file changed after it was written.
    let part = std::fs::read_dir(dirs[1].join("parts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("part.json").is_file())
        .unwrap();
    std::fs::write(part.join("outcomes.cbor"), b"not what was written").unwrap();
    let o = preflight(&[
        "merge",
        s(&dirs[0]),
        s(&dirs[1]),
        "--out",
        s(&tmp.path().join("m")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not match part.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn shard_auto_reads_the_batch_scheduler_s_index() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let run = |dir: &Path, env: &[(&str, &str)]| {
        let mut c = bin();
        c.args([
            "run",
            s(&file),
            "--campaigns",
            "8",
            "--range-size",
            "2",
            "--shard",
            "auto",
            "--out",
            s(dir),
        ]);
        for k in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_MIN",
            "JOB_COMPLETION_INDEX",
            "PREFLIGHT_SHARDS",
        ] {
            c.env_remove(k);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    };
    // Slurm: task 5 of an array 4-7 is shard 1 of 4.
    let slurm = tmp.path().join("slurm");
    let o = ok(run(
        &slurm,
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
        ],
    ));
    assert!(String::from_utf8_lossy(&o.stdout).contains("shard 1/4"));
    // Kubernetes Indexed Job: index 2 of 3 completions.
    let k8s = tmp.path().join("k8s");
    let o = ok(run(
        &k8s,
        &[("JOB_COMPLETION_INDEX", "2"), ("PREFLIGHT_SHARDS", "3")],
    ));
    assert!(String::from_utf8_lossy(&o.stdout).contains("shard 2/3"));
    let o = run(&tmp.path().join("x"), &[("JOB_COMPLETION_INDEX", "2")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("PREFLIGHT_SHARDS"), "{}", stderr(&o));
    let o = run(&tmp.path().join("y"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no batch array here"), "{}", stderr(&o));
    // And what cannot be sharded is refused.
    let o = preflight(&[
        "run",
        s(&file),
        "--shard",
        "0/2",
        "--until-decided",
        "100",
        "--out",
        s(&tmp.path().join("z")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = preflight(&["run", s(&file), "--shard", "0/2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--shard needs --out"), "{}", stderr(&o));
    let o = preflight(&[
        "run",
        s(&file),
        "--shard",
        "2/2",
        "--out",
        s(&tmp.path().join("z")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_results_of_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.yaml", SMALL);
    let args = |out: &Path| -> Vec<String> {
        [
            "run",
            s(&file),
            "--campaigns",
            "400",
            "--range-size",
            "10",
            "--threads",
            "2",
            "--quiet",
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = tmp.path().join("whole");
    ok(preflight(
        &args(&whole).iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let out = tmp.path().join("killed");
    let parts = tmp.path().join(".killed.parts");
    let count = || {
        std::fs::read_dir(&parts).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('j')
            })
            .count()
        })
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args(&out))
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while count() < 3 {
        assert!(start.elapsed().as_secs() < 120, "no part appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = count();
    assert!((3..40).contains(&left), "{left} parts");
    assert!(!out.exists(), "a killed run publishes nothing");
    let mut resume = args(&out);
    resume.push("--resume".into());
    resume.retain(|a| a != "--quiet");
    let o = ok(preflight(
        &resume.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(
        stderr(&o).contains(&format!("--resume: {left} ranges of an unfinished run")),
        "{}",
        stderr(&o)
    );
    same_tables(&whole, &out);
    assert!(!parts.exists(), "the parts go once the run is published");
}

#[test]
fn the_deploy_files_run_shard_auto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/kubernetes/indexed-job.yaml")).unwrap();
    let job: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    let c = &spec["template"]["spec"]["containers"][0];
    let env = c["env"].as_array().unwrap();
    let shards = env
        .iter()
        .find(|e| e["name"] == "PREFLIGHT_SHARDS")
        .expect("PREFLIGHT_SHARDS, which --shard auto reads beside JOB_COMPLETION_INDEX");
    assert_eq!(shards["value"].as_str().unwrap(), completions.to_string());
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--shard", "auto"]),
        "{args:?}"
    );
    let sbatch = std::fs::read_to_string(root.join("deploy/slurm/preflight-array.sbatch")).unwrap();
    assert!(sbatch.starts_with("#!"));
    assert!(sbatch.contains("#SBATCH --array="));
    assert!(sbatch.contains("--shard auto"));
}
