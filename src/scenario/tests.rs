use super::*;

fn yaml(src: &str) -> Result<Loaded, LoadError> {
    load_bytes(src.as_bytes(), Format::Yaml, Path::new("t.yaml"))
}

#[test]
fn explore() {
    let cases = [
        "name: x\nresources:\n  - id: a\n    type: cache\n    replica: 2\n  - id: b\n    type: databse\n    replicas: -1\nhandlers:\n  - id: h\n    runs_on: a\n    operations:\n      - name: op\n        steps:\n          - call: b\n            interval: 1s\n          - call: b\n            timeout: 5\n",
        "name: x\nnmae: y\n",
        "resources: []\n",
        "name: [1\n",
        "name: x\nresources:\n  - { id: a, type: cache, service_time: { dist: weibull, shape: 1 } }\n",
        "name: x\nresources:\n  - { id: a }\n  - { id: b, type: cache, replicas: 0 }\n",
        "",
        "- a\n",
    ];
    for c in cases {
        match yaml(c) {
            Ok(_) => println!("OK"),
            Err(e) => println!("{e}\n---"),
        }
    }
    panic!("show");
}
