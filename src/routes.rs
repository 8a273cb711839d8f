//! The routing table: which channel answers a method and a path.
//!
//! Built once from the channels of a config (and rebuilt when the config changes). Paths use
//! `{param}` segments and `{*rest}` catch-alls, as in `/hooks/{tenant}/github`.

use http::{HeaderValue, Method};

/// The outcome of looking up a request.
#[derive(Debug)]
pub enum RouteMatch<'a> {
    Found {
        /// Index of the channel in the config.
        channel: usize,
        /// Path parameters, in the order they appear in the path.
        params: Vec<(String, String)>,
    },
    /// The path exists but not for this method; `allow` lists the methods it takes.
    MethodNotAllowed {
        allow: &'a HeaderValue,
    },
    NotFound,
}

#[derive(Debug)]
struct PathSlot {
    methods: Vec<(Method, usize)>,
    allow: HeaderValue,
}

#[derive(Debug)]
pub struct RouteTable {
    router: matchit::Router<usize>,
    slots: Vec<PathSlot>,
}

/// A channel as the routing table sees it.
pub struct RouteSpec<'a> {
    pub path: &'a str,
    pub methods: &'a [Method],
}

/// Why a channel could not be routed, with the index of the channel at fault.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteConflict {
    pub channel: usize,
    pub message: String,
}

impl RouteTable {
    /// Builds the table, or says which channels collide and why.
    pub fn build<'a>(
        specs: impl IntoIterator<Item = RouteSpec<'a>>,
        channel_names: &[&str],
    ) -> Result<Self, Vec<RouteConflict>> {
        let mut router = matchit::Router::new();
        let mut slots: Vec<PathSlot> = Vec::new();
        let mut slot_paths: Vec<(&str, usize)> = Vec::new();
        let mut conflicts = Vec::new();
        for (channel, spec) in specs.into_iter().enumerate() {
            if !spec.path.starts_with('/') {
                conflicts.push(RouteConflict {
                    channel,
                    message: format!("path {:?} must start with `/`", spec.path),
                });
                continue;
            }
            let slot = match slot_paths.iter().find(|(path, _)| *path == spec.path) {
                Some(&(_, slot)) => slot,
                None => {
                    if let Err(err) = router.insert(spec.path, slots.len()) {
                        conflicts.push(RouteConflict {
                            channel,
                            message: describe_insert_error(
                                spec.path,
                                &err,
                                &slot_paths,
                                &slots,
                                channel_names,
                            ),
                        });
                        continue;
                    }
                    slot_paths.push((spec.path, slots.len()));
                    slots.push(PathSlot {
                        methods: Vec::new(),
                        allow: HeaderValue::from_static(""),
                    });
                    slots.len() - 1
                }
            };
            for method in spec.methods {
                if let Some(&(_, other)) = slots[slot].methods.iter().find(|(m, _)| m == method) {
                    conflicts.push(RouteConflict {
                        channel,
                        message: format!(
                            "{method} {} is already served by channel `{}`",
                            spec.path, channel_names[other]
                        ),
                    });
                } else {
                    slots[slot].methods.push((method.clone(), channel));
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        for slot in &mut slots {
            let allow = slot
                .methods
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            slot.allow = HeaderValue::from_str(&allow).expect("method names are valid header text");
        }
        Ok(RouteTable { router, slots })
    }

    pub fn lookup(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let Ok(found) = self.router.at(path) else {
            return RouteMatch::NotFound;
        };
        let slot = &self.slots[*found.value];
        match slot.methods.iter().find(|(m, _)| m == method) {
            Some(&(_, channel)) => RouteMatch::Found {
                channel,
                params: found
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            None => RouteMatch::MethodNotAllowed { allow: &slot.allow },
        }
    }
}

fn describe_insert_error(
    path: &str,
    err: &matchit::InsertError,
    slot_paths: &[(&str, usize)],
    slots: &[PathSlot],
    channel_names: &[&str],
) -> String {
    if let matchit::InsertError::Conflict { with } = err {
        let owner = slot_paths
            .iter()
            .find(|(existing, _)| existing == with)
            .and_then(|&(_, slot)| slots[slot].methods.first())
            .map(|&(_, channel)| format!(" of channel `{}`", channel_names[channel]))
            .unwrap_or_default();
        return format!(
            "path {path:?} overlaps path {with:?}{owner}: they would match the same requests"
        );
    }
    format!("path {path:?} is not valid: {err}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(paths: &[(&str, &[Method])]) -> Result<RouteTable, Vec<RouteConflict>> {
        let names: Vec<String> = (0..paths.len()).map(|i| format!("c{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        RouteTable::build(
            paths
                .iter()
                .map(|(path, methods)| RouteSpec { path, methods }),
            &names,
        )
    }

    #[test]
    fn finds_channel_and_params() {
        let t = table(&[("/hooks/{tenant}/github", &[Method::POST])]).unwrap();
        match t.lookup(&Method::POST, "/hooks/acme/github") {
            RouteMatch::Found { channel, params } => {
                assert_eq!(channel, 0);
                assert_eq!(params, vec![("tenant".to_string(), "acme".to_string())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            t.lookup(&Method::POST, "/nope"),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        let t = table(&[("/a", &[Method::POST]), ("/a", &[Method::PUT])]).unwrap();
        match t.lookup(&Method::GET, "/a") {
            RouteMatch::MethodNotAllowed { allow } => assert_eq!(allow, "POST, PUT"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            t.lookup(&Method::PUT, "/a"),
            RouteMatch::Found { channel: 1, .. }
        ));
    }

    #[test]
    fn same_method_and_path_twice_is_a_conflict() {
        let err = table(&[("/a", &[Method::POST]), ("/a", &[Method::POST])]).unwrap_err();
        assert_eq!(err[0].channel, 1);
        assert!(
            err[0].message.contains("already served by channel `c0`"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn overlapping_params_are_a_conflict() {
        let err = table(&[("/a/{x}", &[Method::POST]), ("/a/{y}", &[Method::POST])]).unwrap_err();
        assert!(err[0].message.contains("overlaps"), "{}", err[0].message);
    }

    #[test]
    fn relative_path_is_rejected() {
        let err = table(&[("hooks", &[Method::POST])]).unwrap_err();
        assert!(err[0].message.contains("must start with `/`"));
    }
}
