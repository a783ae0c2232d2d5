//! The dependency rules of docs/ARCHITECTURE.md ("The map"), checked on the
//! graph `cargo metadata` reports, like rust-analyzer's tidy checks.
//!
//! Every rule is a row of [`RULES`] or [`ONLY`]: which crates it covers,
//! what they must not depend on, whether the rule reads the crate's own
//! manifest (direct) or everything it pulls in through normal edges
//! (reachable), and why. A failure names the crate, the dependency (with
//! the path it came through) and the rule.
//!
//! Only normal dependencies count: dev-dependencies are what tests and
//! benchmarks use, and a user never compiles them. The graph is resolved
//! with `--all-features`, so an optional dependency is held to the same rules
//! as a required one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Which crates a rule covers.
#[derive(Clone, Copy, Debug)]
enum Crates {
    /// These crates of the workspace.
    Named(&'static [&'static str]),
    /// Every crate under `crates/` (the libraries) except these.
    LibrariesExcept(&'static [&'static str]),
}

/// What a rule forbids.
#[derive(Clone, Copy, Debug)]
enum Forbidden {
    /// These packages (ours or not).
    Named(&'static [&'static str]),
    /// Any package of this workspace.
    AnyOfOurs,
}

/// How far a rule looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// The crate's own manifest: `[dependencies]`, optional or not, on any target.
    Direct,
    /// Everything reachable through normal edges of the resolved graph.
    Reachable,
    /// As `Reachable`, but not through the crate's own optional dependencies:
    /// what it pulls without features, the rest being a user's choice.
    ReachableWithoutFeatures,
}

/// One rule: `crates` must not depend on `forbidden`, within `reach`.
#[derive(Clone, Copy, Debug)]
struct Rule {
    crates: Crates,
    forbidden: Forbidden,
    reach: Reach,
    why: &'static str,
}

/// Crates of ours that instrument something: resilience stays below them.
const INSTRUMENTATION: &[&str] = &[
    "throughline-tower",
    "throughline-reqwest",
    "throughline-tonic",
    "throughline-subscriber",
    "throughline-pipeline",
    "throughline-testing",
    "throughline",
];

/// HTTP and gRPC clients (and the transport under them).
const CLIENTS: &[&str] = &["reqwest", "reqwest-middleware", "hyper", "hyper-util", "tonic"];

const RULES: &[Rule] = &[
    Rule {
        crates: Crates::Named(&["throughline-propagation"]),
        forbidden: Forbidden::AnyOfOurs,
        reach: Reach::Reachable,
        why: "propagation is the codec every layer reads; it depends on nothing of ours",
    },
    Rule {
        crates: Crates::Named(&["throughline-core"]),
        forbidden: Forbidden::AnyOfOurs,
        reach: Reach::Reachable,
        why: "throughline-core is the leaf vocabulary every layer may depend on",
    },
    Rule {
        crates: Crates::Named(&["throughline-resilience"]),
        forbidden: Forbidden::Named(CLIENTS),
        reach: Reach::Reachable,
        why: "resilience depends on no HTTP or gRPC client; the adapters live in throughline-reqwest and throughline-tonic",
    },
    Rule {
        crates: Crates::Named(&["throughline-resilience"]),
        forbidden: Forbidden::Named(INSTRUMENTATION),
        reach: Reach::Reachable,
        why: "resilience depends on none of the instrumentation crates",
    },
    Rule {
        crates: Crates::LibrariesExcept(&["throughline", "throughline-testing"]),
        forbidden: Forbidden::Named(&["throughline-pipeline", "throughline"]),
        reach: Reach::Reachable,
        why: "no library depends on the pipeline or the facade; only the facade assembles them",
    },
    Rule {
        crates: Crates::Named(&["throughline-testing"]),
        forbidden: Forbidden::Named(&["throughline"]),
        reach: Reach::Reachable,
        why: "the test support does not depend on the facade",
    },
    Rule {
        crates: Crates::Named(&["throughline-tower", "throughline-tonic", "throughline-reqwest"]),
        forbidden: Forbidden::Named(&["throughline-resilience"]),
        reach: Reach::ReachableWithoutFeatures,
        why: "tracing an HTTP or gRPC call compiles no resilience (the retry adapters are behind features); the shared words are in throughline-core",
    },
    Rule {
        crates: Crates::LibrariesExcept(&[
            "throughline-pipeline",
            "throughline-testing",
            "throughline-viewer",
            "throughline-otlp-decode",
            "throughline",
        ]),
        forbidden: Forbidden::Named(&["opentelemetry_sdk"]),
        reach: Reach::Reachable,
        why: "libraries use the opentelemetry API; only the pipeline (and the test support, the viewer's SDK processors, the OTLP decoding through opentelemetry-proto, and the facade re-exporting them) depends on the SDK",
    },
    Rule {
        crates: Crates::Named(&["throughline-viewer"]),
        forbidden: Forbidden::Named(&[
            "throughline-testing",
            "throughline-tower",
            "throughline-resilience",
            "reqwest",
        ]),
        reach: Reach::Reachable,
        why: "the viewer shares the receiver's decoding through throughline-otlp-decode, never the test-only crate, and instruments nothing",
    },
    Rule {
        crates: Crates::Named(&["throughline-otlp-decode"]),
        forbidden: Forbidden::AnyOfOurs,
        reach: Reach::Reachable,
        why: "the OTLP decoding is a leaf both receivers share",
    },
];

