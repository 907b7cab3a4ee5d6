#!/usr/bin/env python3
"""Generates cases.yaml and RULES.md.

cases.yaml: manifests, each with the status code, reason and message fragments
(naming the field) the apiserver must answer with; a few that upstream accepts
carry the code 201 and what the stored object must hold.

RULES.md: every upstream validation and decoding rule podchain implements for
the fields it serves, where upstream states it, and the corpus cases that
exercise it. Every rule has a case; every case names its rule.

Run from this directory: python3 generate.py (writes both files).
Every case is one valid base manifest of a kind with one mutation, or a whole
body.
"""
import copy
import json
import sys

import yaml

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"

BASES = {
    "Pod": (f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "busybox:1", "ports": [{"containerPort": 80}],
                                                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}}]}}),
    "Deployment": (f"{APPS}/deployments", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                                           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
                                                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}),
    "ReplicaSet": (f"{APPS}/replicasets", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
                                           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}),
    "Node": ("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                               "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
                               "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}),
    "Namespace": ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    "Lease": ("/apis/coordination.k8s.io/v1/namespaces/default/leases", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
                                                                         "spec": {"holderIdentity": "x", "leaseDurationSeconds": 40}}),
    "Event": (f"{NS}/events", {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
                               "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Test", "message": "m"}),
}

MA, CV, AV, CO, AP, EV = "apimachinery ValidateObjectMeta", "core ValidatePodSpec", "apps ValidateDeploymentSpec / ValidateReplicaSetSpec", "coordination ValidateLease", "apiserver", "core ValidateEvent"

# (id, where upstream states it, the rule)
RULES = [
    ("meta.name.required", MA, "metadata.name (or generateName) is required"),
    ("meta.name.format", MA, "metadata.name is a DNS-1123 subdomain (Namespace: a DNS-1123 label), at most 253 (63) characters"),
    ("meta.generate-name.format", MA, "metadata.generateName is a DNS-1123 subdomain once a trailing '-' is allowed for"),
    ("meta.namespace.forbidden", MA, "metadata.namespace is forbidden on cluster-scoped kinds"),
    ("meta.namespace.url", AP, "metadata.namespace must equal the URL's namespace (400)"),
    ("meta.labels", MA, "label keys are qualified names, values empty or name parts of at most 63 characters"),
    ("meta.annotations.keys", MA, "annotation keys are qualified names (case aside)"),
    ("meta.annotations.size", MA, "all annotations together are at most 256 KiB"),
    ("meta.owner.required", MA, "ownerReferences[i].apiVersion, kind, name and uid are required"),
    ("meta.owner.api-version", MA, "ownerReferences[i].apiVersion is <group>/<version> or <version>"),
    ("meta.owner.banned", MA, "an Event cannot be an owner (BannedOwners)"),
    ("meta.owner.one-controller", MA, "at most one ownerReference has controller: true"),
    ("meta.finalizers.format", MA, "finalizers are qualified names"),
    ("meta.finalizers.exclusive", MA, "finalizers orphan and foregroundDeletion cannot be both set"),
    ("pod.containers.required", CV, "spec.containers has at least one container"),
    ("pod.containers.max", "podchain", f"at most MAX_CONTAINERS containers (podchain's own bound)"),
    ("pod.container.name", CV, "a container's name is required, a DNS-1123 label, unique in the pod"),
    ("pod.container.image", CV, "a container's image is required; a Pod's may not have leading or trailing whitespace (validateContainersOnlyForPod)"),
    ("pod.container.pull-policy", CV, "imagePullPolicy is Always, IfNotPresent or Never"),
    ("pod.container.termination-message-policy", CV, "terminationMessagePolicy is File or FallbackToLogsOnError"),
    ("pod.port.container-port", CV, "ports[i].containerPort is required and 1-65535"),
    ("pod.port.host-port", CV, "ports[i].hostPort, when set, is 1-65535"),
    ("pod.port.protocol", CV, "ports[i].protocol is TCP, UDP or SCTP"),
    ("pod.port.name", CV, "ports[i].name is an IANA service name (at most 15 characters, a-z0-9 and '-', a letter, no '--'), unique"),
    ("pod.env.name", CV, "env[i].name is required and (1.32, RelaxedEnvironmentVariableValidation) printable ASCII other than '='"),
    ("pod.env.value-from", CV, "env[i].valueFrom names exactly one source, and not beside a value"),
    ("pod.resources.name", CV, "resources names are standard container resources (cpu, memory, ephemeral-storage, hugepages-*) or fully qualified extended resources"),
    ("pod.resources.quantity", CV, "resource quantities parse and are not negative; extended resources are whole numbers"),
    ("pod.resources.request-limit", CV, "a request is at most its limit; an extended resource's request equals its limit, which must be set"),
    ("pod.restart-policy", CV, "restartPolicy is Always, OnFailure or Never"),
    ("pod.grace-period", CV, "terminationGracePeriodSeconds below 0 is treated as 1 (defaulting since 1.27), not refused"),
    ("pod.node-selector", CV, "nodeSelector keys and values are label keys and values"),
    ("pod.node-name", CV, "spec.nodeName, when set, is a DNS-1123 subdomain"),
    ("pod.active-deadline", CV, "activeDeadlineSeconds is 1 to 2147483647"),
    ("pod.toleration.key", CV, "tolerations[i].key is a qualified name; an empty key needs operator Exists"),
    ("pod.toleration.operator", CV, "tolerations[i].operator is Equal or Exists; Exists takes no value; Equal's value is a label value"),
    ("pod.toleration.effect", CV, "tolerations[i].effect is NoSchedule, PreferNoSchedule or NoExecute; tolerationSeconds needs NoExecute"),
    ("pod.deletion-cost", CV, "the controller.kubernetes.io/pod-deletion-cost annotation is a 32-bit integer"),
    ("apps.replicas", AV, "spec.replicas is not negative"),
    ("apps.min-ready", AV, "spec.minReadySeconds is not negative"),
    ("apps.selector.required", AV, "spec.selector is required and not empty"),
    ("apps.selector.valid", AV, "spec.selector's operators, keys and values are valid"),
    ("apps.template.labels", AV, "the template's labels are valid and match spec.selector"),
    ("apps.template.restart-policy", AV, "the template's restartPolicy is Always"),
    ("apps.template.active-deadline", AV, "the template has no activeDeadlineSeconds"),
    ("apps.template.spec", AV, "the template's pod spec passes ValidatePodSpec"),
    ("apps.strategy.type", AV, "spec.strategy.type is Recreate or RollingUpdate; Recreate takes no rollingUpdate"),
    ("apps.strategy.fenceposts", AV, "maxSurge and maxUnavailable are non-negative integers or percentages, not both 0; maxUnavailable at most 100%"),
    ("apps.history-limit", AV, "spec.revisionHistoryLimit is not negative"),
    ("apps.progress-deadline", AV, "spec.progressDeadlineSeconds is not negative and greater than minReadySeconds"),
    ("node.taint.key", "core ValidateNode", "spec.taints[i].key is required and a qualified name"),
    ("node.taint.value", "core ValidateNode", "spec.taints[i].value is a label value"),
    ("node.taint.effect", "core ValidateNode", "spec.taints[i].effect is required: NoSchedule, PreferNoSchedule or NoExecute"),
    ("node.taint.unique", "core ValidateNode", "taints are unique by key and effect"),
    ("node.resources", "core ValidateNodeResources", "capacity and allocatable names are standard or fully qualified; quantities parse and are not negative"),
    ("node.pod-cidr", "core ValidateNode", "spec.podCIDR is a valid CIDR"),
    ("namespace.finalizers", "core ValidateNamespace", "spec.finalizers are qualified names, 'kubernetes' when they have no domain"),
    ("lease.duration", CO, "spec.leaseDurationSeconds is greater than 0"),
    ("lease.transitions", CO, "spec.leaseTransitions is not negative"),
    ("event.namespace", EV, "involvedObject.namespace matches the event's namespace"),
    ("event.series-fields", EV, "an event with eventTime names reportingComponent (a qualified name), reportingInstance, action and reason, each at most 128 characters; message at most 1024"),
    ("decode.kind", AP, "kind and apiVersion, when present, must be the URL's; when absent they are the URL's (gvkWithDefaults), and the body is accepted"),
    ("decode.types", AP, "every field decodes as its type; the error names the field path (400)"),
    ("decode.time", AP, "metav1.Time and MicroTime parse as Go's time.Parse (RFC3339, RFC3339Micro)"),
    ("decode.json", AP, "the body is one JSON object, nested at most MAX_BODY_DEPTH deep"),
    ("decode.yaml", AP, "YAML bodies parse, within the alias and depth budgets"),
    ("decode.strict", AP, "under fieldValidation=Strict, unknown and duplicate fields are a 400 naming each path"),
    ("request.media-type", AP, "the body is JSON or YAML (415 otherwise)"),
    ("request.size", AP, "the body is at most 3 MiB (413)"),
    ("request.url", AP, "the URL names a served resource, namespace and verb (404, 405)"),
    ("request.options", AP, "query option values podchain does not take are refused, naming the option (400; 422 for dryRun, as upstream)"),
]
RULE_IDS = {r[0] for r in RULES}

