//! What each route writes, declared where the route is registered, and the scopes the
//! router matches the routes in.
//!
//! Every folder that owns routes registers them through [`Routes`] and says, before
//! each group, which first path segment they are under ([`Routes::under`]) and which
//! resource of [`super::policy::permissions`] they change ([`Routes::writes`]) or that
//! their handler authorizes them alone ([`Routes::handler_decides`]). Registering a
//! route without either panics when the app is built, so no route can be added without
//! its resource, and there is no table of paths to keep apart from the routes. The app
//! keeps what was declared ([`RouteResources`], an `app_data`) for the body gate
//! (`auth::may_send_body`), which refuses a role that may write none of the route's
//! resource before the body is read.
//!
//! ## A route's full path
//! `/v1` (the registrar's prefix) + the segment the folder registers it under
//! (`r.under("/ledgers")`, which is also the handler's
//! `#[utoipa::path(context_path = "/ledgers")]`) + the path of the handler's actix
//! route macro (`#[get("/{id}/balance")]`, `""` for the segment itself):
//! `GET /v1/ledgers/{id}/balance`. Read next to a handler, `context_path` and the
//! macro's path are its full path below `/v1`; registering a handler under a segment
//! its `context_path` does not start with panics when the app is built.
//!
//! ## Why one scope per segment
//! actix matches a request against a scope's routes by walking them in order (a regex
//! capture for every dynamic pattern tried). [`Routes::finish`] mounts every route in
//! one actix scope per first segment, in the order the segments were first named, so
//! the router compares the first segment as a prefix and walks only that segment's
//! routes. actix scopes do not fall through (a request under `/offices` that no route of
//! the scope matches is not tried elsewhere), which is why every route of a segment,
//! whichever folder registers it, goes into that segment's one scope. A request that
//! no route matches reaches the app's default service (`app::envelope::no_route`) as
//! before: a 404 problem, or 405 with `Allow` when the path exists with other methods.
//! The OpenAPI document takes each route's paths as the handler declares them, in the
//! order of registration, so the scopes change nothing in it.

use std::collections::HashMap;

use actix_web::dev::{AppService, HttpServiceFactory};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::Schema;
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

/// A route's registration in its segment's scope, made when the scope is mounted.
type Mount = Box<dyn FnOnce(&mut actix_web::web::ServiceConfig)>;

/// A registrar of routes that records what each writes and mounts them in one scope
/// per first path segment (see the module documentation).
pub struct Routes<'a, 's> {
    cfg: &'a mut ServiceConfig<'s>,
    prefix: &'static str,
    table: &'a mut RouteResources,
    segment: Option<&'static str>,
    current: Option<Writes>,
    /// Each segment's routes, in the order the segments were first named.
    scopes: Vec<(&'static str, Vec<Mount>)>,
}

impl<'a, 's> Routes<'a, 's> {
    /// Routes registered on `cfg`, mounted under `prefix` (`/v1`), declared into `table`;
    /// they reach the router at [`Routes::finish`].
    pub fn new(
        cfg: &'a mut ServiceConfig<'s>,
        prefix: &'static str,
        table: &'a mut RouteResources,
    ) -> Self {
        Routes {
            cfg,
            prefix,
            table,
            segment: None,
            current: None,
            scopes: Vec::new(),
        }
    }

    /// The routes registered next are under the first path segment `segment`
    /// (`/offices`: a slash and a static name), their handlers' `context_path`; their
    /// route macros' paths are relative to it.
    pub fn under(&mut self, segment: &'static str) -> &mut Self {
        let name = segment.strip_prefix('/').unwrap_or_default();
        assert!(
            !name.is_empty() && !name.contains(['/', '{', '}']),
            "`{segment}` is not a first path segment such as `/offices`"
        );
        self.segment = Some(segment);
        self
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

    /// Registers a route (a handler of `#[utoipa::path(context_path = <segment>)]` and an
    /// actix route macro relative to the segment) under the segment and as writing what
    /// was declared last.
    pub fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        let writes = self.current.unwrap_or_else(|| {
            panic!("a route is registered before its folder said what it writes")
        });
        let segment = self
            .segment
            .unwrap_or_else(|| panic!("a route is registered before its folder said its segment"));
        let paths = factory.paths();
        for (path, item) in &paths.paths {
            let below = path
                .strip_prefix(segment)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            assert!(
                below,
                "`{path}` is registered under `{segment}`: its handler's `context_path` must be \
                 the segment and its route macro's path relative to it"
            );
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
        // The document takes the route's paths now, in the order of registration; the
        // router gets the route in its segment's scope at `finish`.
        let mut schemas = Vec::new();
        factory.schemas(&mut schemas);
        self.cfg.service(Documented { paths, schemas });
        let mount: Mount = Box::new(move |scope| {
            scope.service(factory);
        });
        match self.scopes.iter_mut().find(|(s, _)| *s == segment) {
            Some((_, mounts)) => mounts.push(mount),
            None => self.scopes.push((segment, vec![mount])),
        }
        self
    }

    /// Mounts every segment's routes in one scope of that segment.
    pub fn finish(mut self) {
        for (segment, mounts) in std::mem::take(&mut self.scopes) {
            let scope = actix_web::web::scope(segment).configure(|scope| {
                for mount in mounts {
                    mount(scope);
                }
            });
            self.cfg.map(|cfg| cfg.service(scope));
        }
    }
}

impl Drop for Routes<'_, '_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                self.scopes.is_empty(),
                "routes were registered but never mounted (`Routes::finish`)"
            );
        }
    }
}

/// A route's part of the OpenAPI document (its paths and schemas), which adds no
/// service: the route itself is mounted in its segment's scope.
struct Documented {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl HttpServiceFactory for Documented {
    fn register(self, _: &mut AppService) {}
}

impl OpenApiFactory for Documented {
    fn paths(&self) -> Paths {
        self.paths.clone()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(self.schemas.iter().cloned());
    }
}
