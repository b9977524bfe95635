//! boxoffice: a ticket booking API that cannot oversell.
//!
//! Replicas are stateless axum servers; all state, and every check-then-write, lives in Redis as
//! Lua scripts (`lua/`). Start reading at [`routes`] (what the API does), then [`store`] (how it
//! is kept in Redis) and the scripts themselves.
//!
//! The modules form layers; each uses only modules of its own layer or below (a unit test reads
//! every `crate::` path and fails on one that points up, or on a circle):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 6 | [`app`], [`audit`] | assembling a replica; the audit tool |
//! | 5 | [`routes`], [`openapi`] | the API: one handler per operation, and its document |
//! | 4 | [`state`] | what handlers get; extractors reach it through `FromRef` |
//! | 3 | [`auth`], [`extract`], [`live`], [`views`], [`waiting`], [`server`], [`metrics`], [`webhooks`] | who asks, what they send, live streams, read views, waiting-room views, connections, counters, webhook delivery |
//! | 2 | [`store`] | Redis: one script call per operation, keys, connections |
//! | 1 | [`domain`], [`error`], [`config`], [`telemetry`] | the model, the one error type, settings, logs |

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod views;
pub mod waiting;
pub mod webhooks;

#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};

    /// Each top-level module's layer (see the table above).
    const LAYERS: &[(&str, u8)] = &[
        ("app", 6),
        ("audit", 6),
        ("routes", 5),
        ("openapi", 5),
        ("state", 4),
        ("auth", 3),
        ("extract", 3),
        ("live", 3),
        ("server", 3),
        ("metrics", 3),
        ("webhooks", 3),
        ("waiting", 3),
        ("views", 3),
        ("store", 2),
        ("domain", 1),
        ("error", 1),
        ("config", 1),
        ("telemetry", 1),
    ];

    fn layer(module: &str) -> u8 {
        LAYERS
            .iter()
            .find(|(name, _)| *name == module)
            .map(|(_, layer)| *layer)
            .unwrap_or_else(|| panic!("src/{module}: a module without a layer (add it to LAYERS)"))
    }

    /// The top-level modules each top-level module names (`crate::x`, `use crate::{x, ..}`),
    /// outside comments.
    fn edges() -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut folders = vec![std::path::PathBuf::from(root)];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if !path.ends_with("bin") {
                        folders.push(path);
                    }
                    continue;
                }
                let relative = path.strip_prefix(root).expect("under src");
                let first = relative
                    .components()
                    .next()
                    .and_then(|c| c.as_os_str().to_str())
                    .unwrap_or("");
                let module = first.trim_end_matches(".rs");
                if ["lib", "main"].contains(&module) {
                    continue;
                }
                let source = std::fs::read_to_string(&path).expect("a source file");
                for line in source.lines() {
                    let code = line.split("//").next().unwrap_or("");
                    for (at, _) in code.match_indices("crate::") {
                        let rest = &code[at + "crate::".len()..];
                        let names: Vec<&str> = match rest.strip_prefix('{') {
                            Some(group) => group
                                .split(['}', ','])
                                .map(|n| n.trim().split("::").next().unwrap_or(""))
                                .collect(),
                            None => vec![
                                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                                    .next()
                                    .unwrap_or(""),
                            ],
                        };
                        for name in names.into_iter().filter(|n| !n.is_empty()) {
                            // A `#[macro_export]` macro lives at the crate root.
                            let name = if name == "error_responses" {
                                "error"
                            } else {
                                name
                            };
                            if name != module {
                                edges
                                    .entry(module.to_owned())
                                    .or_default()
                                    .insert(name.to_owned());
                            }
                        }
                    }
                }
            }
        }
        edges
    }

    #[test]
    fn no_module_uses_one_above_it() {
        let edges = edges();
        assert!(
            edges.len() > 10,
            "the reader found too few modules: {edges:?}"
        );
        for (from, targets) in &edges {
            for to in targets {
                assert!(
                    layer(to) <= layer(from),
                    "src/{from} (layer {}) uses {to} (layer {}): an edge that points up",
                    layer(from),
                    layer(to)
                );
            }
        }
    }

    #[test]
    fn the_modules_form_no_circle() {
        let edges = edges();
        // Depth-first search from every module; a module met again on the current path is a
        // circle.
        fn visit(
            module: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if done.contains(module) {
                return;
            }
            if let Some(at) = path.iter().position(|m| m == module) {
                panic!("an import circle: {:?} -> {module}", &path[at..]);
            }
            path.push(module.to_owned());
            for next in edges.get(module).into_iter().flatten() {
                visit(next, edges, path, done);
            }
            path.pop();
            done.insert(module.to_owned());
        }
        let mut done = BTreeSet::new();
        for module in edges.keys() {
            visit(module, &edges, &mut Vec::new(), &mut done);
        }
    }
}