M = []  # (rule, kind, case name, field path, new value, code, reason, message fragments)
INVALID, BAD = (422, "Invalid"), (400, "BadRequest")
DELETE = object()


def add(rule, kind, name, path, value, status, frags):
    assert rule in RULE_IDS, rule
    M.append((rule, kind, name, path, value, *status, frags))


def setp(obj, path, value):
    parts = path.split(".")
    cur = obj
    for p in parts[:-1]:
        if p.endswith("]"):
            name, idx = p[:-1].split("[")
            cur = cur[name][int(idx)]
        else:
            cur = cur.setdefault(p, {})
    last = parts[-1]
    if last.endswith("]"):
        name, idx = last[:-1].split("[")
        if value is DELETE:
            del cur[name][int(idx)]
        else:
            cur[name][int(idx)] = value
    elif value is DELETE:
        cur.pop(last, None)
    else:
        cur[last] = value


def meta_cases(kind, namespaced=True):
    name_field = "metadata.name"
    for bad_name in ["Upper", "under_score", "-leading", "trailing-", "dot..dot", "a" * 254, "space name", "ünïcode"]:
        if kind == "Namespace" and bad_name == "a" * 254:
            bad_name = "a" * 64
        add("meta.name.format", kind, f"name {bad_name[:12]!r}", name_field, bad_name, INVALID, [name_field])
    add("meta.name.required", kind, "no name", name_field, DELETE, INVALID, ["metadata.name", "Required value"])
    add("meta.labels", kind, "label key with two slashes", "metadata.labels", {"a/b/c": "x"}, INVALID, ["metadata.labels"])
    add("meta.labels", kind, "label value too long", "metadata.labels", {"app": "v" * 64}, INVALID, ["metadata.labels"])
    add("meta.labels", kind, "label value with space", "metadata.labels", {"app": "a b"}, INVALID, ["metadata.labels"])
    add("decode.types", kind, "labels not a map", "metadata.labels", ["a"], BAD, ["metadata.labels"])
    add("decode.types", kind, "annotations not strings", "metadata.annotations", {"a": 1}, BAD, ["metadata.annotations"])
    add("meta.owner.one-controller", kind, "two controller owners", "metadata.ownerReferences",
        [{"apiVersion": "v1", "kind": "X", "name": "a", "uid": "1", "controller": True},
         {"apiVersion": "v1", "kind": "X", "name": "b", "uid": "2", "controller": True}], INVALID, ["metadata.ownerReferences", "Only one reference"])
    add("meta.owner.required", kind, "owner without uid", "metadata.ownerReferences", [{"apiVersion": "v1", "kind": "X", "name": "a", "uid": ""}], INVALID, ["metadata.ownerReferences[0].uid"])
    add("decode.types", kind, "metadata not an object", "metadata", "x", BAD, ["metadata"])
    add("decode.types", kind, "finalizers not a list", "metadata.finalizers", "x", BAD, ["metadata.finalizers"])
    add("decode.types", kind, "generation not a number", "metadata.generation", "one", BAD, ["metadata.generation"])
    if namespaced:
        add("meta.namespace.url", kind, "namespace differs from URL", "metadata.namespace", "other", BAD, ["metadata.namespace", "does not match"])
    else:
        add("meta.namespace.forbidden", kind, "namespace on a cluster-scoped kind", "metadata.namespace", "default", INVALID, ["metadata.namespace"])


