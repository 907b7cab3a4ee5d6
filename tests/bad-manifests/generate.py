#!/usr/bin/env python3
"""Generates cases.yaml: bad manifests, each with the status code, reason and
message fragments (naming the field) that the apiserver must answer with.

Run from this directory: python3 generate.py > cases.yaml
Every case is: one valid base manifest of a kind, with one mutation.
"""
import copy
import json

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

DELETE = object()


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


# (kind, case name, field path, new value, code, reason, message fragments)
M = []
INVALID, BAD = (422, "Invalid"), (400, "BadRequest")


def meta_cases(kind, namespaced=True):
    name_field = "metadata.name"
    for bad_name in ["Upper", "under_score", "-leading", "trailing-", "dot..dot", "a" * 254, "space name", "ünïcode"]:
        if kind == "Namespace" and bad_name == "a" * 254:
            bad_name = "a" * 64
        M.append((kind, f"name {bad_name[:12]!r}", name_field, bad_name, *INVALID, [name_field]))
    M.append((kind, "no name", name_field, DELETE, *INVALID, ["metadata.name", "Required value"]))
    M.append((kind, "label key with two slashes", "metadata.labels", {"a/b/c": "x"}, *INVALID, ["metadata.labels"]))
    M.append((kind, "label value too long", "metadata.labels", {"app": "v" * 64}, *INVALID, ["metadata.labels"]))
    M.append((kind, "label value with space", "metadata.labels", {"app": "a b"}, *INVALID, ["metadata.labels"]))
    M.append((kind, "labels not a map", "metadata.labels", ["a"], *BAD, ["metadata.labels"]))
    M.append((kind, "annotations not strings", "metadata.annotations", {"a": 1}, *BAD, ["metadata.annotations"]))
    M.append((kind, "two controller owners", "metadata.ownerReferences",
              [{"apiVersion": "v1", "kind": "X", "name": "a", "uid": "1", "controller": True},
               {"apiVersion": "v1", "kind": "X", "name": "b", "uid": "2", "controller": True}], *INVALID, ["metadata.ownerReferences"]))
    M.append((kind, "owner without uid", "metadata.ownerReferences", [{"apiVersion": "v1", "kind": "X", "name": "a", "uid": ""}], *INVALID, ["metadata.ownerReferences[0].uid"]))
    M.append((kind, "metadata not an object", "metadata", "x", *BAD, ["metadata"]))
    M.append((kind, "finalizers not a list", "metadata.finalizers", "x", *BAD, ["metadata.finalizers"]))
    M.append((kind, "generation not a number", "metadata.generation", "one", *BAD, ["metadata.generation"]))
    if namespaced:
        M.append((kind, "namespace differs from URL", "metadata.namespace", "other", *BAD, ["metadata.namespace", "does not match"]))
    else:
        M.append((kind, "namespace on a cluster-scoped kind", "metadata.namespace", "default", *INVALID, ["metadata.namespace"]))


for k in BASES:
    meta_cases(k, namespaced=k not in ("Node", "Namespace"))

