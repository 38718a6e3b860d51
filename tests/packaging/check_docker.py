#!/usr/bin/env python3
"""Checks docker/ without a Docker engine (none of the project's machines has one).

What can be checked here: compose.yaml parses and has the services the sidecar setup needs,
wired as docs/operations.md says; every file it mounts and every path the Dockerfile copies
exists; the readthru config it mounts passes `readthru --check-config`; the image's build
stage installs the build packages scripts/install-deps lists. What cannot: that the images
build and the containers run.

usage: check_docker.py REPO_ROOT READTHRU_BINARY
"""
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
    return ok


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": n / 1000, "s": n, "m": n * 60}[unit]


def check_config(binary, path):
    run = subprocess.run([binary, "--check-config", "--config", str(path)],
                         capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def dockerfile_stages(text):
    """[(from line, [instructions])], continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    stages = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def apt_packages(instructions):
    pkgs = set()
    for ins in instructions:
        m = re.search(r"apt-get install ([^&]*)", ins)
        if m:
            pkgs.update(p for p in m.group(1).split() if not p.startswith("-"))
    return pkgs


def install_deps_packages(root):
    text = (root / "scripts/install-deps").read_text()
    body = re.search(r"packages=\((.*?)\)", text, re.S).group(1)
    return set(body.split())


def check_dockerfile(root):
    text = (root / "docker/Dockerfile").read_text()
    stages = dockerfile_stages(text)
    if not check(len(stages) == 2, f"Dockerfile: 2 stages expected, found {len(stages)}"):
        return None
    (build_from, build), (run_from, run) = stages
    check(re.fullmatch(r"FROM debian:12 AS build", build_from), f"build stage: {build_from}")
    check(run_from == "FROM debian:12-slim", f"run stage: {run_from}")
    for ins in build + run:
        m = re.match(r"COPY (?!--from)(.*) (\S+)$", ins)
        if m:
            for src in m.group(1).split():
                check((root / src).exists(), f"Dockerfile copies {src}, which does not exist")
    wanted = {p for p in install_deps_packages(root) if p.endswith("-dev")} - {"libgtest-dev"}
    wanted |= {"build-essential", "cmake", "pkg-config"}
    missing = wanted - apt_packages(build)
    check(not missing, f"build stage lacks build packages of scripts/install-deps: {sorted(missing)}")
    check(not any(p.endswith("-dev") for p in apt_packages(run)), "run stage installs -dev packages")
    check("curl" in apt_packages(run), "run stage: the HEALTHCHECK needs curl")
    users = [ins.split()[1] for ins in run if ins.startswith("USER ")]
    check(users and users[-1] not in ("root", "0"), f"run stage user: {users}")
    health = [ins for ins in run if ins.startswith("HEALTHCHECK ")]
    check(health and "http://127.0.0.1:9121/healthz" in health[0], f"HEALTHCHECK: {health}")
    cmd = [ins for ins in run if ins.startswith("CMD ")]
    m = re.search(r'"--config", "([^"]+)"', cmd[0]) if cmd else None
    check(m, f"CMD names no --config: {cmd}")
    return m.group(1) if m else None


def check_compose(root, binary, image_config):
    compose = yaml.safe_load((root / "docker/compose.yaml").read_text())
    services = compose.get("services", {})
    nodes = [f"redis-{i}" for i in range(1, 7)]
    expected = {"postgres", "cluster-create", "app", "readthru", *nodes}
    check(expected <= services.keys(), f"services missing: {sorted(expected - services.keys())}")
    if problems:
        return

    def mounts(name):
        out = []
        for v in services[name].get("volumes", []):
            host, target = v.split(":")[:2]
            out.append((root / "docker" / host, target))
            check((root / "docker" / host).exists(), f"{name} mounts {host}, which does not exist")
        return out

    pg = services["postgres"]
    check(str(pg.get("image", "")).startswith("postgres:15"), f"postgres image: {pg.get('image')}")
    check("wal_level=logical" in pg.get("command", []), "postgres: wal_level=logical for CDC")
    check(any(h.resolve() == (root / "config/demo-schema.sql").resolve() and
              t.startswith("/docker-entrypoint-initdb.d/") for h, t in mounts("postgres")),
          "postgres does not load config/demo-schema.sql from its init directory")

    for n in nodes:
        cmd = services[n].get("command", [])
        check("--cluster-enabled" in cmd and "yes" in cmd, f"{n} is not a cluster node")
    create = services["cluster-create"]
    check(set(create.get("depends_on", {})) == set(nodes), "cluster-create waits for every node")
    script = " ".join(create.get("command", []))
    check("--cluster-replicas 1" in script and all(n in script or "redis-$$n" in script
                                                   for n in nodes),
          "cluster-create does not make 3 masters with 1 replica each of the six nodes")
    check(create.get("restart") == "no", "cluster-create is a one-shot")

    rt = services["readthru"]
    check(rt.get("network_mode") == "service:app", "readthru is not in the app's network namespace")
    build = rt.get("build", {})
    check((root / "docker" / build.get("context", ".") / build.get("dockerfile", "Dockerfile"))
          .resolve() == (root / "docker/Dockerfile").resolve(), f"readthru build: {build}")
    deps = rt.get("depends_on", {})
    check(deps.get("cluster-create", {}).get("condition") == "service_completed_successfully",
          "readthru starts before the cluster is made")
    check(deps.get("postgres", {}).get("condition") == "service_healthy",
          "readthru starts before postgres is up")
    configs = [h for h, t in mounts("readthru") if t == image_config]
    if not check(configs, f"readthru mounts nothing at the image's --config {image_config}"):
        return
    config = configs[0]
    code, out = check_config(binary, config)
    check(code == 0, f"readthru --check-config {config.name}: exit {code}: {out.strip()}")
    text = yaml.safe_load(config.read_text())
    drain = duration_seconds(text.get("listen", {}).get("drain_timeout", "10s"))
    grace = duration_seconds(rt.get("stop_grace_period", "10s"))
    check(drain is not None and grace is not None and grace > drain,
          f"stop_grace_period {grace}s must exceed listen.drain_timeout {drain}s")
    check_admin(binary, config, text)


def check_admin(binary, config, text):
    """The HEALTHCHECK asks the admin port for /healthz. Once readthru knows `admin:` (the
    metrics module), the compose config must open it on 127.0.0.1:9121."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as probe:
        probe.write(config.read_text() + "\nadmin:\n  address: 127.0.0.1\n  port: 9121\n")
        probe.flush()
        known, _ = check_config(binary, probe.name)
    if known != 0 and "admin" not in text:
        print("check_docker: this readthru has no admin port yet; the HEALTHCHECK waits for it")
        return
    admin = text.get("admin") or {}
    check(str(admin.get("port")) == "9121" and admin.get("address") in ("127.0.0.1", None),
          f"{config.name}: admin must listen on 127.0.0.1:9121 for the HEALTHCHECK, has {admin}")


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    binary = sys.argv[2]
    image_config = check_dockerfile(root)
    if image_config:
        check_compose(root, binary, image_config)
    for p in problems:
        print(f"check_docker: {p}", file=sys.stderr)
    if not problems:
        print("check_docker: ok (files only: no image was built)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
