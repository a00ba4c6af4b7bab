#!/usr/bin/env python3
"""Turns a container of docker/k8s/*.yaml into the `docker run` arguments a kubelet would amount
to, so tests/container/run.sh runs exactly what the manifests say rather than a copy of it.

  k8s_pod.py volumes K8S_DIR OUT_DIR
      writes every ConfigMap and Secret of K8S_DIR into OUT_DIR/NAME laid out as the kubelet does
      (OUT_DIR/NAME/..TIMESTAMP/KEY files, ..data -> ..TIMESTAMP, KEY -> ..data/KEY), and checks
      that the ConfigMap's files equal docker/example/preflight/ (EXAMPLE_DIR env)
  k8s_pod.py run FILE CONTAINER VOLUMES_DIR [IMAGE=LOCAL ...] [--replace OLD=NEW ...]
      prints, one a line, the `docker run` options and arguments for that container (init or
      regular) of the Deployment or Job in FILE: image, command and args, env (value and
      secretKeyRef), volume mounts (configMap, secret), securityContext (runAsUser/runAsGroup,
      fsGroup, readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation)

Exits 2 with a message on anything it does not understand, so a manifest change that the test
cannot follow fails the test instead of being skipped.
"""
import os
import sys

import yaml


def die(msg):
    print("k8s_pod.py: " + msg, file=sys.stderr)
    sys.exit(2)


def load_all(k8s_dir):
    docs = []
    for name in sorted(os.listdir(k8s_dir)):
        if name.endswith(".yaml"):
            with open(os.path.join(k8s_dir, name)) as f:
                docs += [(name, d) for d in yaml.safe_load_all(f) if d]
    return docs


def kubelet_dir(path, files, mode):
    """Lays out files as the kubelet's atomic writer does for a ConfigMap or Secret volume: the
    files in a timestamped folder, ..data pointing at it, and each key a symlink through ..data.
    Files belong to root and to the group FSGROUP (environment), as with a pod's fsGroup."""
    stamp = "..2026_01_01_00_00_00.000000001"
    os.makedirs(os.path.join(path, stamp))
    os.chmod(path, 0o755)
    os.chmod(os.path.join(path, stamp), 0o755)
    for key, text in files.items():
        f_path = os.path.join(path, stamp, key)
        with open(f_path, "w") as f:
            f.write(text)
        os.chmod(f_path, mode)
        if os.environ.get("FSGROUP") and os.geteuid() == 0:
            os.chown(f_path, 0, int(os.environ["FSGROUP"]))
        os.symlink(os.path.join("..data", key), os.path.join(path, key))
    os.symlink(stamp, os.path.join(path, "..data"))


def cmd_volumes(k8s_dir, out_dir):
    example = os.environ.get("EXAMPLE_DIR")
    for fname, d in load_all(k8s_dir):
        kind, name = d.get("kind"), d["metadata"]["name"]
        if kind == "ConfigMap":
            data = d.get("data", {})
            if example:
                have = sorted(os.listdir(example))
                if sorted(data) != have:
                    die(f"{fname}: ConfigMap {name} has {sorted(data)}, {example} has {have}")
                for key, text in data.items():
                    with open(os.path.join(example, key)) as f:
                        if f.read() != text:
                            die(f"{fname}: ConfigMap {name} key {key} differs from {example}/{key}")
            kubelet_dir(os.path.join(out_dir, "configmap-" + name), data, 0o644)
        elif kind == "Secret":
            data = dict(d.get("stringData", {}))
            kubelet_dir(os.path.join(out_dir, "secret-" + name), data, 0o440)
            # Also the values, for secretKeyRef.
            for key, text in data.items():
                with open(os.path.join(out_dir, f"secretvalue-{name}-{key}"), "w") as f:
                    f.write(text)


def find_container(doc, cname):
    spec = doc["spec"]["template"]["spec"]
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        if c["name"] == cname:
            return spec, c
    die(f"no container {cname}")


def cmd_run(path, cname, vol_dir, extra):
    images, replace = {}, []
    i = 0
    while i < len(extra):
        if extra[i] == "--replace":
            old, new = extra[i + 1].split("=", 1)
            replace.append((old, new))
            i += 2
        else:
            k, v = extra[i].split("=", 1)
            images[k] = v
            i += 1
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    doc = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    if len(doc) != 1:
        die(f"{path}: expected one Deployment or Job")
    spec, c = find_container(doc[0], cname)
    out = []
    psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
    known = {"runAsUser", "runAsGroup", "allowPrivilegeEscalation", "readOnlyRootFilesystem",
             "capabilities", "runAsNonRoot"}
    if set(csc) - known:
        die(f"unknown securityContext keys {set(csc) - known}")
    if "runAsUser" in csc:
        out += ["--user", f"{csc['runAsUser']}:{csc.get('runAsGroup', csc['runAsUser'])}"]
    elif psc.get("runAsNonRoot") or csc.get("runAsNonRoot"):
        die("runAsNonRoot without a numeric runAsUser: the kubelet would have to read the image")
    if "fsGroup" in psc:
        out += ["--group-add", str(psc["fsGroup"])]
    if csc.get("readOnlyRootFilesystem"):
        out.append("--read-only")
    if csc.get("allowPrivilegeEscalation") is False:
        out += ["--security-opt", "no-new-privileges"]
    for cap in csc.get("capabilities", {}).get("drop", []):
        out += ["--cap-drop", cap]
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = vols[m["name"]]
        if "configMap" in v:
            src = os.path.join(vol_dir, "configmap-" + v["configMap"]["name"])
        elif "secret" in v:
            src = os.path.join(vol_dir, "secret-" + v["secret"]["secretName"])
        else:
            die(f"volume {m['name']}: only configMap and secret volumes are supported")
        out += ["-v", f"{src}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
    for e in c.get("env", []):
        if "value" in e:
            val = str(e["value"])
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            with open(os.path.join(vol_dir, f"secretvalue-{ref['name']}-{ref['key']}")) as f:
                val = f.read()
        out += ["-e", f"{e['name']}={val}"]
    if "command" in c:
        out += ["--entrypoint", c["command"][0]]
    image = c["image"]
    if image not in images:
        die(f"no local image given for {image}")
    out.append(images[image])
    out += [str(a) for a in c.get("command", [])[1:]] + [str(a) for a in c.get("args", [])]
    for line in out:
        for old, new in replace:
            line = line.replace(old, new)
        print(line)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "volumes":
        cmd_volumes(a[1], a[2])
    elif len(a) >= 4 and a[0] == "run":
        cmd_run(a[1], a[2], a[3], a[4:])
    else:
        die("usage: see the docstring")


if __name__ == "__main__":
    main()