for k in BASES:
    meta_cases(k, namespaced=k not in ("Node", "Namespace"))

# ObjectMeta rules once, on a Pod (every kind shares the function).
owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u1"}
add("meta.generate-name.format", "Pod", "generateName with upper case", "metadata", {"generateName": "Web-"}, INVALID, ["metadata.generateName", "Web-"])
add("meta.generate-name.format", "Pod", "generateName with an underscore", "metadata", {"generateName": "we_b-"}, INVALID, ["metadata.generateName"])
add("meta.annotations.keys", "Pod", "annotation key with a space", "metadata.annotations", {"a b": "x"}, INVALID, ["metadata.annotations", "a b"])
add("meta.annotations.size", "Pod", "annotations over 256 KiB", "metadata.annotations", {"big": "x" * (256 * 1024)}, INVALID, ["metadata.annotations", "Too long"])
add("meta.owner.required", "Pod", "owner without apiVersion", "metadata.ownerReferences", [{**owner, "apiVersion": ""}], INVALID, ["metadata.ownerReferences[0].apiVersion", "Required value"])
add("meta.owner.required", "Pod", "owner without kind", "metadata.ownerReferences", [{k: v for k, v in owner.items() if k != "kind"}], INVALID, ["metadata.ownerReferences[0].kind"])
add("meta.owner.required", "Pod", "owner without name", "metadata.ownerReferences", [{**owner, "name": ""}], INVALID, ["metadata.ownerReferences[0].name"])
add("meta.owner.api-version", "Pod", "owner with a three-part apiVersion", "metadata.ownerReferences", [{**owner, "apiVersion": "a/b/c"}], INVALID, ["metadata.ownerReferences[0].apiVersion", "<group>/<version>"])
add("meta.owner.api-version", "Pod", "owner with a group and no version", "metadata.ownerReferences", [{**owner, "apiVersion": "apps/"}], INVALID, ["metadata.ownerReferences[0].apiVersion"])
add("meta.owner.banned", "Pod", "an Event as owner", "metadata.ownerReferences", [{**owner, "apiVersion": "v1", "kind": "Event"}], INVALID, ["metadata.ownerReferences[0]", "disallowed from being an owner"])
add("meta.finalizers.format", "Pod", "finalizer with a space", "metadata.finalizers", ["not valid"], INVALID, ["metadata.finalizers", "not valid"])
add("meta.finalizers.format", "Deployment", "finalizer with two slashes", "metadata.finalizers", ["a/b/c"], INVALID, ["metadata.finalizers"])
add("meta.finalizers.exclusive", "Pod", "orphan and foregroundDeletion together", "metadata.finalizers", ["orphan", "foregroundDeletion"], INVALID, ["metadata.finalizers", "cannot be both set"])

