#!/usr/bin/env python3
"""Builds podchain's two OCI images from Debian's busybox-static, with no
registry and no container tooling: an image is a tar of an OCI image layout
(oci-layout, index.json, blobs/sha256/...) that `ctr images import` reads.

  podchain.local/pause:1    the pod sandbox: waits, exits 0 on SIGTERM
  podchain.local/sample:1   busybox httpd on :8080 serving a page that names the pod

Usage: images.py OUT_DIR   (writes pause.tar and sample.tar; deterministic:
the same busybox gives the same digests, so re-imports are no-ops)
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

BUSYBOX = os.environ.get("PODCHAIN_BUSYBOX", "/bin/busybox")
# The applets the images use; each is a hard link to busybox in the layer.
APPLETS = ["sh", "sleep", "httpd", "echo", "cat", "hostname", "mkdir", "ls", "env", "true", "false", "wget", "kill", "ps"]
EPOCH = 0  # fixed mtimes keep the digests reproducible

IMAGES = {
    "pause": {
        "name": "podchain.local/pause:1",
        "cmd": ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
        "ports": {},
    },
    "sample": {
        "name": "podchain.local/sample:1",
        # The page names the pod (its hostname), so a test can tell pods apart.
        # The shell stays PID 1 and exits on SIGTERM (httpd as PID 1 would
        # ignore it and wait out the whole grace period).
        "cmd": ["/bin/sh", "-c", "mkdir -p /www; echo \"hello from $(hostname)\" > /www/index.html; echo \"serving on :8080\"; trap 'exit 0' TERM INT; httpd -f -v -p 8080 -h /www & wait $!"],
        "ports": {"8080/tcp": {}},
    },
}


def tar_info(name, kind, size=0, mode=0o755, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = EPOCH
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.linkname = link
    return ti


def rootfs_layer():
    """The single layer: /bin/busybox, its applets, /tmp, /www, /etc files."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ["bin", "etc", "tmp", "www", "proc", "sys", "dev"]:
            t.addfile(tar_info(d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755))
        t.addfile(tar_info("bin/busybox", tarfile.REGTYPE, len(busybox)), io.BytesIO(busybox))
        for a in APPLETS:
            t.addfile(tar_info("bin/" + a, tarfile.LNKTYPE, link="bin/busybox"))
        for path, text in [("etc/passwd", "root:x:0:0:root:/:/bin/sh\n"), ("etc/group", "root:x:0:\n")]:
            b = text.encode()
            t.addfile(tar_info(path, tarfile.REGTYPE, len(b), mode=0o644), io.BytesIO(b))
    diff = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=EPOCH, compresslevel=6) as g:
        g.write(diff)
    return diff, gz.getvalue()


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def build(spec, diff, layer, out_path):
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": spec["cmd"],
            "WorkingDir": "/",
            "ExposedPorts": spec["ports"],
        },
        "rootfs": {"type": "layers", "diff_ids": [sha(diff)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "podchain ci/images.py"}],
    }
    config_b = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config_b), "size": len(config_b)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer), "size": len(layer)}],
    }
    manifest_b = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha(manifest_b),
            "size": len(manifest_b),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": spec["name"], "org.opencontainers.image.ref.name": spec["name"].rsplit(":", 1)[1]},
        }],
    }
    index_b = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index_b)]
    for blob in (config_b, manifest_b, layer):
        files.append(("blobs/sha256/" + sha(blob)[7:], blob))
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as t:
        for d in ["blobs", "blobs/sha256"]:
            t.addfile(tar_info(d, tarfile.DIRTYPE))
        for name, b in files:
            t.addfile(tar_info(name, tarfile.REGTYPE, len(b), mode=0o644), io.BytesIO(b))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    diff, layer = rootfs_layer()
    for key, spec in IMAGES.items():
        path = os.path.join(out, key + ".tar")
        build(spec, diff, layer, path)
        print(f"{spec['name']} -> {path}")


if __name__ == "__main__":
    main()
