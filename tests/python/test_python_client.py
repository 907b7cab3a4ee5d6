"""The official Python `kubernetes` client against `podchain server`, using
the kubeconfig the server writes: list, watch and create pods and
deployments, read and patch the scale subresource, and typed errors."""

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def api(cluster):
    config.load_kube_config(config_file=cluster)
    return client.CoreV1Api(), client.AppsV1Api()


def container(image="podchain/sample:1"):
    return client.V1Container(name="main", image=image, image_pull_policy="Never", ports=[client.V1ContainerPort(container_port=8080)])


def test_create_list_and_watch_a_pod(api):
    core, _ = api
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py-pod", labels={"suite": "py"}), spec=client.V1PodSpec(containers=[container()]))
    created = core.create_namespaced_pod("default", pod)
    assert created.metadata.uid
    assert created.spec.restart_policy == "Always"
    assert created.status.phase == "Pending"

    listed = core.list_namespaced_pod("default", label_selector="suite=py")
    assert [p.metadata.name for p in listed.items] == ["py-pod"]
    assert listed.metadata.resource_version

    w = watch.Watch()
    phases = []
    final = None
    for ev in w.stream(core.list_namespaced_pod, "default", field_selector="metadata.name=py-pod", timeout_seconds=30):
        obj = ev["object"]
        phases.append((ev["type"], obj.status.phase))
        if obj.status.phase == "Running" and obj.spec.node_name == "py-node" and obj.status.pod_ip:
            final = obj
            w.stop()
    assert phases[0][0] == "ADDED"
    assert final is not None, f"the pod never ran with an IP; events: {phases}"
    assert final.status.pod_ip.startswith("10.88.")
    assert final.status.host_ip == "127.0.0.1"
    assert final.status.container_statuses[0].ready


def test_errors_are_typed_statuses(api):
    core, _ = api
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("does-not-exist", "default")
    assert e.value.status == 404
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="dup"), spec=client.V1PodSpec(containers=[container()]))
    core.create_namespaced_pod("default", pod)
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("default", pod)
    assert e.value.status == 409
    assert '"reason":"AlreadyExists"' in e.value.body.replace(" ", "")
    bad = client.V1Pod(metadata=client.V1ObjectMeta(name="Bad_Name"), spec=client.V1PodSpec(containers=[container()]))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("default", bad)
    assert e.value.status == 422
    assert "metadata.name" in e.value.body


def test_create_list_watch_and_scale_a_deployment(api):
    _, apps = api
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "py-web"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "py-web"}), spec=client.V1PodSpec(containers=[container()])),
        ),
    )
    created = apps.create_namespaced_deployment("default", dep)
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10

    names = [d.metadata.name for d in apps.list_namespaced_deployment("default").items]
    assert "py-web" in names

    def wait_available(n):
        w = watch.Watch()
        for ev in w.stream(apps.list_namespaced_deployment, "default", field_selector="metadata.name=py-web", timeout_seconds=30):
            s = ev["object"].status
            if s.available_replicas == n and s.updated_replicas == n and s.replicas == n:
                w.stop()
                return ev["object"]
        raise AssertionError(f"deployment never had {n} available replicas")

    d = wait_available(2)
    assert d.status.observed_generation == d.metadata.generation
    assert any(c.type == "Available" and c.status == "True" for c in d.status.conditions)

    scale = apps.read_namespaced_deployment_scale("py-web", "default")
    assert scale.spec.replicas == 2
    apps.patch_namespaced_deployment_scale("py-web", "default", {"spec": {"replicas": 3}})
    wait_available(3)
    rs = apps.list_namespaced_replica_set("default", label_selector="app=py-web").items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