ctr = "spec.containers[0]"
pod_spec_cases = [
    ("pod.containers.required", "no containers", "containers", [], INVALID, ["containers", "Required value"]),
    ("pod.container.image", "container without image", "containers[0].image", "", INVALID, ["containers[0].image"]),
    ("pod.container.name", "container without name", "containers[0].name", "", INVALID, ["containers[0].name"]),
    ("pod.container.name", "container name upper", "containers[0].name", "Web", INVALID, ["containers[0].name"]),
    ("pod.container.pull-policy", "bad pull policy", "containers[0].imagePullPolicy", "Sometimes", INVALID, ["containers[0].imagePullPolicy", "Unsupported value"]),
    ("pod.port.container-port", "port zero", "containers[0].ports", [{"containerPort": 0}], INVALID, ["containers[0].ports[0].containerPort", "Required value"]),
    ("pod.port.container-port", "port too high", "containers[0].ports", [{"containerPort": 70000}], INVALID, ["containers[0].ports[0].containerPort", "between 1 and 65535"]),
    ("decode.types", "port as string", "containers[0].ports", [{"containerPort": "80"}], BAD, ["containers[0].ports[0].containerPort"]),
    ("pod.port.protocol", "bad protocol", "containers[0].ports", [{"containerPort": 80, "protocol": "HTTP"}], INVALID, ["containers[0].ports[0].protocol"]),
    ("pod.resources.quantity", "bad cpu quantity", "containers[0].resources", {"requests": {"cpu": "lots"}}, INVALID, ["containers[0].resources.requests[cpu]"]),
    ("pod.resources.quantity", "bad memory suffix", "containers[0].resources", {"limits": {"memory": "1Zi"}}, INVALID, ["containers[0].resources.limits[memory]"]),
    ("pod.resources.quantity", "negative cpu", "containers[0].resources", {"requests": {"cpu": "-1"}}, INVALID, ["containers[0].resources.requests[cpu]"]),
    ("pod.resources.request-limit", "request above limit", "containers[0].resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, INVALID, ["containers[0].resources.requests", "must be less than or equal to cpu limit of 1"]),
    ("decode.types", "quantity not scalar", "containers[0].resources", {"requests": {"cpu": {"a": 1}}}, BAD, ["containers[0].resources.requests"]),
    ("pod.env.name", "env without name", "containers[0].env", [{"value": "x"}], INVALID, ["containers[0].env[0].name", "Required value"]),
    ("pod.env.name", "env empty name", "containers[0].env", [{"name": "", "value": "x"}], INVALID, ["containers[0].env[0].name"]),
    ("decode.types", "command not a list", "containers[0].command", "sh -c true", BAD, ["containers[0].command"]),
    ("decode.types", "args with number", "containers[0].args", [1], BAD, ["containers[0].args[0]"]),
    ("decode.types", "containers not a list", "containers", {"name": "c"}, BAD, ["containers"]),
    ("pod.toleration.operator", "bad toleration operator", "tolerations", [{"key": "k", "operator": "Maybe"}], INVALID, ["tolerations[0].operator"]),
    ("pod.toleration.effect", "toleration seconds without NoExecute", "tolerations", [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}], INVALID, ["tolerations[0].effect"]),
    ("pod.toleration.effect", "bad toleration effect", "tolerations", [{"key": "k", "operator": "Exists", "effect": "Never"}], INVALID, ["tolerations[0].effect"]),
    ("pod.toleration.operator", "exists with value", "tolerations", [{"key": "k", "operator": "Exists", "value": "v"}], INVALID, ["tolerations[0].operator"]),
    ("decode.types", "grace as string", "terminationGracePeriodSeconds", "30", BAD, ["terminationGracePeriodSeconds"]),
    ("pod.node-selector", "bad node selector label", "nodeSelector", {"a b": "c"}, INVALID, ["nodeSelector"]),
    ("pod.container.name", "duplicate container names", "containers", [{"name": "c", "image": "i"}, {"name": "c", "image": "i"}], INVALID, ["containers[1].name", "Duplicate"]),
]
for rule, name, path, value, status, frags in pod_spec_cases:
    add(rule, "Pod", name, f"spec.{path}", value, status, [f"spec.{f}" if f.startswith(("containers", "tolerations", "terminationGrace", "nodeSelector")) else f for f in frags])

