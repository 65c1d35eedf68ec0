//! What each route writes, declared where the route is registered.
//!
//! Every folder that owns routes registers them through [`Routes`] and says, before
//! each group, which resource of [`super::policy::permissions`] they change
//! ([`Routes::writes`]) or that their handler authorizes them alone
//! ([`Routes::handler_decides`]). Registering a route without either panics when the
//! app is built, so no route can be added without its resource, and there is no table
//! of paths to keep apart from the routes. The app keeps what was declared
//! ([`RouteResources`], an `app_data`) for the body gate (`auth::may_send_body`), which
//! refuses a role that may write none of the route's resource before the body is read.

use std::collections::HashMap;

use actix_web::dev::HttpServiceFactory;
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::service_config::ServiceConfig;

use super::policy::{Role, permissions};

/// What a route changes, for the authorization before its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writes {
    /// A resource of the role table: a role with no write on it gets 403 before the body.
    Resource(&'static str),
    /// Reads, and writes whose authorization needs the row (finance below a ledger,
    /// where finance a caller may not see is a 404), or that no role table row
    /// describes (the token endpoint, webhooks): the handler decides.
    HandlerDecides,
}

/// The declarations of every registered route: `(method, pattern)` to [`Writes`].
#[derive(Clone, Debug, Default)]
pub struct RouteResources(HashMap<(String, String), Writes>);

impl RouteResources {
    /// What the route `pattern` (as `HttpRequest::match_pattern`) with `method` writes;
    /// `None` for a route registered without [`Routes`].
    pub fn of(&self, method: &str, pattern: &str) -> Option<Writes> {
        self.0
            .get(&(method.to_ascii_uppercase(), pattern.to_owned()))
            .copied()
    }

    /// Every declared route: method, pattern and what it writes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, Writes)> {
        self.0
            .iter()
            .map(|((m, p), w)| (m.as_str(), p.as_str(), *w))
    }
}

/// A registrar of routes that records what each writes.
pub struct Routes<'a, 's> {
    cfg: &'a mut ServiceConfig<'s>,
    prefix: &'static str,
    table: &'a mut RouteResources,
    current: Option<Writes>,
}

impl<'a, 's> Routes<'a, 's> {
    /// Routes registered on `cfg`, mounted under `prefix` (`/v1`), declared into `table`.
    pub fn new(
        cfg: &'a mut ServiceConfig<'s>,
        prefix: &'static str,
        table: &'a mut RouteResources,
    ) -> Self {
        Routes {
            cfg,
            prefix,
            table,
            current: None,
        }
    }

    /// The routes registered next change `resource` (a resource some role may write in
    /// [`permissions`]; another name panics).
    pub fn writes(&mut self, resource: &'static str) -> &mut Self {
        let known = Role::ALL.iter().any(|role| {
            permissions(*role)
                .iter()
                .any(|p| p.resource == resource && p.action != "read")
        });
        assert!(known, "`{resource}` is no resource any role may write");
        self.current = Some(Writes::Resource(resource));
        self
    }

    /// The routes registered next are authorized by their handlers alone.
    pub fn handler_decides(&mut self) -> &mut Self {
        self.current = Some(Writes::HandlerDecides);
        self
    }

    /// Registers a route (a handler of `#[utoipa::path]` and an actix route macro) as
    /// writing what was declared last.
    pub fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        let writes = self.current.unwrap_or_else(|| {
            panic!("a route is registered before its folder said what it writes")
        });
        for (path, item) in factory.paths().paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if operation.is_none() {
                    continue;
                }
                let method = method.to_owned();
                let key = (method, format!("{}{path}", self.prefix));
                if let Some(before) = self.table.0.insert(key.clone(), writes) {
                    assert_eq!(before, writes, "{key:?} is declared twice");
                }
            }
        }
        self.cfg.service(factory);
        self
    }
}
