//! Regression tests for what an adversarial pass over the command line
//! found: each test is named after what broke. Every input a user (or
//! someone who writes the scenario a shared pipeline runs) controls must
//! give a clear error and exit 2, never a panic, a leak of a file's content,
//! unbounded reading or the loss of a user's files.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, preflight, preflight_in, stderr, write};

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn mm1() -> String {
    std::fs::read_to_string(format!("{}/scenarios/mm1.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A line that looks like a password file's, to check that no message
/// echoes it.
const SECRET: &str = "root:$6$Zq8secret$Hash:19000:0:99999:7:::";

// ---------------------------------------------------------------------------
// 1. --out deletes a user's files
// ---------------------------------------------------------------------------

#[test]
fn out_into_a_folder_with_someone_elses_manifest_json_deletes_nothing() {
    for manifest in [r#"{"manifest_version":3}"#, "not json at all"] {
        let tmp = tempfile::tempdir().unwrap();
        let webapp = tmp.path().join("webapp");
        std::fs::create_dir_all(webapp.join("src")).unwrap();
        write(&webapp, "manifest.json", manifest);
        write(&webapp.join("src"), "app.js", "x\n");
        let scenario = write(&webapp, "mm1.yaml", &mm1());
        let o = preflight(&[
            "run",
            s(&scenario),
            "--out",
            s(&webapp),
            "--campaigns",
            "2",
            "--quiet",
        ]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("not provably a preflight run directory"));
        assert_eq!(
            std::fs::read_to_string(webapp.join("manifest.json")).unwrap(),
            manifest
        );
        assert!(webapp.join("src/app.js").is_file());
        assert!(scenario.is_file());
        // Nothing is left beside it either.
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "webapp")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn out_replaces_its_own_run_directory_but_not_one_with_a_file_added() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write(tmp.path(), "mm1.yaml", &mm1());
    let out = tmp.path().join("run");
    let run = |out: &Path| {
        preflight(&[
            "run",
            s(&scenario),
            "--out",
            s(out),
            "--campaigns",
            "2",
            "--quiet",
        ])
    };
    assert_eq!(code(&run(&out)), 0);
    let o = run(&out);
    assert_eq!(code(&o), 0, "a run directory is replaced: {}", stderr(&o));
    write(&out, "notes.md", "my notes\n");
    let o = run(&out);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("`notes.md`"), "{}", stderr(&o));
    assert!(out.join("notes.md").is_file());
    assert!(out.join("campaigns.parquet").is_file());
}

#[cfg(unix)]
#[test]
fn symlinked_out_is_called_a_symlink_not_a_non_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write(tmp.path(), "mm1.yaml", &mm1());
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = preflight(&["run", s(&scenario), "--out", s(&link), "--quiet"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(link.is_symlink());
}

// ---------------------------------------------------------------------------
// 2. Files outside the scenario, and their content in messages
// ---------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn historical_faults_symlink_out_of_the_folder_is_refused_and_never_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "shadow", &format!("{SECRET}\n{SECRET}\n"));
    let dir = tmp.path().join("scenario");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("link.csv")).unwrap();
    let text = mm1().replace("seed: 1\n", "seed: 1\nhistorical_faults: link.csv\n");
    let scenario = write(&dir, "s.yaml", &text);

    let o = preflight(&["validate", s(&scenario)]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("historical_faults"), "{err}");
    assert!(err.contains("outside the scenario's folder"), "{err}");
    assert!(!err.contains("root"), "{err}");

    // Allowed, the file is read, found not to be a history, and still not quoted.
    let out = tmp.path().join("out");
    for args in [
        vec!["--allow-external-files", "validate", s(&scenario)],
        vec![
            "--allow-external-files",
            "run",
            s(&scenario),
            "--quiet",
            "--out",
            s(&out),
        ],
    ] {
        let o = preflight(&args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(!err.contains("root") && !err.contains("19000"), "{err}");
        assert!(err.contains("historical_faults"), "{err}");
    }
    assert!(!out.exists());

    // `../` out of the folder is refused without following anything.
    let text = mm1().replace("seed: 1\n", "seed: 1\nhistorical_faults: ../shadow\n");
    let scenario = write(&dir, "up.yaml", &text);
    let o = preflight(&["validate", s(&scenario)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("outside the scenario's folder"));
}

#[cfg(unix)]
#[test]
fn named_files_that_are_devices_or_fifos_are_refused_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("zero.csv")).unwrap();
    for name in ["fifo.csv", "zero.csv"] {
        // An empirical distribution names the file.
        let text = mm1().replace(
            "{ dist: exponential, mean: 1ms }",
            &format!("{{ dist: empirical, file: {name}, column: ms, unit: ms }}"),
        );
        let scenario = write(tmp.path(), "e.yaml", &text);
        let started = Instant::now();
        let o = bin()
            .args(["--allow-external-files", "validate", s(&scenario)])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not a regular file"),
            "{name}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn an_incident_file_that_is_not_a_csv_is_not_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "h.csv", &format!("{SECRET}\nbob:x:1:1:::\n"));
    let o = preflight(&["fit", s(&f)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("root") && !err.contains("bob"), "{err}");
    assert!(err.contains("no header row"), "{err}");
}

// ---------------------------------------------------------------------------
// 3. A horizon silently shortened
// ---------------------------------------------------------------------------

#[test]
fn horizon_beyond_the_clock_is_an_error_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    for (horizon, says) in [
        ("365000d", "longest duration Preflight represents"),
        ("200000d", "longest campaign Preflight simulates"),
    ] {
        let text = mm1().replace("horizon: 10s", &format!("horizon: {horizon}"));
        let f = write(tmp.path(), "h.yaml", &text);
        let o = preflight(&["validate", s(&f)]);
        assert_eq!(code(&o), 2, "{horizon}");
        let err = stderr(&o);
        assert!(err.contains("h.yaml:17:"), "{err}");
        assert!(err.contains("horizon:") && err.contains(says), "{err}");
    }
}

// ---------------------------------------------------------------------------
// 4. A full stdout
// ---------------------------------------------------------------------------

#[cfg(target_os = "linux")]
#[test]
fn writing_to_a_full_stdout_exits_3_not_101() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write(tmp.path(), "mm1.yaml", &mm1());
    let history = write(
        tmp.path(),
        "h.csv",
        "resource,start,end\ndb,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\n\
         db,2024-02-01T00:00:00Z,2024-02-01T02:00:00Z\ndb,2024-03-05T00:00:00Z,2024-03-05T00:30:00Z\n",
    );
    let out = tmp.path().join("out");
    let cases: Vec<Vec<&str>> = vec![
        vec!["validate", s(&scenario)],
        vec!["schema"],
        vec!["run", s(&scenario), "--campaigns", "2", "--out", s(&out)],
        vec!["gate", s(&scenario), "--campaigns", "2", "--out", s(&out)],
        vec!["fit", s(&history)],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = bin().args(&args).stdout(full).output().unwrap();
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write to standard output"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

// ---------------------------------------------------------------------------
// 5. Reading in proportion to the input
// ---------------------------------------------------------------------------

#[test]
fn scenario_and_data_files_over_their_caps_are_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    // Sparse files: the size is checked before a byte is read.
    let big = tmp.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let started = Instant::now();
    let o = preflight(&["validate", s(&big)]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("over the limit of 16 MiB"),
        "{}",
        stderr(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let huge = tmp.path().join("history.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 * 1024 * 1024)
        .unwrap();
    let text = mm1().replace("seed: 1\n", "seed: 1\nhistorical_faults: history.csv\n");
    let scenario = write(tmp.path(), "s.yaml", &text);
    let o = preflight(&["validate", s(&scenario)]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("over the limit of 256 MiB"),
        "{}",
        stderr(&o)
    );
    let o = preflight(&["fit", s(&huge)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("over the limit of 256 MiB"));
}

// ---------------------------------------------------------------------------
// 7. TOML validation was quadratic
// ---------------------------------------------------------------------------

#[test]
fn toml_scenario_of_ten_thousand_resources_validates_in_linear_time() {
    let mut toml = String::from("name = \"big\"\nhorizon = \"10s\"\n");
    for i in 0..10_000 {
        toml.push_str(&format!(
            "\n[[resources]]\nid = \"r{i}\"\ntype = \"service\"\nreplicas = 2\ncriticality = \"high\"\nservice_time = {{ dist = \"exponential\", mean = \"1ms\" }}\n"
        ));
    }
    toml.push_str(
        "\n[[handlers]]\nid = \"h\"\nruns_on = \"r0\"\noperations = [{ name = \"o\", steps = [] }]\n\
         \n[[workload]]\nhandler = \"h\"\narrivals = { process = \"poisson\", rate = \"10/s\" }\n",
    );
    assert!(toml.len() > 1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "big.toml", &toml);
    let started = Instant::now();
    let o = preflight(&["validate", s(&f)]);
    let took = started.elapsed();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Quadratic position lookups took 70 s here in a release build; linear
    // ones take well under a second. The bound leaves room for a slow,
    // loaded machine and a debug build.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

// ---------------------------------------------------------------------------
// 9. Inputs accepted that should not be
// ---------------------------------------------------------------------------

const MINI_TOML: &str = r#"
name = "x"
seed = SEED
horizon = "10s"
[[resources]]
id = "s"
type = "service"
service_time = { dist = "exponential", mean = "1ms" }
[[handlers]]
id = "h"
runs_on = "s"
operations = [{ name = "o", steps = [] }]
slo = { success_rate = RATE }
[[workload]]
handler = "h"
arrivals = { process = "poisson", rate = "10/s" }
"#;

#[test]
fn toml_nan_is_an_error_not_a_silent_default() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = write(
        tmp.path(),
        "ok.toml",
        &MINI_TOML.replace("SEED", "1").replace("RATE", "0.99"),
    );
    assert_eq!(code(&preflight(&["validate", s(&ok)])), 0);
    for (seed, rate, field) in [
        ("nan", "0.99", "seed"),
        ("1", "nan", "handlers[0].slo.success_rate"),
        ("1", "-inf", "handlers[0].slo.success_rate"),
    ] {
        let f = write(
            tmp.path(),
            "n.toml",
            &MINI_TOML.replace("SEED", seed).replace("RATE", rate),
        );
        let o = preflight(&["validate", s(&f)]);
        assert_eq!(code(&o), 2, "{seed} {rate}");
        assert!(
            stderr(&o).contains(&format!("{field}: `")),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("not a finite number"));
    }
    let yaml = write(
        tmp.path(),
        "n.yaml",
        &mm1().replace("seed: 1", "seed: .nan"),
    );
    let o = preflight(&["validate", s(&yaml)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("seed:"), "{}", stderr(&o));
}

#[test]
fn json_duplicate_keys_are_an_error_as_in_yaml_and_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "d.json",
        "{\n  \"name\": \"a\",\n  \"horizon\": \"10s\",\n  \"name\": \"b\"\n}\n",
    );
    let o = preflight(&["validate", s(&f)]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("d.json:4:3: name: duplicate key `name` (first at line 2)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// 10. fit and calibrate on histories that do not fit
// ---------------------------------------------------------------------------

#[test]
fn fit_on_rows_with_missing_fields_names_them_instead_of_opening_incidents() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "h.csv",
        "resource,start,end\ndb,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\n\
         db,2024-02-01T00:00:00Z\ndb,2024-03-01T00:00:00Z,2024-03-01T01:00:00Z,extra\n",
    );
    let o = preflight(&["fit", s(&f)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("line 3 has 2"), "{err}");
    assert!(err.contains("line 4 has 4"), "{err}");
    assert!(err.contains("the header has 3 fields"), "{err}");
}

#[test]
fn calibrate_on_a_history_that_maps_to_nothing_is_an_error_not_brier_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write(tmp.path(), "mm1.yaml", &mm1());
    let mut csv = String::from("resource,start,end\n");
    for m in 1..=9 {
        csv.push_str(&format!(
            "mainframe,2024-0{m}-01T00:00:00Z,2024-0{m}-01T01:00:00Z\n"
        ));
    }
    let history = write(tmp.path(), "h.csv", &csv);
    let map = tmp.path().join("map.json");
    let o = preflight(&[
        "calibrate",
        s(&scenario),
        "--history",
        s(&history),
        "--map",
        s(&map),
        "--window",
        "10s",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("none of its 9 incidents maps"), "{err}");
    assert!(err.contains("`mainframe (process_crash)` × 9"), "{err}");
    assert!(err.contains("`server`"), "{err}");
    assert!(!map.exists());
}

// ---------------------------------------------------------------------------
// 11. Messages
// ---------------------------------------------------------------------------

#[test]
fn messages_name_the_field_and_line_and_the_flags_that_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |name: &str, text: &str, wants: &[&str], not: &[&str]| {
        let f = write(tmp.path(), name, text);
        let o = preflight(&["validate", s(&f)]);
        assert_eq!(code(&o), 2, "{name}");
        let err = stderr(&o);
        for w in wants {
            assert!(err.contains(w), "{name}: wants {w}: {err}");
        }
        for n in not {
            assert!(!err.contains(n), "{name}: must not say {n}: {err}");
        }
    };
    // replicas: one limit, said with the line.
    check(
        "r.yaml",
        &mm1().replace("replicas: 1", "replicas: 100000000"),
        &["r.yaml:22:", "resources[0].replicas:", "65535"],
        &["4294967295"],
    );
    // A number past f64 has its field path.
    check(
        "m.yaml",
        &mm1().replace("mean: 1ms", "mean: 1e309"),
        &["m.yaml:24:", "resources[0].service_time.mean:"],
        &[],
    );
    // TOML errors speak of TOML.
    check(
        "big.toml",
        "name = \"x\"\nseed = 99999999999999999999999\n",
        &["big.toml:2:", "seed:"],
        &["JSON"],
    );
    // historical_faults cannot take --col: the message does not suggest it.
    write(
        tmp.path(),
        "incidents.csv",
        "service,began\nserver,2024-01-01T00:00:00Z\n",
    );
    let text = mm1().replace("seed: 1\n", "seed: 1\nhistorical_faults: incidents.csv\n");
    let f = write(tmp.path(), "hf.yaml", &text);
    let o = preflight(&[
        "run",
        s(&f),
        "--campaigns",
        "1",
        "--quiet",
        "--out",
        s(&tmp.path().join("o")),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("historical_faults"), "{err}");
    assert!(err.contains("name a column `resource`"), "{err}");
    assert!(!err.contains("--col resource"), "{err}");
}

#[test]
fn a_long_scenario_name_does_not_blame_an_out_never_given() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "n".repeat(300);
    let f = write(
        tmp.path(),
        "long.yaml",
        &mm1().replace("name: mm1", &format!("name: {long}")),
    );
    let o = preflight_in(tmp.path(), &["run", s(&f), "--campaigns", "2", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reports: Vec<String> = std::fs::read_dir(tmp.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].len() <= 64, "{reports:?}");
    assert!(reports[0].starts_with("nnnn"), "{reports:?}");
}

#[test]
fn yaml_tags_are_warned_not_dropped_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "t.yaml",
        &mm1().replace("name: mm1", "name: !custom mm1"),
    );
    let o = preflight(&["validate", s(&f)]);
    assert_eq!(code(&o), 0);
    let err = stderr(&o);
    assert!(err.contains("warning"), "{err}");
    assert!(
        err.contains("t.yaml:14:") && err.contains("`!custom`"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// 12. Signals
// ---------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn sigint_and_sigterm_delete_the_staging_directory_and_keep_the_old_results() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write(tmp.path(), "mm1.yaml", &mm1());
    let out = tmp.path().join("run");
    let o = preflight(&[
        "run",
        s(&scenario),
        "--campaigns",
        "2",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert_eq!(code(&o), 0);
    let before = std::fs::read(out.join("campaigns.parquet")).unwrap();
    for (signal, expected) in [("INT", 130), ("TERM", 143)] {
        let mut child = bin()
            .args([
                "run",
                s(&scenario),
                "--campaigns",
                "100000",
                "--threads",
                "1",
                "--quiet",
                "--out",
                s(&out),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the staging directory to appear.
        let staging = || {
            std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".run.tmp-"))
                .count()
        };
        let started = Instant::now();
        while staging() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no staging dir"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected), "SIG{signal}");
        assert_eq!(staging(), 0, "SIG{signal} left the staging directory");
        assert_eq!(
            std::fs::read(out.join("campaigns.parquet")).unwrap(),
            before
        );
    }
}