/// Whether a dependency listed in [`ONLY`] must be optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Optional {
    Allowed,
    Must,
}

/// A crate whose manifest may list only these normal dependencies.
#[derive(Clone, Copy, Debug)]
struct Only {
    krate: &'static str,
    allowed: &'static [(&'static str, Optional)],
    why: &'static str,
}

const ONLY: &[Only] = &[Only {
    krate: "throughline-propagation",
    allowed: &[("http", Optional::Allowed), ("opentelemetry", Optional::Must)],
    why: "propagation depends on `http` only, and on `opentelemetry` behind its feature",
}];

/// One package as the rules see it.
#[derive(Debug, Default)]
struct Package {
    /// Under `crates/`.
    library: bool,
    /// Its normal dependencies as its manifest lists them: name, optional.
    direct: Vec<(String, bool)>,
    /// The packages its normal edges lead to in the resolved graph.
    edges: BTreeSet<String>,
}

/// The dependency graph, by package name (versions of one name are merged).
#[derive(Debug, Default)]
struct Graph {
    packages: BTreeMap<String, Package>,
    ours: BTreeSet<String>,
}

impl Graph {
    /// Reads `cargo metadata --format-version 1` output.
    fn from_metadata(metadata: &Value) -> Graph {
        let root = metadata["workspace_root"].as_str().expect("workspace_root");
        let crates_dir = Path::new(root).join("crates");
        let mut graph = Graph::default();
        let mut names_by_id = BTreeMap::new();
        for package in metadata["packages"].as_array().expect("packages") {
            let name = package["name"].as_str().expect("name").to_owned();
            names_by_id.insert(package["id"].as_str().expect("id").to_owned(), name.clone());
            let entry = graph.packages.entry(name).or_default();
            entry.library |=
                Path::new(package["manifest_path"].as_str().expect("manifest_path")).starts_with(&crates_dir);
            for dependency in package["dependencies"].as_array().expect("dependencies") {
                if dependency["kind"].is_null() {
                    let name = dependency["name"].as_str().expect("name").to_owned();
                    entry.direct.push((name, dependency["optional"].as_bool().unwrap_or(false)));
                }
            }
        }
        for id in metadata["workspace_members"].as_array().expect("workspace_members") {
            graph.ours.insert(names_by_id[id.as_str().expect("id")].clone());
        }
        for node in metadata["resolve"]["nodes"].as_array().expect("resolve.nodes (run without --no-deps)") {
            let from = &names_by_id[node["id"].as_str().expect("id")];
            for dep in node["deps"].as_array().expect("deps") {
                let normal =
                    dep["dep_kinds"].as_array().expect("dep_kinds").iter().any(|kind| kind["kind"].is_null());
                if normal {
                    let to = names_by_id[dep["pkg"].as_str().expect("pkg")].clone();
                    graph.packages.get_mut(from).expect("node of a package").edges.insert(to);
                }
            }
        }
        graph
    }

    /// What `name` reaches through normal edges, each with the path it came
    /// through (`name` first).
    /// `without_features` leaves out `name`'s own optional dependencies.
    fn reachable(&self, name: &str, without_features: bool) -> BTreeMap<String, Vec<String>> {
        let optional: BTreeSet<&str> = match self.packages.get(name) {
            Some(package) if without_features => {
                package.direct.iter().filter(|(_, optional)| *optional).map(|(dep, _)| dep.as_str()).collect()
            }
            _ => BTreeSet::new(),
        };
        let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut queue = VecDeque::from([vec![name.to_owned()]]);
        while let Some(path) = queue.pop_front() {
            let last = path.last().expect("a path is never empty");
            for next in self.packages.get(last).map(|package| &package.edges).into_iter().flatten() {
                let first_hop = path.len() == 1;
                if first_hop && optional.contains(next.as_str()) {
                    continue;
                }
                if next != name && !paths.contains_key(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    paths.insert(next.clone(), longer.clone());
                    queue.push_back(longer);
                }
            }
        }
        paths
    }

