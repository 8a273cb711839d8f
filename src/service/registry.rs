//! The set of deployed services, by name.
//!
//! Two layers: the compiled-in services the binary registered, which never change, and the
//! deployed ones (Lua scripts), which [`Services::deploy`] replaces as a whole on every hot
//! reload. Readers take a snapshot without locking, so a change to the set never blocks or
//! fails a request already in flight: it keeps the service it looked up.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::DynService;

/// Keyed with FNV (the `fnv` crate, already built for `http`): every request looks its
/// service up by name, and the default SipHash cost ~190 instructions of that. SipHash's
/// resistance to chosen keys buys nothing here: names come from the config and the
/// services' code, never from a request.
type ServiceMap = fnv::FnvHashMap<String, Arc<dyn DynService>>;

#[derive(Clone)]
pub struct Services {
    /// Compiled-in services: the base of every snapshot.
    fixed: Arc<ServiceMap>,
    map: Arc<ArcSwap<ServiceMap>>,
}

impl Services {
    pub fn new(services: impl IntoIterator<Item = Arc<dyn DynService>>) -> Self {
        let map: ServiceMap = services
            .into_iter()
            .map(|service| (service.name().to_string(), service))
            .collect();
        Services {
            map: Arc::new(ArcSwap::from_pointee(map.clone())),
            fixed: Arc::new(map),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn DynService>> {
        self.map.load().get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.load().contains_key(name)
    }

    /// The names of every deployed service, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.map.load().keys().cloned().collect();
        names.sort();
        names
    }

    /// True when `name` is compiled in, so that no deployment can replace it.
    pub fn is_fixed(&self, name: &str) -> bool {
        self.fixed.contains_key(name)
    }

    /// Replaces every previously deployed service with `deployed`, in one atomic swap.
    /// A deployed service named like a compiled-in one is ignored: compiled-in services stay.
    pub fn deploy(&self, deployed: impl IntoIterator<Item = Arc<dyn DynService>>) {
        let mut map = (*self.fixed).clone();
        for service in deployed {
            let name = service.name().to_string();
            if !self.fixed.contains_key(&name) {
                map.insert(name, service);
            }
        }
        self.map.store(Arc::new(map));
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("names", &self.names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Noop, Ping};

    #[test]
    fn deploy_replaces_the_deployed_layer_only() {
        let services = Services::new([Arc::new(Ping) as Arc<dyn DynService>]);
        services.deploy([Arc::new(Noop) as Arc<dyn DynService>]);
        assert_eq!(services.names(), ["inlet.noop", "inlet.ping"]);
        services.deploy([]);
        assert_eq!(services.names(), ["inlet.ping"]);
        assert!(services.is_fixed("inlet.ping"));
    }
}
