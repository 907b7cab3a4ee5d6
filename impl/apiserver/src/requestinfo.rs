//! What a request is about, from its method, path and query alone, as
//! upstream's RequestInfoFactory: read before routing and before the body,
//! by the in-flight limits (`inflight`) and the audit log (`audit`).

use hyper::Method;

/// Subresources upstream serves as long-running.
const LONG_RUNNING_SUBRESOURCES: [&str; 5] = ["log", "exec", "attach", "portforward", "proxy"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// A path under `/api` or `/apis` (else a non-resource path: `/healthz`, `/metrics`, ...).
    pub is_resource: bool,
    /// Upstream's verb: get, list, watch, create, update, patch, delete,
    /// deletecollection; for a non-resource path the method in lower case.
    pub verb: &'static str,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl RequestInfo {
    /// Held for minutes (upstream's long-running check): a watch, or a
    /// streaming subresource.
    pub fn long_running(&self) -> bool {
        self.verb == "watch" || (self.is_resource && LONG_RUNNING_SUBRESOURCES.contains(&self.subresource.as_str()))
    }
}

fn method_verb(m: &Method) -> &'static str {
    match *m {
        Method::GET => "get",
        Method::HEAD => "head",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        _ => "other",
    }
}

pub fn request_info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (api_group, api_version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return RequestInfo { verb: method_verb(method), ..Default::default() },
    };
    let mut info = RequestInfo { is_resource: true, api_group: api_group.into(), api_version: api_version.into(), ..Default::default() };
    // `namespaces/NS[/...]`: a namespace itself, or what is in it.
    let rest = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() && !matches!(tail, ["status" | "finalize"]) => {
            info.namespace = ns.to_string();
            tail
        }
        other => other,
    };
    match rest {
        [] => {}
        [resource] => info.resource = resource.to_string(),
        [resource, name] => (info.resource, info.name) = (resource.to_string(), name.to_string()),
        [resource, name, sub, ..] => (info.resource, info.name, info.subresource) = (resource.to_string(), name.to_string(), sub.to_string()),
    }
    let watching = form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    let collection = info.name.is_empty();
    info.verb = match *method {
        Method::GET | Method::HEAD if watching => "watch",
        Method::GET | Method::HEAD if collection => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => method_verb(method),
    };
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_as_upstream_reads_them() {
        let i = request_info(&Method::GET, "/api/v1/namespaces/default/pods/web-1/log", Some("follow=true"));
        assert_eq!((i.verb, i.api_group.as_str(), i.api_version.as_str(), i.resource.as_str(), i.namespace.as_str(), i.name.as_str(), i.subresource.as_str()), ("get", "", "v1", "pods", "default", "web-1", "log"));
        assert!(i.long_running());
        let i = request_info(&Method::POST, "/apis/apps/v1/namespaces/default/deployments", None);
        assert_eq!((i.verb, i.api_group.as_str(), i.resource.as_str(), i.name.as_str()), ("create", "apps", "deployments", ""));
        let i = request_info(&Method::GET, "/api/v1/pods", Some("watch=1"));
        assert_eq!((i.verb, i.namespace.as_str()), ("watch", ""));
        assert!(i.long_running());
        // A namespace is an object of its own, with its own subresources.
        let i = request_info(&Method::PUT, "/api/v1/namespaces/x/finalize", None);
        assert_eq!((i.verb, i.resource.as_str(), i.name.as_str(), i.subresource.as_str(), i.namespace.as_str()), ("update", "namespaces", "x", "finalize", ""));
        let i = request_info(&Method::DELETE, "/api/v1/namespaces/x", None);
        assert_eq!((i.verb, i.resource.as_str(), i.name.as_str()), ("delete", "namespaces", "x"));
        let i = request_info(&Method::DELETE, "/api/v1/namespaces/x/pods", None);
        assert_eq!((i.verb, i.resource.as_str(), i.namespace.as_str()), ("deletecollection", "pods", "x"));
        let i = request_info(&Method::GET, "/readyz", None);
        assert_eq!((i.is_resource, i.verb), (false, "get"));
        // A pod named like a subresource is not one.
        assert!(!request_info(&Method::GET, "/api/v1/namespaces/default/pods/log", None).long_running());
    }
}