    fn covered(&self, crates: Crates) -> Vec<&str> {
        match crates {
            Crates::Named(names) => names.to_vec(),
            Crates::LibrariesExcept(except) => self
                .packages
                .iter()
                .filter(|(name, package)| {
                    package.library && self.ours.contains(*name) && !except.contains(&name.as_str())
                })
                .map(|(name, _)| name.as_str())
                .collect(),
        }
    }

    fn forbids(&self, forbidden: Forbidden, dependency: &str) -> bool {
        match forbidden {
            Forbidden::Named(names) => names.contains(&dependency),
            Forbidden::AnyOfOurs => self.ours.contains(dependency),
        }
    }
}

/// Every broken rule, one sentence each: the crate, the dependency, the rule.
fn violations(graph: &Graph, rules: &[Rule], only: &[Only]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in rules {
        for name in graph.covered(rule.crates) {
            let Some(package) = graph.packages.get(name) else {
                found.push(format!(
                    "{name} is not in the workspace, so the rule \"{}\" checks nothing",
                    rule.why
                ));
                continue;
            };
            match rule.reach {
                Reach::Direct => {
                    for (dependency, _) in &package.direct {
                        if graph.forbids(rule.forbidden, dependency) {
                            found.push(format!(
                                "{name} depends on {dependency}, against the rule \"{}\"",
                                rule.why
                            ));
                        }
                    }
                }
                Reach::Reachable | Reach::ReachableWithoutFeatures => {
                    let without_features = rule.reach == Reach::ReachableWithoutFeatures;
                    for (dependency, path) in graph.reachable(name, without_features) {
                        if graph.forbids(rule.forbidden, &dependency) {
                            found.push(format!(
                                "{name} depends on {dependency} ({}), against the rule \"{}\"",
                                path.join(" -> "),
                                rule.why
                            ));
                        }
                    }
                }
            }
        }
    }
    for &Only { krate: name, allowed, why } in only {
        let Some(package) = graph.packages.get(name) else {
            found.push(format!("{name} is not in the workspace, so the rule \"{why}\" checks nothing"));
            continue;
        };
        for (dependency, optional) in &package.direct {
            match allowed.iter().find(|(allowed, _)| allowed == dependency) {
                None => found.push(format!("{name} depends on {dependency}, against the rule \"{why}\"")),
                Some((_, Optional::Must)) if !optional => found.push(format!(
                    "{name} depends on {dependency} without a feature, against the rule \"{why}\""
                )),
                Some(_) => {}
            }
        }
    }
    found
}

fn workspace_metadata() -> Value {
    // Read at run time: one clone's test binary may run for another, which
    // shares its target directory (see `cargo xtask root`).
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let workspace = Path::new(&manifest_dir).parent().expect("xtask sits in the workspace").to_path_buf();
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace)
        .args(["metadata", "--format-version", "1", "--all-features", "--locked"])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn every_crate_keeps_the_dependency_rules() {
    let graph = Graph::from_metadata(&workspace_metadata());
    let found = violations(&graph, RULES, ONLY);
    assert!(
        found.is_empty(),
        "the dependency rules of docs/ARCHITECTURE.md are broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_crate_a_rule_names_is_in_the_workspace() {
    let graph = Graph::from_metadata(&workspace_metadata());
    let named = RULES.iter().flat_map(|rule| match rule.crates {
        Crates::Named(names) => names.to_vec(),
        Crates::LibrariesExcept(names) => names.to_vec(),
    });
    let named = named.chain(INSTRUMENTATION.iter().copied()).chain(ONLY.iter().map(|only| only.krate));
    for name in named {
        assert!(graph.ours.contains(name), "the rules name {name}, which is not a crate of this workspace");
    }
    // The libraries the broad rules cover, so that a move out of crates/ is seen.
    let libraries = graph.covered(Crates::LibrariesExcept(&[]));
    for name in ["throughline-core", "throughline-propagation", "throughline-tower", "throughline-resilience"]
    {
        assert!(libraries.contains(&name), "{name} is not seen as a library under crates/: {libraries:?}");
    }
}

/// A package of a made-up graph: name, under `crates/`, its manifest's
/// dependencies (name, optional), its resolved normal edges.
type MadeUp<'a> = (&'a str, bool, &'a [(&'a str, bool)], &'a [&'a str]);