P = "Pod"
add("pod.restart-policy", P, "bad restart policy", "spec.restartPolicy", "Sometimes", INVALID, ["spec.restartPolicy", "Unsupported value"])
add("pod.containers.max", P, "more than MAX_CONTAINERS containers", "spec.containers", [{"name": f"c{i}", "image": "i"} for i in range(65)], INVALID, ["spec.containers", "may not have more than 64"])
add("pod.container.image", P, "image with leading whitespace", f"{ctr}.image", " busybox:1", INVALID, [f"{ctr}.image", "leading or trailing whitespace"])
add("pod.container.termination-message-policy", P, "bad termination message policy", f"{ctr}.terminationMessagePolicy", "Sometimes", INVALID, [f"{ctr}.terminationMessagePolicy", "Unsupported value"])
add("pod.port.host-port", P, "host port too high", f"{ctr}.ports", [{"containerPort": 80, "hostPort": 70000}], INVALID, [f"{ctr}.ports[0].hostPort"])
add("pod.port.name", P, "port name too long", f"{ctr}.ports", [{"containerPort": 80, "name": "a" * 16}], INVALID, [f"{ctr}.ports[0].name", "no more than 15"])
add("pod.port.name", P, "port name without a letter", f"{ctr}.ports", [{"containerPort": 80, "name": "8080"}], INVALID, [f"{ctr}.ports[0].name", "at least one letter"])
add("pod.port.name", P, "port name with a double hyphen", f"{ctr}.ports", [{"containerPort": 80, "name": "a--b"}], INVALID, [f"{ctr}.ports[0].name", "consecutive hyphens"])
add("pod.port.name", P, "port name upper case", f"{ctr}.ports", [{"containerPort": 80, "name": "Http"}], INVALID, [f"{ctr}.ports[0].name"])
add("pod.port.name", P, "duplicate port names", f"{ctr}.ports", [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}], INVALID, [f"{ctr}.ports[1].name", "Duplicate"])
add("pod.env.name", P, "env name with '='", f"{ctr}.env", [{"name": "A=B", "value": "x"}], INVALID, [f"{ctr}.env[0].name", "printable ASCII characters other than '='"])
add("pod.env.name", P, "env name with a tab", f"{ctr}.env", [{"name": "A\tB", "value": "x"}], INVALID, [f"{ctr}.env[0].name"])
add("pod.env.name", P, "env name not ASCII", f"{ctr}.env", [{"name": "Ä", "value": "x"}], INVALID, [f"{ctr}.env[0].name"])
add("pod.env.value-from", P, "valueFrom with no source", f"{ctr}.env", [{"name": "A", "valueFrom": {}}], INVALID, [f"{ctr}.env[0].valueFrom", "must specify one of"])
add("pod.env.value-from", P, "valueFrom beside a value", f"{ctr}.env", [{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}], INVALID, [f"{ctr}.env[0].valueFrom", "may not be specified when `value` is not empty"])
add("pod.env.value-from", P, "valueFrom with two sources", f"{ctr}.env", [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}], INVALID, [f"{ctr}.env[0].valueFrom", "more than one field"])
add("pod.resources.name", P, "unknown resource without a domain", f"{ctr}.resources", {"requests": {"gpu": "1"}}, INVALID, [f"{ctr}.resources.requests[gpu]", "standard resource"])
add("pod.resources.name", P, "resource name with a space", f"{ctr}.resources", {"limits": {"a b": "1"}}, INVALID, [f"{ctr}.resources.limits[a b]"])
add("pod.resources.name", P, "pods is not a container resource", f"{ctr}.resources", {"limits": {"pods": "1"}}, INVALID, [f"{ctr}.resources.limits[pods]", "standard resource for containers"])
add("pod.resources.quantity", P, "fractional extended resource", f"{ctr}.resources", {"requests": {"example.com/gpu": "500m"}, "limits": {"example.com/gpu": "500m"}}, INVALID, [f"{ctr}.resources.requests[example.com/gpu]", "must be an integer"])
add("pod.resources.request-limit", P, "extended resource request without limit", f"{ctr}.resources", {"requests": {"example.com/gpu": "1"}}, INVALID, [f"{ctr}.resources.limits", "non overcommitable"])
add("pod.resources.request-limit", P, "extended resource request unequal to limit", f"{ctr}.resources", {"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}}, INVALID, [f"{ctr}.resources.requests", "must be equal to example.com/gpu limit"])
add("pod.node-name", P, "node name with upper case", "spec.nodeName", "Node-1", INVALID, ["spec.nodeName"])
add("pod.active-deadline", P, "zero active deadline", "spec.activeDeadlineSeconds", 0, INVALID, ["spec.activeDeadlineSeconds", "between 1 and 2147483647"])
add("pod.toleration.key", P, "toleration key with a space", "spec.tolerations", [{"key": "a b", "operator": "Exists"}], INVALID, ["spec.tolerations[0].key"])
add("pod.toleration.key", P, "empty toleration key with Equal", "spec.tolerations", [{"operator": "Equal", "value": "v"}], INVALID, ["spec.tolerations[0].operator", "operator must be Exists when `key` is empty"])
add("pod.toleration.operator", P, "toleration value not a label value", "spec.tolerations", [{"key": "k", "operator": "Equal", "value": "a b"}], INVALID, ["spec.tolerations[0].operator"])
add("pod.deletion-cost", P, "deletion cost not a number", "metadata.annotations", {"controller.kubernetes.io/pod-deletion-cost": "high"}, INVALID, ["pod-deletion-cost", "32bit integer"])
add("pod.deletion-cost", P, "deletion cost with a plus sign", "metadata.annotations", {"controller.kubernetes.io/pod-deletion-cost": "+5"}, INVALID, ["pod-deletion-cost"])
add("pod.deletion-cost", P, "deletion cost past 32 bits", "metadata.annotations", {"controller.kubernetes.io/pod-deletion-cost": "2147483648"}, INVALID, ["pod-deletion-cost"])

for wk in ("Deployment", "ReplicaSet"):
    for rule, name, path, value, status, frags in pod_spec_cases[:8]:
        add("apps.template.spec", wk, f"template: {name}", f"spec.template.spec.{path}", value, status, [f if " " in f or f[0].isupper() else f"spec.template.spec.{f}" for f in frags])
    add("apps.replicas", wk, "negative replicas", "spec.replicas", -1, INVALID, ["spec.replicas"])
    add("decode.types", wk, "replicas as string", "spec.replicas", "two", BAD, ["spec.replicas"])
    add("decode.types", wk, "replicas as float", "spec.replicas", 1.5, BAD, ["spec.replicas"])
    add("apps.min-ready", wk, "negative minReadySeconds", "spec.minReadySeconds", -1, INVALID, ["spec.minReadySeconds"])
    add("apps.selector.required", wk, "empty selector", "spec.selector", {}, INVALID, ["spec.selector"])
    add("apps.template.labels", wk, "selector does not match template", "spec.selector", {"matchLabels": {"app": "other"}}, INVALID, ["spec.template.metadata.labels", "selector"])
    add("apps.selector.valid", wk, "bad selector operator", "spec.selector", {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["web"]}]}, INVALID, ["spec.selector", "operator"])
    add("apps.selector.valid", wk, "In without values", "spec.selector", {"matchExpressions": [{"key": "app", "operator": "In"}]}, INVALID, ["spec.selector", "values"])
    add("apps.template.restart-policy", wk, "template restartPolicy Never", "spec.template.spec.restartPolicy", "Never", INVALID, ["spec.template.spec.restartPolicy"])
    add("apps.template.active-deadline", wk, "template with activeDeadlineSeconds", "spec.template.spec.activeDeadlineSeconds", 30, INVALID, ["spec.template.spec.activeDeadlineSeconds", "not Supported"])
    add("apps.template.labels", wk, "template labels bad", "spec.template.metadata.labels", {"app": "web", "bad key!": "x"}, INVALID, ["spec.template.metadata.labels"])
    add("decode.types", wk, "template not an object", "spec.template", "x", BAD, ["spec.template"])

