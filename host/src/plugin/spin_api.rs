//! Spin's key-value and variables interfaces (`fermyon:spin@2.0.0`) for a component run by
//! `certsmith plugin serve`: the store labelled `default` is the host's shared store (files
//! or Redis, the same keys), narrowed to the keys under `http01/` — the plugin never sees
//! accounts, certificate keys or anything else kept beside them. Variables come from the
//! command line or `SPIN_VARIABLE_<NAME>`, as Spin supplies them.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::layout;
use crate::storage::Store;

wasmtime::component::bindgen!({
    path: "wit-spin",
    world: "plugin-host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": OpenStore,
    },
});

pub use fermyon::spin::{key_value, variables};

/// An open key-value store of the guest (only `default` exists).
pub struct OpenStore;

/// What a component instance may reach of the host.
pub struct SpinApi {
    /// The store behind the `default` label.
    pub kv: Store,
    /// The application variables.
    pub variables: Arc<HashMap<String, String>>,
}

/// The guest's view: the Spin API plus the resource table of its store.
pub struct SpinView<'a> {
    /// The host side.
    pub api: &'a SpinApi,
    /// The instance's resources.
    pub table: &'a mut ResourceTable,
}

/// Marks [`SpinView`] as what Spin's host functions run on.
pub struct SpinData;

impl HasData for SpinData {
    type Data<'a> = SpinView<'a>;
}

/// A store failure as the guest sees it; the detail goes to the host's log only.
fn other(e: impl std::fmt::Display) -> key_value::Error {
    tracing::warn!("plugin key-value store: {e}");
    key_value::Error::Other("the store failed; see the host's log".into())
}

/// The only keys a plugin may touch.
const VISIBLE_PREFIX: &str = "http01/";

/// Whether the guest may touch `key`.
fn visible(key: &str) -> Result<(), key_value::Error> {
    if key.starts_with(VISIBLE_PREFIX) {
        Ok(())
    } else {
        Err(key_value::Error::AccessDenied)
    }
}

impl key_value::Host for SpinView<'_> {}

impl key_value::HostStore for SpinView<'_> {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, key_value::Error>> {
        if label != "default" {
            return Ok(Err(key_value::Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(OpenStore)?))
    }

    async fn get(
        &mut self,
        _store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, key_value::Error>> {
        if let Err(denied) = visible(&key) {
            return Ok(Err(denied));
        }
        Ok(self.api.kv.get(&key).await.map_err(other))
    }

    async fn set(
        &mut self,
        _store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        if let Err(denied) = visible(&key) {
            return Ok(Err(denied));
        }
        Ok(self
            .api
            .kv
            .put_expiring(&key, &value, layout::HTTP01_TTL)
            .await
            .map_err(other))
    }

    async fn delete(
        &mut self,
        _store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        if let Err(denied) = visible(&key) {
            return Ok(Err(denied));
        }
        Ok(self.api.kv.delete(&key).await.map_err(other))
    }

    async fn exists(
        &mut self,
        _store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, key_value::Error>> {
        if let Err(denied) = visible(&key) {
            return Ok(Err(denied));
        }
        Ok(self.api.kv.exists(&key).await.map_err(other))
    }

    async fn get_keys(
        &mut self,
        _store: Resource<OpenStore>,
    ) -> wasmtime::Result<Result<Vec<String>, key_value::Error>> {
        Ok(self
            .api
            .kv
            .children(layout::HTTP01)
            .await
            .map(|tokens| tokens.iter().map(|t| layout::http01_token(t)).collect())
            .map_err(other))
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl variables::Host for SpinView<'_> {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self
            .api
            .variables
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name)))
    }
}
