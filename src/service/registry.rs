//! The set of deployed services, by name.
//!
//! Readers take a snapshot without locking, so a later change to the set (a Lua script
//! deployed or removed) never blocks or fails a request already in flight.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::DynService;

type ServiceMap = HashMap<String, Arc<dyn DynService>>;

#[derive(Clone)]
pub struct Services {
    map: Arc<ArcSwap<ServiceMap>>,
}

impl Services {
    pub fn new(services: impl IntoIterator<Item = Arc<dyn DynService>>) -> Self {
        let map: ServiceMap = services
            .into_iter()
            .map(|service| (service.name().to_string(), service))
            .collect();
        Services {
            map: Arc::new(ArcSwap::from_pointee(map)),
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
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("names", &self.names())
            .finish()
    }
}
