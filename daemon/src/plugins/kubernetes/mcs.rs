//! The Multi-Cluster Services API's ServiceImport
//! (`multicluster.x-k8s.io/v1alpha1`, a CRD), as far as DNS reads it:
//! k8s-openapi has no type for it, and kube's dynamic objects would need a
//! discovery round trip (and a `DynamicType` the watches cannot default),
//! so this is a small static type that kube's watcher lists and watches
//! like the built-in ones. The labels the MCS controllers put on the
//! EndpointSlices they import are here too (sigs.k8s.io/mcs-api v0.5.2,
//! the version CoreDNS 1.14.7 builds with).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::serde::{de::Error as _, Deserialize, Deserializer};
use kube::Resource;
use serde_json::Value;
use std::borrow::Cow;

/// The label naming an imported EndpointSlice's ServiceImport.
pub const LABEL_SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
/// The label naming the cluster an imported EndpointSlice comes from.
pub const LABEL_SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";

/// A ServiceImport: its metadata and the spec fields CoreDNS keeps
/// (`ips`, `type`, `ports`); the rest of the object is not read.
#[derive(Clone, Debug, Default)]
pub struct ServiceImport {
    pub metadata: ObjectMeta,
    pub ips: Vec<String>,
    /// `ClusterSetIP` or `Headless` (what the API server holds, unchecked).
    pub type_: String,
    pub ports: Vec<ImportPort>,
}

/// One of `spec.ports` (the MCS API's `ServicePort`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPort {
    pub name: String,
    pub protocol: String,
    pub port: i32,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl<'de> Deserialize<'de> for ServiceImport {
    /// Through a JSON value: the object is small, and fields of the wrong
    /// shape read as empty rather than failing the whole list (the CRD's
    /// schema is the installer's, not ours).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Value::deserialize(d)?;
        let metadata = serde_json::from_value(v["metadata"].take()).map_err(D::Error::custom)?;
        let spec = &v["spec"];
        Ok(ServiceImport {
            metadata,
            ips: spec["ips"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect(),
            type_: text(&spec["type"]),
            ports: spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ImportPort {
                    name: text(&p["name"]),
                    protocol: text(&p["protocol"]),
                    port: p["port"]
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(0),
                })
                .collect(),
        })
    }
}

impl Resource for ServiceImport {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "ServiceImport".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "multicluster.x-k8s.io".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "serviceimports".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_dns_needs() {
        let si: ServiceImport = serde_json::from_value(serde_json::json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1",
            "kind": "ServiceImport",
            "metadata": {"name": "web", "namespace": "demo", "resourceVersion": "7"},
            "spec": {
                "type": "ClusterSetIP",
                "ips": ["10.200.0.1"],
                "ports": [{"name": "http", "protocol": "TCP", "port": 80, "appProtocol": "h2c"}],
                "sessionAffinity": "None",
            },
            "status": {"clusters": [{"cluster": "a"}]},
        }))
        .unwrap();
        assert_eq!(si.metadata.name.as_deref(), Some("web"));
        assert_eq!(
            (si.ips.as_slice(), si.type_.as_str()),
            (&["10.200.0.1".to_string()][..], "ClusterSetIP")
        );
        assert_eq!(
            si.ports,
            [ImportPort {
                name: "http".into(),
                protocol: "TCP".into(),
                port: 80
            }]
        );
        assert_eq!(
            ServiceImport::url_path(&(), Some("demo")),
            "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/demo/serviceimports"
        );
    }
}