D = "Deployment"
add("apps.strategy.type", D, "unknown strategy", "spec.strategy", {"type": "BlueGreen"}, INVALID, ["spec.strategy.type", "Unsupported value"])
add("apps.strategy.type", D, "recreate with rollingUpdate", "spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}, INVALID, ["spec.strategy.rollingUpdate"])
add("apps.strategy.fenceposts", D, "maxSurge not a percent", "spec.strategy.rollingUpdate.maxSurge", "lots", INVALID, ["spec.strategy.rollingUpdate.maxSurge"])
add("apps.strategy.fenceposts", D, "maxSurge a negative percent", "spec.strategy.rollingUpdate.maxSurge", "-5%", INVALID, ["spec.strategy.rollingUpdate.maxSurge", "percent"])
add("apps.strategy.fenceposts", D, "negative maxUnavailable", "spec.strategy.rollingUpdate.maxUnavailable", -1, INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"])
add("apps.strategy.fenceposts", D, "maxUnavailable over 100%", "spec.strategy.rollingUpdate.maxUnavailable", "150%", INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"])
add("apps.strategy.fenceposts", D, "both fenceposts zero", "spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": 0}, INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"])
add("apps.strategy.fenceposts", D, "both fenceposts zero percent", "spec.strategy.rollingUpdate", {"maxSurge": "0%", "maxUnavailable": 0}, INVALID, ["spec.strategy.rollingUpdate.maxUnavailable", "may not be 0"])
add("apps.history-limit", D, "negative history limit", "spec.revisionHistoryLimit", -1, INVALID, ["spec.revisionHistoryLimit"])
add("apps.progress-deadline", D, "minReady above the default deadline", "spec.minReadySeconds", 700, INVALID, ["spec.progressDeadlineSeconds", "minReadySeconds"])
add("apps.progress-deadline", D, "negative progress deadline", "spec.progressDeadlineSeconds", -1, INVALID, ["spec.progressDeadlineSeconds", "greater than or equal to 0"])
add("decode.types", D, "paused not a bool", "spec.paused", "yes", BAD, ["spec.paused"])
add("decode.types", D, "maxSurge as object", "spec.strategy.rollingUpdate.maxSurge", {"a": 1}, BAD, ["spec.strategy.rollingUpdate.maxSurge"])

N = "Node"
add("node.taint.effect", N, "bad taint effect", "spec.taints", [{"key": "k", "effect": "Sometimes"}], INVALID, ["spec.taints[0].effect"])
add("node.taint.effect", N, "taint without effect", "spec.taints", [{"key": "k"}], INVALID, ["spec.taints[0].effect", "Required value"])
add("node.taint.key", N, "bad taint key", "spec.taints", [{"key": "a b", "effect": "NoSchedule"}], INVALID, ["spec.taints[0].key"])
add("node.taint.key", N, "taint without key", "spec.taints", [{"effect": "NoSchedule"}], INVALID, ["spec.taints[0].key", "Required value"])
add("node.taint.value", N, "taint value not a label value", "spec.taints", [{"key": "k", "value": "a b", "effect": "NoSchedule"}], INVALID, ["spec.taints[0].value"])
add("node.taint.unique", N, "the same taint twice", "spec.taints", [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "other", "effect": "NoSchedule"}], INVALID, ["spec.taints[1]", "unique by key and effect"])
add("node.resources", N, "bad capacity", "status.capacity", {"cpu": "four"}, INVALID, ["status.capacity[cpu]"])
add("node.resources", N, "negative allocatable", "status.allocatable", {"memory": "-1Gi"}, INVALID, ["status.allocatable[memory]"])
add("node.resources", N, "unknown capacity without a domain", "status.capacity", {"gpus": "1"}, INVALID, ["status.capacity[gpus]", "standard resource type or fully qualified"])
add("node.pod-cidr", N, "pod CIDR without a prefix", "spec.podCIDR", "10.88.1.0", INVALID, ["spec.podCIDRs[0]", "CIDR"])
add("node.pod-cidr", N, "pod CIDR with a prefix past 32", "spec.podCIDR", "10.88.1.0/33", INVALID, ["spec.podCIDRs[0]"])
add("decode.types", N, "unschedulable not a bool", "spec.unschedulable", "true", BAD, ["spec.unschedulable"])
add("namespace.finalizers", "Namespace", "spec finalizer without a domain", "spec", {"finalizers": ["mine"]}, INVALID, ["spec.finalizers[0]", "neither a standard finalizer name"])
add("namespace.finalizers", "Namespace", "spec finalizer with a space", "spec", {"finalizers": ["a b/c"]}, INVALID, ["spec.finalizers[0]"])
add("lease.duration", "Lease", "zero duration", "spec.leaseDurationSeconds", 0, INVALID, ["spec.leaseDurationSeconds"])
add("lease.transitions", "Lease", "negative transitions", "spec.leaseTransitions", -1, INVALID, ["spec.leaseTransitions"])
add("decode.types", "Lease", "duration as string", "spec.leaseDurationSeconds", "40", BAD, ["spec.leaseDurationSeconds"])
add("decode.time", "Lease", "bad renewTime", "spec.renewTime", "yesterday", BAD, ["spec.renewTime"])
# The calendar, as Go's time.Parse reads it (metav1.MicroTime: RFC3339Micro).
add("decode.time", "Lease", "renewTime on Feb 31", "spec.renewTime", "2000-02-31T00:00:00.000000Z", BAD, ["spec.renewTime", "day out of range"])
add("decode.time", "Lease", "renewTime on Feb 29 of a common year", "spec.renewTime", "2001-02-29T00:00:00.000000Z", BAD, ["spec.renewTime", "day out of range"])
add("decode.time", "Lease", "renewTime on Apr 31", "spec.renewTime", "2000-04-31T00:00:00.000000Z", BAD, ["spec.renewTime", "day out of range"])
add("decode.time", "Lease", "renewTime at second 60", "spec.renewTime", "2016-12-31T23:59:60.000000Z", BAD, ["spec.renewTime", "second out of range"])
add("decode.time", "Lease", "renewTime with lower-case t", "spec.renewTime", "2000-01-01t00:00:00.000000Z", BAD, ["spec.renewTime", "'T'"])
add("decode.time", "Lease", "renewTime with lower-case z", "spec.renewTime", "2000-01-01T00:00:00.000000z", BAD, ["spec.renewTime", "'Z'"])
add("decode.time", "Lease", "acquireTime without six fractional digits", "spec.acquireTime", "2000-01-01T00:00:00Z", BAD, ["spec.acquireTime", "six fractional digits"])
add("decode.time", "Pod", "creationTimestamp on Feb 30", "metadata.creationTimestamp", "2000-02-30T00:00:00Z", BAD, ["metadata.creationTimestamp", "day out of range"])
E = "Event"
add("event.namespace", E, "involved namespace differs", "involvedObject.namespace", "other", INVALID, ["involvedObject.namespace"])
add("decode.types", E, "count as string", "count", "3", BAD, ["count"])
series = {"eventTime": "2026-01-01T00:00:00.000000Z", "reportingComponent": "example.com/ctl", "reportingInstance": "i-1", "action": "Do", "reason": "Done"}
for field, value, frags in [
    ("reportingComponent", "", ["reportingComponent", "Required value"]),
    ("reportingComponent", "not valid", ["reportingComponent"]),
    ("reportingInstance", "", ["reportingInstance", "Required value"]),
    ("action", "", ["action", "Required value"]),
    ("action", "a" * 129, ["action", "at most 128"]),
    ("reason", "r" * 129, ["reason", "at most 128"]),
    ("message", "m" * 1025, ["message", "at most 1024"]),
]:
    body = {**series, field: value}
    add("event.series-fields", E, f"eventTime with {field} {value[:6]!r}{'...' if len(value) > 6 else ''}", "series", body, INVALID, frags)

cases = []
for rule, kind, name, path, value, code, reason, frags in M:
    url, base = BASES[kind]
    body = copy.deepcopy(base)
    if path == "series":
        body.update(value)
    else:
        setp(body, path, value)
    cases.append({"name": f"{kind}: {name}", "rule": rule, "path": url, "body": json.dumps(body), "expect": {"code": code, "reason": reason, "message": frags}})

# Whole-body problems.
pod_url, pod = BASES["Pod"]
dep_url, dep = BASES["Deployment"]
laughs = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
raw = [
    ("decode.json", "not JSON", pod_url, "application/json", "{not json", 400, "BadRequest", ["not valid JSON"]),
    ("decode.json", "truncated JSON", pod_url, "application/json", json.dumps(pod)[:-5], 400, "BadRequest", ["not valid JSON"]),
    ("decode.json", "trailing garbage", pod_url, "application/json", json.dumps(pod) + "xyz", 400, "BadRequest", ["not valid JSON"]),
    ("decode.json", "body is an array", pod_url, "application/json", "[1,2]", 400, "BadRequest", ["must be a JSON object"]),
    ("decode.json", "body is a string", pod_url, "application/json", '"pod"', 400, "BadRequest", ["must be a JSON object"]),
    ("decode.json", "body is null", pod_url, "application/json", "null", 400, "BadRequest", ["must be a JSON object"]),
    ("decode.json", "empty body", pod_url, "application/json", "", 400, "BadRequest", ["not valid JSON"]),
    ("decode.kind", "wrong kind for URL", pod_url, "application/json", json.dumps({**pod, "kind": "Node"}), 400, "BadRequest", ["kind:"]),
    ("decode.kind", "wrong apiVersion for URL", dep_url, "application/json", json.dumps({**dep, "apiVersion": "v1"}), 400, "BadRequest", ["apiVersion:"]),
    ("decode.kind", "extensions apiVersion", dep_url, "application/json", json.dumps({**dep, "apiVersion": "extensions/v1beta1"}), 400, "BadRequest", ["apiVersion:"]),
    ("decode.kind", "kind as number", pod_url, "application/json", json.dumps({**pod, "kind": 7}), 400, "BadRequest", ["kind:"]),
    ("request.media-type", "unsupported content type", pod_url, "text/plain", json.dumps(pod), 415, "UnsupportedMediaType", ["application/json"]),
    ("decode.yaml", "invalid YAML", pod_url, "application/yaml", "metadata: [unclosed", 400, "BadRequest", ["not valid YAML"]),
    ("decode.yaml", "YAML tab indentation", pod_url, "application/yaml", "metadata:\n\tname: p\n", 400, "BadRequest", ["not valid YAML"]),
    ("decode.yaml", "YAML alias bomb", pod_url, "application/yaml", laughs, 400, "BadRequest", ["not valid YAML"]),
    ("decode.json", "JSON nested past the limit", pod_url, "application/json", '{"metadata":{"name":"p"},"spec":{"x":' + "[" * 120 + "]" * 120 + "}}", 400, "BadRequest", ["limit"]),
    ("decode.yaml", "YAML nested past the limit", pod_url, "application/yaml", "spec:\n  x: " + "[" * 120 + "]" * 120 + "\n", 400, "BadRequest", ["limit"]),
    ("decode.strict", "duplicate key under Strict", pod_url + "?fieldValidation=Strict", "application/json",
     '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"},"spec":{"containers":[{"name":"c","image":"i"}]}}', 400, "BadRequest", ["duplicate field", "metadata.name"]),
    ("decode.strict", "nested duplicate under Strict", pod_url + "?fieldValidation=Strict", "application/json",
     '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","image":"j"}]}}', 400, "BadRequest", ["spec.containers[0].image"]),
    ("decode.strict", "unknown top-level field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spek": {}}), 400, "BadRequest", ["unknown field", '"spek"']),
    ("decode.strict", "unknown metadata field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "metadata": {"name": "p", "lables": {"a": "b"}}}), 400, "BadRequest", ["unknown field", "metadata.lables"]),
    ("decode.strict", "unknown container field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Never"}]}}), 400, "BadRequest", ["spec.containers[0].imagePullPolicyy"]),
    ("decode.strict", "unknown env field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "A", "valu": "x"}]}]}}), 400, "BadRequest", ["spec.containers[0].env[0].valu"]),
    ("decode.strict", "unknown port field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"port": 80}]}]}}), 400, "BadRequest", ["spec.containers[0].ports[0].port"]),
    ("decode.strict", "every unknown field is named under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"nodeNme": "n", "containers": [{"name": "c", "image": "i", "cmd": ["x"]}]}}), 400, "BadRequest", ["spec.nodeNme", "spec.containers[0].cmd"]),
    ("decode.strict", "unknown deployment strategy field under Strict", dep_url + "?fieldValidation=Strict", "application/json", json.dumps({**dep, "spec": {**dep["spec"], "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurgee": 1}}}}), 400, "BadRequest", ["spec.strategy.rollingUpdate.maxSurgee"]),
    ("decode.strict", "unknown template field under Strict", dep_url + "?fieldValidation=Strict", "application/json", json.dumps({**dep, "spec": {**dep["spec"], "template": {**dep["spec"]["template"], "metdata": {}}}}), 400, "BadRequest", ["spec.template.metdata"]),
    ("decode.strict", "unknown field in YAML under Strict", pod_url + "?fieldValidation=Strict", "application/yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n    imagePullPolicy: Never\n    resources:\n      limit: {}\n", 400, "BadRequest", ["spec.containers[0].resources.limit"]),
    ("request.options", "bad fieldValidation value", pod_url + "?fieldValidation=Loose", "application/json", json.dumps(pod), 400, "BadRequest", ["fieldValidation"]),
    ("decode.json", "NaN-like number", pod_url, "application/json", json.dumps(pod).replace('"containerPort": 80', '"containerPort": 1e999'), 400, "BadRequest", ["not valid JSON"]),
    ("request.url", "namespace does not exist", "/api/v1/namespaces/missing/pods", "application/json", json.dumps(pod), 404, "NotFound", ["namespaces", "missing"]),
    ("request.options", "dryRun other than All", pod_url + "?dryRun=Yes", "application/json", json.dumps(pod), 422, "Invalid", ["dryRun: Unsupported value", '"All"']),
    ("request.url", "unknown resource", "/api/v1/namespaces/default/widgets", "application/json", json.dumps(pod), 404, "NotFound", ["widgets"]),
    ("request.url", "unknown group", "/apis/batch/v1/namespaces/default/jobs", "application/json", json.dumps(pod), 404, "NotFound", ["jobs"]),
    ("request.url", "POST to an object URL", pod_url + "/p", "application/json", json.dumps(pod), 405, "MethodNotAllowed", ["POST"]),
    ("request.url", "binding without target", pod_url + "/p/binding", "application/json", '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"}}', 404, "NotFound", ["pods", "p"]),
    ("request.size", "body over 3 MiB", pod_url, "application/json", {"repeat": " ", "times": 3 * 1024 * 1024 + 1}, 413, "RequestEntityTooLarge", ["3145728"]),
]
for rule, name, url, ct, body, code, reason, frags in raw:
    assert rule in RULE_IDS, rule
    cases.append({"name": f"body: {name}", "rule": rule, "path": url, "contentType": ct, "body": body, "expect": {"code": code, "reason": reason, "message": frags}})