pod_spec_cases = [
    ("no containers", "containers", [], INVALID, ["containers", "Required value"]),
    ("container without image", "containers[0].image", "", INVALID, ["containers[0].image"]),
    ("container without name", "containers[0].name", "", INVALID, ["containers[0].name"]),
    ("container name upper", "containers[0].name", "Web", INVALID, ["containers[0].name"]),
    ("bad pull policy", "containers[0].imagePullPolicy", "Sometimes", INVALID, ["containers[0].imagePullPolicy", "Unsupported value"]),
    ("port zero", "containers[0].ports", [{"containerPort": 0}], INVALID, ["containers[0].ports[0].containerPort"]),
    ("port too high", "containers[0].ports", [{"containerPort": 70000}], INVALID, ["containers[0].ports[0].containerPort"]),
    ("port as string", "containers[0].ports", [{"containerPort": "80"}], BAD, ["containers[0].ports[0].containerPort"]),
    ("bad protocol", "containers[0].ports", [{"containerPort": 80, "protocol": "HTTP"}], INVALID, ["containers[0].ports[0].protocol"]),
    ("bad cpu quantity", "containers[0].resources", {"requests": {"cpu": "lots"}}, INVALID, ["containers[0].resources.requests[cpu]"]),
    ("bad memory suffix", "containers[0].resources", {"limits": {"memory": "1Zi"}}, INVALID, ["containers[0].resources.limits[memory]"]),
    ("negative cpu", "containers[0].resources", {"requests": {"cpu": "-1"}}, INVALID, ["containers[0].resources.requests[cpu]"]),
    ("request above limit", "containers[0].resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, INVALID, ["containers[0].resources.requests[cpu]", "limit"]),
    ("quantity not scalar", "containers[0].resources", {"requests": {"cpu": {"a": 1}}}, BAD, ["containers[0].resources.requests"]),
    ("env without name", "containers[0].env", [{"value": "x"}], BAD, ["containers[0].env[0]"]),
    ("env empty name", "containers[0].env", [{"name": "", "value": "x"}], INVALID, ["containers[0].env[0].name"]),
    ("command not a list", "containers[0].command", "sh -c true", BAD, ["containers[0].command"]),
    ("args with number", "containers[0].args", [1], BAD, ["containers[0].args[0]"]),
    ("containers not a list", "containers", {"name": "c"}, BAD, ["containers"]),
    ("bad toleration operator", "tolerations", [{"key": "k", "operator": "Maybe"}], INVALID, ["tolerations[0].operator"]),
    ("toleration seconds without NoExecute", "tolerations", [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}], INVALID, ["tolerations[0].effect"]),
    ("bad toleration effect", "tolerations", [{"key": "k", "operator": "Exists", "effect": "Never"}], INVALID, ["tolerations[0].effect"]),
    ("exists with value", "tolerations", [{"key": "k", "operator": "Exists", "value": "v"}], INVALID, ["tolerations[0].operator"]),
    ("negative grace", "terminationGracePeriodSeconds", -1, INVALID, ["terminationGracePeriodSeconds"]),
    ("grace as string", "terminationGracePeriodSeconds", "30", BAD, ["terminationGracePeriodSeconds"]),
    ("bad node selector label", "nodeSelector", {"a b": "c"}, INVALID, ["nodeSelector"]),
    ("duplicate container names", "containers", [{"name": "c", "image": "i"}, {"name": "c", "image": "i"}], INVALID, ["containers[1].name", "Duplicate"]),
]
for name, path, value, (code, reason), frags in pod_spec_cases:
    M.append(("Pod", name, f"spec.{path}", value, code, reason, [f"spec.{f}" if f.startswith(("containers", "tolerations", "terminationGrace", "nodeSelector")) else f for f in frags]))
M.append(("Pod", "bad restart policy", "spec.restartPolicy", "Sometimes", *INVALID, ["spec.restartPolicy", "Unsupported value"]))
for wk in ("Deployment", "ReplicaSet"):
    for name, path, value, (code, reason), frags in pod_spec_cases[:8]:
        M.append((wk, f"template: {name}", f"spec.template.spec.{path}", value, code, reason, [f if " " in f or f[0].isupper() else f"spec.template.spec.{f}" for f in frags]))
    M.append((wk, "negative replicas", "spec.replicas", -1, *INVALID, ["spec.replicas"]))
    M.append((wk, "replicas as string", "spec.replicas", "two", *BAD, ["spec.replicas"]))
    M.append((wk, "replicas as float", "spec.replicas", 1.5, *BAD, ["spec.replicas"]))
    M.append((wk, "empty selector", "spec.selector", {}, *INVALID, ["spec.selector"]))
    M.append((wk, "selector does not match template", "spec.selector", {"matchLabels": {"app": "other"}}, *INVALID, ["spec.template.metadata.labels", "selector"]))
    M.append((wk, "bad selector operator", "spec.selector", {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["web"]}]}, *INVALID, ["spec.selector", "operator"]))
    M.append((wk, "In without values", "spec.selector", {"matchExpressions": [{"key": "app", "operator": "In"}]}, *INVALID, ["spec.selector", "values"]))
    M.append((wk, "template restartPolicy Never", "spec.template.spec.restartPolicy", "Never", *INVALID, ["spec.template.spec.restartPolicy"]))
    M.append((wk, "template labels bad", "spec.template.metadata.labels", {"app": "web", "bad key!": "x"}, *INVALID, ["spec.template.metadata.labels"]))
    M.append((wk, "template not an object", "spec.template", "x", *BAD, ["spec.template"]))
