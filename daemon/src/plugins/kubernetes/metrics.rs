//! The plugin's metric families, named and labelled as CoreDNS 1.14.7's:
//! the DNS programming latency, and the REST client's (client-go's
//! `rest_client_*`, which CoreDNS registers under its own namespace),
//! counted by a layer around the kube client's HTTP service.

use crate::metrics::Kind;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Prometheus' `ExponentialBuckets(0.001, 2, 20)`.
static PROGRAMMING_BUCKETS: [f64; 20] = {
    let mut b = [0.001; 20];
    let mut i = 1;
    while i < 20 {
        b[i] = b[i - 1] * 2.0;
        i += 1;
    }
    b
};

/// Prometheus' `DefBuckets`.
static DEF_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

crate::metrics::families! {
    list OWN;
    DNS_PROGRAMMING "coredns_kubernetes_dns_programming_duration_seconds" Kind::Histogram(&PROGRAMMING_BUCKETS), ["service_kind"],
        "Histogram of the time (in seconds) it took to program a dns instance.";
    REQUEST_LATENCY "coredns_kubernetes_rest_client_request_duration_seconds" Kind::Histogram(&DEF_BUCKETS), ["verb", "host"],
        "Request latency in seconds. Broken down by verb and host.";
    RATE_LIMITER_LATENCY "coredns_kubernetes_rest_client_rate_limiter_duration_seconds" Kind::Histogram(&DEF_BUCKETS), ["verb", "host"],
        "Client side rate limiter latency in seconds. Broken down by verb and host.";
    REQUESTS "coredns_kubernetes_rest_client_requests_total" Kind::Counter, ["code", "method", "host"],
        "Number of HTTP requests, partitioned by status code, method, and host.";
}

/// The layer that counts the plugin's requests to the API server as
/// client-go counts CoreDNS's: every request's result (its status code,
/// or `<error>` where none came) by method and API server; the latency of
/// the requests that are not watches (until the response's head: a list
/// is read as it streams) and the client-side rate limiter's wait, which
/// is none here (the plugin makes one request per kind at a time).
pub struct Metered {
    /// The API server's `host:port` (client-go's `base.Host`): the
    /// requests reach this layer with their path only.
    pub host: std::sync::Arc<str>,
}

impl Metered {
    /// For the API server at `url`.
    pub fn new(url: &http::Uri) -> Metered {
        Metered {
            host: url.authority().map_or("none", |a| a.as_str()).into(),
        }
    }
}

impl<S> tower::Layer<S> for Metered {
    type Service = MeteredService<S>;

    fn layer(&self, inner: S) -> MeteredService<S> {
        MeteredService {
            inner,
            host: std::sync::Arc::clone(&self.host),
        }
    }
}

pub struct MeteredService<S> {
    inner: S,
    host: std::sync::Arc<str>,
}

type Boxed<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<kube::client::Body>> for MeteredService<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Boxed<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let asked = Asked::of(&req, &self.host);
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let r = fut.await;
            let code = match &r {
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            asked.record(&code, start.elapsed());
            r
        })
    }
}

/// What the metrics say of a request.
struct Asked {
    method: String,
    host: std::sync::Arc<str>,
    watch: bool,
}

impl Asked {
    fn of<T>(req: &http::Request<T>, host: &std::sync::Arc<str>) -> Asked {
        Asked {
            method: req.method().as_str().to_string(),
            host: std::sync::Arc::clone(host),
            watch: is_watch(req.uri().query().unwrap_or("")),
        }
    }

    fn record(&self, code: &str, took: Duration) {
        crate::metrics::with(crate::metrics::global(), |m| {
            m.inc(&REQUESTS, &[code, &self.method, &self.host]);
            // client-go times and throttles requests but not watches.
            if !self.watch {
                let labels = [self.method.as_str(), &*self.host];
                m.observe(&REQUEST_LATENCY, &labels, took.as_secs_f64());
                m.observe(&RATE_LIMITER_LATENCY, &labels, 0.0);
            }
        });
    }
}

/// Whether a request's query string asks for a watch (`watch=true`, or
/// `1`, as the API server reads it).
fn is_watch(query: &str) -> bool {
    query
        .split('&')
        .any(|kv| matches!(kv, "watch=true" | "watch=1" | "watch=True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_are_told_apart() {
        assert!(is_watch("watch=true&resourceVersion=5"));
        assert!(is_watch("labelSelector=a&watch=1"));
        assert!(!is_watch("limit=100"));
        assert!(!is_watch("watch=false"));
        assert!(!is_watch(""));
        let m = Metered::new(&"https://127.0.0.1:6443".parse().unwrap());
        let req = http::Request::get("/api/v1/pods?watch=true")
            .body(())
            .unwrap();
        let a = Asked::of(&req, &m.host);
        assert_eq!(
            (a.method.as_str(), &*a.host, a.watch),
            ("GET", "127.0.0.1:6443", true)
        );
    }
}