# What upstream accepts where a stricter reading would refuse: 201, and what is stored.
accepted = [
    ("decode.kind", "a body without kind or apiVersion takes the URL's", pod_url, {k: v for k, v in pod.items() if k not in ("kind", "apiVersion")}, {"/kind": "Pod", "/apiVersion": "v1"}),
    ("pod.grace-period", "a negative grace period is stored as 1", pod_url, {**pod, "spec": {**pod["spec"], "terminationGracePeriodSeconds": -5}}, {"/spec/terminationGracePeriodSeconds": 1}),
    ("pod.env.name", "an env name with dots, dashes and spaces", pod_url, {**pod, "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "my.var-1 x", "value": "v"}]}]}}, {"/spec/containers/0/env/0/name": "my.var-1 x"}),
    ("pod.container.image", "a template image with whitespace (only a Pod's is refused)", dep_url, {**dep, "spec": {**dep["spec"], "template": {**dep["spec"]["template"], "spec": {"containers": [{"name": "c", "image": " busybox:1"}]}}}}, {"/spec/template/spec/containers/0/image": " busybox:1"}),
    ("pod.resources.request-limit", "an extended resource whose request equals its limit", pod_url, {**pod, "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"example.com/gpu": "2"}, "limits": {"example.com/gpu": "2"}}}]}}, {"/spec/containers/0/resources/limits/example.com~1gpu": "2"}),
]
for rule, name, url, body, fields in accepted:
    assert rule in RULE_IDS, rule
    cases.append({"name": f"accepted: {name}", "rule": rule, "path": url, "body": json.dumps(body), "expect": {"code": 201, "fields": fields}})

by_rule = {}
for c in cases:
    by_rule.setdefault(c["rule"], []).append(c["name"])
missing = [r for r, _, _ in RULES if r not in by_rule]
if missing:
    sys.exit(f"rules without a corpus case: {missing}")

with open("cases.yaml", "w") as f:
    f.write("# Generated by generate.py; edit that, not this file.\n")
    f.write(yaml.safe_dump(cases, sort_keys=False, width=1000, allow_unicode=True))

with open("RULES.md", "w") as f:
    f.write("<!-- Generated by generate.py; edit that, not this file. -->\n")
    f.write("# The validation rules podchain implements, and the cases that exercise them\n\n")
    f.write("Upstream's rules for the fields podchain serves (apimachinery and Kubernetes 1.32's\n")
    f.write("validation, with the feature gates on by default there), where podchain takes them\n")
    f.write("from, and the cases in `cases.yaml` that `impl/apiserver/tests/bad_manifests.rs` sends.\n")
    f.write("Fields podchain carries without modelling (volumes, probes, affinity, security\n")
    f.write("contexts, every status) are kept verbatim and not checked; update-only rules\n")
    f.write("(immutability, finalizers on a terminating object) are unit tests in `podcore::validation`.\n\n")
    f.write(f"{len(RULES)} rules, {len(cases)} cases.\n\n")
    f.write("| rule | upstream | what it requires | cases |\n|---|---|---|---|\n")
    for rid, src, text in RULES:
        names = by_rule[rid]
        shown = "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")
        f.write(f"| `{rid}` | {src} | {text.replace('|', '/')} | {len(names)}: {shown.replace('|', '/')} |\n")
print(f"{len(RULES)} rules, {len(cases)} cases")