M += [
    ("Deployment", "unknown strategy", "spec.strategy", {"type": "BlueGreen"}, *INVALID, ["spec.strategy.type", "Unsupported value"]),
    ("Deployment", "recreate with rollingUpdate", "spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}, *INVALID, ["spec.strategy.rollingUpdate"]),
    ("Deployment", "maxSurge not a percent", "spec.strategy.rollingUpdate.maxSurge", "lots", *INVALID, ["spec.strategy.rollingUpdate.maxSurge"]),
    ("Deployment", "negative maxUnavailable", "spec.strategy.rollingUpdate.maxUnavailable", -1, *INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ("Deployment", "maxUnavailable over 100%", "spec.strategy.rollingUpdate.maxUnavailable", "150%", *INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ("Deployment", "both fenceposts zero", "spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": 0}, *INVALID, ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ("Deployment", "negative history limit", "spec.revisionHistoryLimit", -1, *INVALID, ["spec.revisionHistoryLimit"]),
    ("Deployment", "minReady above the default deadline", "spec.minReadySeconds", 700, *INVALID, ["spec.progressDeadlineSeconds", "minReadySeconds"]),
    ("Deployment", "paused not a bool", "spec.paused", "yes", *BAD, ["spec.paused"]),
    ("Deployment", "maxSurge as object", "spec.strategy.rollingUpdate.maxSurge", {"a": 1}, *BAD, ["spec.strategy.rollingUpdate.maxSurge"]),
    ("Node", "bad taint effect", "spec.taints", [{"key": "k", "effect": "Sometimes"}], *INVALID, ["spec.taints[0].effect"]),
    ("Node", "bad taint key", "spec.taints", [{"key": "a b", "effect": "NoSchedule"}], *INVALID, ["spec.taints[0].key"]),
    ("Node", "taint without key", "spec.taints", [{"effect": "NoSchedule"}], *BAD, ["spec.taints[0]"]),
    ("Node", "bad capacity", "status.capacity", {"cpu": "four"}, *INVALID, ["status.capacity[cpu]"]),
    ("Node", "unschedulable not a bool", "spec.unschedulable", "true", *BAD, ["spec.unschedulable"]),
    ("Lease", "zero duration", "spec.leaseDurationSeconds", 0, *INVALID, ["spec.leaseDurationSeconds"]),
    ("Lease", "duration as string", "spec.leaseDurationSeconds", "40", *BAD, ["spec.leaseDurationSeconds"]),
    ("Lease", "bad renewTime", "spec.renewTime", "yesterday", *BAD, ["spec.renewTime"]),
    # The calendar, as Go's time.Parse reads it (metav1.MicroTime: RFC3339Micro).
    ("Lease", "renewTime on Feb 31", "spec.renewTime", "2000-02-31T00:00:00.000000Z", *BAD, ["spec.renewTime", "day out of range"]),
    ("Lease", "renewTime on Feb 29 of a common year", "spec.renewTime", "2001-02-29T00:00:00.000000Z", *BAD, ["spec.renewTime", "day out of range"]),
    ("Lease", "renewTime on Apr 31", "spec.renewTime", "2000-04-31T00:00:00.000000Z", *BAD, ["spec.renewTime", "day out of range"]),
    ("Lease", "renewTime at second 60", "spec.renewTime", "2016-12-31T23:59:60.000000Z", *BAD, ["spec.renewTime", "second out of range"]),
    ("Lease", "renewTime with lower-case t", "spec.renewTime", "2000-01-01t00:00:00.000000Z", *BAD, ["spec.renewTime", "'T'"]),
    ("Lease", "renewTime with lower-case z", "spec.renewTime", "2000-01-01T00:00:00.000000z", *BAD, ["spec.renewTime", "'Z'"]),
    ("Lease", "acquireTime without six fractional digits", "spec.acquireTime", "2000-01-01T00:00:00Z", *BAD, ["spec.acquireTime", "six fractional digits"]),
    ("Pod", "creationTimestamp on Feb 30", "metadata.creationTimestamp", "2000-02-30T00:00:00Z", *BAD, ["metadata.creationTimestamp", "day out of range"]),
    ("Event", "involved namespace differs", "involvedObject.namespace", "other", *INVALID, ["involvedObject.namespace"]),
    ("Event", "count as string", "count", "3", *BAD, ["count"]),
    ("Namespace", "name with dot", "metadata.name", "a.b", *INVALID, ["metadata.name"]),
]

cases = []
for kind, name, path, value, code, reason, frags in M:
    url, base = BASES[kind]
    body = copy.deepcopy(base)
    setp(body, path, value)
    cases.append({"name": f"{kind}: {name}", "path": url, "body": json.dumps(body), "expect": {"code": code, "reason": reason, "message": frags}})

# Whole-body problems.
pod_url, pod = BASES["Pod"]
dep_url, dep = BASES["Deployment"]
laughs = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
raw = [
    ("not JSON", pod_url, "application/json", "{not json", 400, "BadRequest", ["not valid JSON"]),
    ("truncated JSON", pod_url, "application/json", json.dumps(pod)[:-5], 400, "BadRequest", ["not valid JSON"]),
    ("trailing garbage", pod_url, "application/json", json.dumps(pod) + "xyz", 400, "BadRequest", ["not valid JSON"]),
    ("body is an array", pod_url, "application/json", "[1,2]", 400, "BadRequest", ["must be a JSON object"]),
    ("body is a string", pod_url, "application/json", '"pod"', 400, "BadRequest", ["must be a JSON object"]),
    ("body is null", pod_url, "application/json", "null", 400, "BadRequest", ["must be a JSON object"]),
    ("empty body", pod_url, "application/json", "", 400, "BadRequest", ["not valid JSON"]),
    ("wrong kind for URL", pod_url, "application/json", json.dumps({**pod, "kind": "Node"}), 400, "BadRequest", ["kind:"]),
    ("wrong apiVersion for URL", dep_url, "application/json", json.dumps({**dep, "apiVersion": "v1"}), 400, "BadRequest", ["apiVersion:"]),
    ("extensions apiVersion", dep_url, "application/json", json.dumps({**dep, "apiVersion": "extensions/v1beta1"}), 400, "BadRequest", ["apiVersion:"]),
    ("kind as number", pod_url, "application/json", json.dumps({**pod, "kind": 7}), 400, "BadRequest", ["kind:"]),
    ("unsupported content type", pod_url, "text/plain", json.dumps(pod), 415, "UnsupportedMediaType", ["application/json"]),
    ("invalid YAML", pod_url, "application/yaml", "metadata: [unclosed", 400, "BadRequest", ["not valid YAML"]),
    ("YAML tab indentation", pod_url, "application/yaml", "metadata:\n\tname: p\n", 400, "BadRequest", ["not valid YAML"]),
    ("YAML alias bomb", pod_url, "application/yaml", laughs, 400, "BadRequest", ["not valid YAML"]),
    ("JSON nested past the limit", pod_url, "application/json", '{"metadata":{"name":"p"},"spec":{"x":' + "[" * 120 + "]" * 120 + "}}", 400, "BadRequest", ["limit"]),
    ("YAML nested past the limit", pod_url, "application/yaml", "spec:\n  x: " + "[" * 120 + "]" * 120 + "\n", 400, "BadRequest", ["limit"]),
    ("duplicate key under Strict", pod_url + "?fieldValidation=Strict", "application/json",
     '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"},"spec":{"containers":[{"name":"c","image":"i"}]}}', 400, "BadRequest", ["duplicate field", "metadata.name"]),
    ("nested duplicate under Strict", pod_url + "?fieldValidation=Strict", "application/json",
     '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","image":"j"}]}}', 400, "BadRequest", ["spec.containers[0].image"]),
    ("unknown top-level field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spek": {}}), 400, "BadRequest", ["unknown field", '"spek"']),
    ("unknown metadata field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "metadata": {"name": "p", "lables": {"a": "b"}}}), 400, "BadRequest", ["unknown field", "metadata.lables"]),
    ("unknown container field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Never"}]}}), 400, "BadRequest", ["spec.containers[0].imagePullPolicyy"]),
    ("unknown env field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "A", "valu": "x"}]}]}}), 400, "BadRequest", ["spec.containers[0].env[0].valu"]),
    ("unknown port field under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"port": 80}]}]}}), 400, "BadRequest", ["spec.containers[0].ports[0].port"]),
    ("every unknown field is named under Strict", pod_url + "?fieldValidation=Strict", "application/json", json.dumps({**pod, "spec": {"nodeNme": "n", "containers": [{"name": "c", "image": "i", "cmd": ["x"]}]}}), 400, "BadRequest", ["spec.nodeNme", "spec.containers[0].cmd"]),
    ("unknown deployment strategy field under Strict", dep_url + "?fieldValidation=Strict", "application/json", json.dumps({**dep, "spec": {**dep["spec"], "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurgee": 1}}}}), 400, "BadRequest", ["spec.strategy.rollingUpdate.maxSurgee"]),
    ("unknown template field under Strict", dep_url + "?fieldValidation=Strict", "application/json", json.dumps({**dep, "spec": {**dep["spec"], "template": {**dep["spec"]["template"], "metdata": {}}}}), 400, "BadRequest", ["spec.template.metdata"]),
    ("unknown field in YAML under Strict", pod_url + "?fieldValidation=Strict", "application/yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n    imagePullPolicy: Never\n    resources:\n      limit: {}\n", 400, "BadRequest", ["spec.containers[0].resources.limit"]),
    ("bad fieldValidation value", pod_url + "?fieldValidation=Loose", "application/json", json.dumps(pod), 400, "BadRequest", ["fieldValidation"]),
    ("NaN-like number", pod_url, "application/json", json.dumps(pod).replace('"containerPort": 80', '"containerPort": 1e999'), 400, "BadRequest", ["not valid JSON"]),
    ("namespace does not exist", "/api/v1/namespaces/missing/pods", "application/json", json.dumps(pod), 404, "NotFound", ["namespaces", "missing"]),
    ("dry run", pod_url + "?dryRun=All", "application/json", json.dumps(pod), 400, "BadRequest", ["dryRun"]),
    ("unknown resource", "/api/v1/namespaces/default/widgets", "application/json", json.dumps(pod), 404, "NotFound", ["widgets"]),
    ("unknown group", "/apis/batch/v1/namespaces/default/jobs", "application/json", json.dumps(pod), 404, "NotFound", ["jobs"]),
    ("POST to an object URL", pod_url + "/p", "application/json", json.dumps(pod), 405, "MethodNotAllowed", ["POST"]),
    ("binding without target", pod_url + "/p/binding", "application/json", '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"}}', 404, "NotFound", ["pods", "p"]),
    ("body over 3 MiB", pod_url, "application/json", {"repeat": " ", "times": 3 * 1024 * 1024 + 1}, 413, "RequestEntityTooLarge", ["3145728"]),
]
for name, url, ct, body, code, reason, frags in raw:
    cases.append({"name": f"body: {name}", "path": url, "contentType": ct, "body": body, "expect": {"code": code, "reason": reason, "message": frags}})

print("# Generated by generate.py; edit that, not this file.")
print(yaml.safe_dump(cases, sort_keys=False, width=1000, allow_unicode=True), end="")