/// A small graph that breaks rules, to see the checks fail and say why.
fn graph_of(packages: &[MadeUp<'_>], ours: &[&str]) -> Graph {
    let mut graph = Graph { ours: ours.iter().map(|name| name.to_string()).collect(), ..Graph::default() };
    for (name, library, direct, edges) in packages {
        graph.packages.insert(
            name.to_string(),
            Package {
                library: *library,
                direct: direct.iter().map(|(name, optional)| (name.to_string(), *optional)).collect(),
                edges: edges.iter().map(|name| name.to_string()).collect(),
            },
        );
    }
    graph
}

#[test]
fn a_forbidden_dependency_is_named_with_its_path_and_rule() {
    let graph = graph_of(
        &[
            (
                "throughline-propagation",
                true,
                &[("http", false), ("opentelemetry", false), ("rand", false)],
                &["http"],
            ),
            ("throughline-core", true, &[("http", false)], &["http"]),
            (
                "throughline-resilience",
                true,
                &[("throughline-core", false), ("helper", false)],
                &["throughline-core", "helper"],
            ),
            ("helper", false, &[("hyper-util", false)], &["hyper-util"]),
            ("hyper-util", false, &[], &[]),
            // Behind a feature: allowed. Through the tower crate: not.
            (
                "throughline-tonic",
                true,
                &[("throughline-resilience", true), ("throughline-tower", false)],
                &["throughline-resilience", "throughline-tower"],
            ),
            ("throughline-tower", true, &[("throughline-resilience", false)], &["throughline-resilience"]),
            ("throughline-pipeline", true, &[], &[]),
            ("throughline-subscriber", true, &[("throughline", false)], &["throughline"]),
            ("throughline", true, &[("throughline-pipeline", false)], &["throughline-pipeline"]),
            ("throughline-testing", true, &[("throughline-pipeline", false)], &["throughline-pipeline"]),
            ("throughline-reqwest", true, &[], &[]),
            ("throughline-viewer", true, &[("throughline-otlp-decode", false)], &["throughline-otlp-decode"]),
            ("throughline-otlp-decode", true, &[], &[]),
            ("http", false, &[], &[]),
        ],
        &[
            "throughline-propagation",
            "throughline-core",
            "throughline-resilience",
            "throughline-tonic",
            "throughline-tower",
            "throughline-pipeline",
            "throughline-subscriber",
            "throughline",
            "throughline-testing",
            "throughline-reqwest",
            "throughline-viewer",
            "throughline-otlp-decode",
        ],
    );
    let found = violations(&graph, RULES, ONLY);
    let expected = [
        "throughline-resilience depends on hyper-util (throughline-resilience -> helper -> hyper-util), against the rule \"resilience depends on no HTTP or gRPC client",
        "throughline-subscriber depends on throughline (throughline-subscriber -> throughline), against the rule \"no library depends on the pipeline or the facade",
        "throughline-subscriber depends on throughline-pipeline (throughline-subscriber -> throughline -> throughline-pipeline), against the rule \"no library",
        "throughline-tower depends on throughline-resilience (throughline-tower -> throughline-resilience), against the rule \"tracing an HTTP or gRPC call compiles no resilience",
        "throughline-tonic depends on throughline-resilience (throughline-tonic -> throughline-tower -> throughline-resilience), against the rule \"tracing an HTTP or gRPC call compiles no resilience",
        "throughline-propagation depends on rand, against the rule \"propagation depends on `http` only",
        "throughline-propagation depends on opentelemetry without a feature, against the rule",
    ];
    for sentence in expected {
        assert!(
            found.iter().any(|line| line.starts_with(sentence)),
            "missing {sentence:?} in:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "unexpected findings:\n{}", found.join("\n"));
}

#[test]
fn a_rule_on_a_crate_that_is_gone_fails_instead_of_passing() {
    let graph = graph_of(&[], &[]);
    let found = violations(
        &graph,
        &[Rule {
            crates: Crates::Named(&["throughline-gone"]),
            forbidden: Forbidden::AnyOfOurs,
            reach: Reach::Direct,
            why: "a rule",
        }],
        &[],
    );
    assert_eq!(found, ["throughline-gone is not in the workspace, so the rule \"a rule\" checks nothing"]);
}
