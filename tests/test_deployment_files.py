"""docker/ read against itself, since no container engine runs where the tests do.

The compose file is parsed with PyYAML, the Dockerfiles line by line, the nginx template and
.dockerignore as text. Each check is a function from the files' texts to a list of problems; the
real files must have none, and every check is also run on a deliberately broken copy (the
``BREAKAGES`` below) to show it can fail.

Secret files (decided here, stated in docs/deployment.md): none is in the repository. Every
``secrets:`` entry's ``file:`` lies under docker/secrets/, which git and the image build both
ignore, and docs/deployment.md says how the operator makes it. Likewise the real ``.env``: what
is committed is ``.env.example`` next to it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml
from django.conf import settings

from tests.test_configuration_doc import code_reads

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
FILES = {
    "compose": DOCKER / "compose.yaml",
    "dockerfile": DOCKER / "Dockerfile",
    "nginx_dockerfile": DOCKER / "nginx" / "Dockerfile",
    "template": DOCKER / "nginx" / "gateway.conf.template",
    "entrypoint": DOCKER / "entrypoint.sh",
    "env_example": DOCKER / ".env.example",
    "dockerignore": ROOT / ".dockerignore",
    "guide": ROOT / "docs" / "deployment.md",
}
SECRETS_DIR = "secrets"  # relative to docker/, where compose.yaml is
APP_DOCKERFILE = "docker/Dockerfile"


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class Dockerfile:
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination)
    runs: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    workdir: str = "/"
    order: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments), in order


def parse_dockerfile(text: str) -> Dockerfile:
    """The instructions this repository uses; continuation lines joined, comments dropped."""
    parsed = Dockerfile()
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    for line in logical:
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        parsed.order.append((instruction, rest))
        if instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                parsed.env[key] = value
        elif instruction == "USER":
            parsed.user = rest.strip()
        elif instruction == "WORKDIR":
            parsed.workdir = rest.strip()
        elif instruction == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            parsed.copies.append((words[:-1], words[-1]))
        elif instruction == "RUN":
            parsed.runs.append(rest)
        elif instruction == "ENTRYPOINT":
            parsed.entrypoint = json.loads(rest)
    return parsed


def created_folders(dockerfile: Dockerfile) -> dict[str, tuple[str, str]]:
    """Folders RUN creates, with (owner, mode): `install -d -o U -m M ...`, or `mkdir` then `chown`/`chmod`."""
    folders: dict[str, tuple[str, str]] = {}
    for run in dockerfile.runs:
        for command in re.split(r"&&|;|\|\|", run):
            words = shlex.split(command)
            if not words:
                continue
            if words[0] == "install" and "-d" in words:
                owner, mode, paths, i = "0", "0755", [], 1
                while i < len(words):
                    if words[i] in ("-o", "--owner"):
                        owner, i = words[i + 1], i + 2
                    elif words[i] in ("-m", "--mode"):
                        mode, i = words[i + 1], i + 2
                    elif words[i] in ("-g", "--group"):
                        i += 2
                    elif words[i].startswith("-"):
                        i += 1
                    else:
                        paths.append(words[i])
                        i += 1
                folders.update({p: (owner, mode) for p in paths})
            elif words[0] == "mkdir":
                folders.update({p: ("0", "0755") for p in words[1:] if not p.startswith("-")})
            elif words[0] == "chown":
                args = [w for w in words[1:] if not w.startswith("-")]
                for p in args[1:]:
                    if p in folders:
                        folders[p] = (args[0].split(":")[0], folders[p][1])
            elif words[0] == "chmod":
                args = [w for w in words[1:] if not w.startswith("-")]
                for p in args[1:]:
                    if p in folders:
                        folders[p] = (folders[p][0], args[0])
    return folders


def app_uid(dockerfile: Dockerfile) -> tuple[str, str]:
    """(uid, gid) the image runs as, from USER and the useradd/groupadd that made it."""
    user, _, group = dockerfile.user.partition(":")
    uid, gid = user, group
    for run in dockerfile.runs:
        for command in re.split(r"&&|;", run):
            words = shlex.split(command)
            if words[:1] == ["useradd"] and words[-1] == user:
                uid = words[words.index("--uid") + 1] if "--uid" in words else uid
                gid = gid or (words[words.index("--gid") + 1] if "--gid" in words else "")
    return uid, gid


def named_group_ids(dockerfile_text: str) -> dict[str, str]:
    """Group name -> gid, for the groups a Dockerfile's RUN lines add."""
    ids = {}
    for run in parse_dockerfile(dockerfile_text).runs:
        for words in (shlex.split(c) for c in re.split(r"&&|;", run)):
            if words[:1] == ["groupadd"] and "--gid" in words:
                ids[words[-1]] = words[words.index("--gid") + 1]
    return ids


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool


def mounts(service: dict) -> list[Mount]:
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            found.append(Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            found.append(Mount(volume["source"], volume["target"], bool(volume.get("read_only"))))
    return found


def service_env(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: str(v) for k, v in environment.items()}


def secret_names(service: dict) -> list[str]:
    return [s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])]


def secret_path(service: dict, name: str) -> str:
    for s in service.get("secrets", []):
        if isinstance(s, dict) and s["source"] == name and s.get("target"):
            target = s["target"]
            return target if target.startswith("/") else f"/run/secrets/{target}"
    return f"/run/secrets/{name}"


def is_app(service: dict) -> bool:
    build = service.get("build") or {}
    return isinstance(build, dict) and build.get("dockerfile") == APP_DOCKERFILE


def dockerignore_patterns(text: str) -> list[tuple[bool, list[str]]]:
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = str(PurePosixPath(line.lstrip("!").strip("/")))
        patterns.append((negated, pattern.split("/")))
    return patterns


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:])


def ignored(path: str, patterns: list[tuple[bool, list[str]]]) -> bool:
    """Docker's rule: a pattern excludes a path when it matches the path or one of its parent
    folders; the last matching pattern wins (``!`` includes again). Rooted at the context."""
    parts = path.split("/")
    excluded = False
    for negated, pattern in patterns:
        if any(_match(pattern, parts[:i]) for i in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def placeholders(template: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", template))


def location_block(template: str, prefix: str) -> str:
    match = re.search(r"location\s+" + re.escape(prefix) + r"\s*\{(.*?)\n    \}", template, re.S)
    return match.group(1) if match else ""


# --- checks -------------------------------------------------------------------------------------


class Files:
    """The deployment files' texts; a check reads them through this so a test can break one."""

    def __init__(self, **overrides: str) -> None:
        self.text = {name: path.read_text() for name, path in FILES.items() if path.exists()}
        self.text.update(overrides)

    @property
    def compose(self) -> dict:
        return yaml.safe_load(self.text["compose"])

    @property
    def dockerfile(self) -> Dockerfile:
        return parse_dockerfile(self.text["dockerfile"])

    def app_services(self) -> dict[str, dict]:
        return {name: s for name, s in self.compose["services"].items() if is_app(s)}


def check_secrets(files: Files) -> list[str]:
    compose = files.compose
    declared = compose.get("secrets", {})
    problems = []
    used = set()
    for name, service in compose["services"].items():
        for secret in secret_names(service):
            used.add(secret)
            if secret not in declared:
                problems.append(f"service {name} uses secret {secret}, which is not declared")
    patterns = dockerignore_patterns(files.text.get("dockerignore", ""))
    for secret, spec in declared.items():
        if secret not in used:
            problems.append(f"secret {secret} is declared but no service uses it")
        path = PurePosixPath(spec.get("file", ""))
        if path.parts[:2] != (".", SECRETS_DIR) and path.parts[:1] != (SECRETS_DIR,):
            problems.append(f"secret {secret}: {path} is not under docker/{SECRETS_DIR}/ (operator-provided)")
            continue
        in_repo = f"docker/{PurePosixPath(*path.parts[1:]) if path.parts[0] == '.' else path}"
        if (ROOT / in_repo).exists() and _tracked(in_repo):
            problems.append(f"secret {secret}: {in_repo} is committed")
        if not _git_ignored(in_repo):
            problems.append(f"secret {secret}: git does not ignore {in_repo}")
        if not ignored(in_repo, patterns):
            problems.append(f"secret {secret}: .dockerignore lets {in_repo} into the image")
        if path.name not in files.text.get("guide", ""):
            problems.append(f"secret {secret}: docs/deployment.md does not say how to make {path.name}")
    return problems


def check_env_files(files: Files) -> list[str]:
    problems = []
    compose = files.compose
    for name, service in compose["services"].items():
        env_files = service.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            env_file = env_file if isinstance(env_file, str) else env_file["path"]
            example = DOCKER / (env_file + ".example")
            if (DOCKER / env_file).exists() and _tracked(f"docker/{env_file}"):
                problems.append(f"service {name}: {env_file} is committed (commit {env_file}.example)")
            elif not example.exists() or "env_example" not in files.text:
                problems.append(f"service {name}: env_file {env_file} has no committed {env_file}.example")
            if not _git_ignored(f"docker/{env_file}"):
                problems.append(f"git does not ignore docker/{env_file}")
    example = dict(
        line.split("=", 1) for line in files.text.get("env_example", "").splitlines() if re.match(r"^[A-Z_]+=", line)
    )
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", files.text["compose"]))
    reads = code_reads()
    for key in example:
        if key not in reads and key.removesuffix("_FILE") not in reads and key not in interpolated:
            problems.append(f".env.example sets {key}, which neither the code nor compose.yaml reads")
    for key in interpolated - set(example):
        problems.append(f"compose.yaml interpolates ${{{key}}}, which .env.example does not name")
    return problems


def check_secret_paths(files: Files) -> list[str]:
    """Every *_FILE variable, and every value naming /run/secrets/, is a secret the service mounts."""
    problems = []
    for name, service in files.compose["services"].items():
        mounted = {secret_path(service, s) for s in secret_names(service)}
        for key, value in service_env(service).items():
            paths = [v for v in value.split(",") if v.startswith("/run/secrets/")]
            if key.endswith("_FILE") or key == "GATEWAY_TRUST_ANCHOR_FILES":
                if not paths or len(paths) != len(value.split(",")):
                    problems.append(f"service {name}: {key}={value} is not a path under /run/secrets/")
            problems += [
                f"service {name}: {key} names {p}, but the service mounts no such secret"
                for p in paths
                if p not in mounted
            ]
    return problems


def _under(path: str, folder: str) -> bool:
    return PurePosixPath(path) == PurePosixPath(folder) or PurePosixPath(folder) in PurePosixPath(path).parents


def state_folders(files: Files, service: dict) -> dict[str, str]:
    """Folder -> what it holds, for an app service: publish and publisher-key folders, and the
    socket's folder when it binds one."""
    env = {**files.dockerfile.env, **service_env(service)}
    folders = {
        env.get("GATEWAY_PUBLISH_DIR", f"{env.get('GATEWAY_VAR_DIR', '')}/publish"): "publish folder",
        env.get("GATEWAY_PUBLISHER_KEY_DIR", f"{env.get('GATEWAY_VAR_DIR', '')}/publisher"): "publisher keys",
    }
    bind = env.get("GUNICORN_BIND", "")
    if bind.startswith("unix:"):
        folders[str(PurePosixPath(bind.removeprefix("unix:")).parent)] = "gunicorn socket"
    return folders


# Who needs which state: the worker publishes and signs; web serves the published index and
# binds the socket nginx reaches (it reads the publish folder and must not hold the key).
NEEDS = {
    "web": {"publish folder": "ro", "gunicorn socket": "rw"},
    "worker": {"publish folder": "rw", "publisher keys": "rw"},
}


def check_state_volumes(files: Files) -> list[str]:
    problems = []
    compose = files.compose
    declared = set(compose.get("volumes") or {})
    dockerfile = files.dockerfile
    uid, _ = app_uid(dockerfile)
    created = created_folders(dockerfile)
    services = files.app_services()
    for role in NEEDS:
        if role not in services:
            problems.append(f"no app service {role} (built from {APP_DOCKERFILE})")
    for name, service in services.items():
        env = {**dockerfile.env, **service_env(service)}
        if "DATABASE_URL" not in env and "DATABASE_URL_FILE" not in env:
            problems.append(f"service {name}: no DATABASE_URL: it would write SQLite into the container")
        service_mounts = mounts(service)
        for folder, what in state_folders(files, service).items():
            mount = next((m for m in service_mounts if _under(folder, m.target)), None)
            need = NEEDS.get(name, {}).get(what)
            if mount is None:
                if need:
                    problems.append(f"service {name}: {what} {folder} is on no volume")
                continue
            if mount.source not in declared:
                problems.append(f"service {name}: {folder} is on {mount.source}, not a named volume")
            if need == "rw" and mount.read_only:
                problems.append(f"service {name}: {what} {folder} is mounted read-only")
            if mount.target not in created or created[mount.target][0] != uid:
                problems.append(f"Dockerfile does not create {mount.target} owned by the app user {uid}")
            if what == "publisher keys" and created.get(mount.target, ("", ""))[1] != "0700":
                problems.append(f"Dockerfile creates the publisher key folder {mount.target} readable by others")
    # Only the services that sign may mount the key volume, at whatever path.
    signers = [n for n, needs in NEEDS.items() if "publisher keys" in needs and n in services]
    key_volumes = {
        m.source
        for n in signers
        for m in mounts(services[n])
        for folder, what in state_folders(files, services[n]).items()
        if what == "publisher keys" and _under(folder, m.target)
    }
    for name, service in compose["services"].items():
        if name not in signers:
            problems += [
                f"service {name} mounts the publisher key volume {m.source} but does not sign"
                for m in mounts(service)
                if m.source in key_volumes
            ]
    return problems


def check_static(files: Files) -> list[str]:
    """nginx sends /static/ to the application, which serves STATIC_ROOT (whitenoise) from the
    image: collectstatic runs after the code is copied, and no volume hides its folder."""
    problems = []
    block = location_block(files.text["template"], "/static/")
    if "proxy_pass http://gateway_app;" not in block:
        problems.append("nginx's /static/ location does not proxy to the application")
    if "whitenoise.middleware.WhiteNoiseMiddleware" not in settings.MIDDLEWARE:
        problems.append("the application does not serve static files (no whitenoise)")
    dockerfile = files.dockerfile
    relative = Path(settings.STATIC_ROOT).relative_to(Path(settings.VAR_DIR))
    static_root = f"{dockerfile.env.get('GATEWAY_VAR_DIR')}/{relative.as_posix()}"
    steps = dockerfile.order
    collects = [i for i, (op, rest) in enumerate(steps) if op == "RUN" and "collectstatic" in rest]
    code = [i for i, (op, rest) in enumerate(steps) if op == "COPY" and rest.split()[-2:] == [".", "."]]
    if not collects:
        problems.append("the Dockerfile does not run collectstatic")
    elif not code or min(collects) < code[0]:
        problems.append("the Dockerfile runs collectstatic before it copies the code")
    for name, service in files.app_services().items():
        for mount in mounts(service):
            if _under(static_root, mount.target):
                problems.append(f"service {name}: volume {mount.source} hides the image's {static_root}")
    return problems


# Paths the image must never contain, whatever exists on the machine that builds it.
NEVER_IN_IMAGE = [
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/django/__init__.py",
    "var/gateway.sqlite3",
    "var/demo/trust-anchor/ta.key",
    "var/demo/XA/auth.pem",
    "var/stack/django-secret",
    "var/publisher/current.key",
    ".git",
    ".git/HEAD",
    "test-output/junit.xml",
    "gateway/__pycache__/settings.cpython-311.pyc",
    "docker/.env",
    "docker/secrets/server.key",
    "docker/secrets/django_secret_key",
    "secrets/trust-anchor.pem",
    "countries/stray-upload.key",
    "docker/nginx/server.pem",
]


def check_dockerignore(files: Files) -> list[str]:
    if "dockerignore" not in files.text:
        return ["there is no .dockerignore: COPY . . copies .venv/, var/ and .git into the image"]
    patterns = dockerignore_patterns(files.text["dockerignore"])
    problems = [f".dockerignore lets {p} into the build context" for p in NEVER_IN_IMAGE if not ignored(p, patterns)]
    # What the image needs: every source COPY names, the entrypoint, and the code of every app.
    needed = {"manage.py", "requirements.txt"}
    dockerfile = files.dockerfile
    for sources, _ in dockerfile.copies:
        needed.update(s for s in sources if s != ".")
    needed.update(e for e in dockerfile.entrypoint[:1] if not e.startswith("/"))
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "scripts"}
    needed.update(f for f in _tracked_files() if f.split("/")[0] in packages and f.endswith(".py"))
    problems += [
        f".dockerignore leaves {p} out of the image, which needs it" for p in sorted(needed) if ignored(p, patterns)
    ]
    return problems


def check_nginx(files: Files) -> list[str]:
    problems = []
    compose = files.compose
    nginx = compose["services"]["nginx"]
    env = service_env(nginx)
    # Every file the nginx service takes from the repository exists.
    for mount in mounts(nginx):
        if mount.source.startswith((".", "/")) and not (DOCKER / mount.source).exists():
            problems.append(f"nginx mounts {mount.source}, which does not exist")
    build = nginx.get("build")
    if build:
        context = DOCKER / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        if not dockerfile.exists():
            problems.append(f"nginx's build names {dockerfile.relative_to(ROOT)}, which does not exist")
        text = files.text["nginx_dockerfile"] if dockerfile == FILES["nginx_dockerfile"] else dockerfile.read_text()
        for sources, _ in parse_dockerfile(text).copies:
            problems += [
                f"nginx's Dockerfile copies {s}, which is not in {context.name}/"
                for s in sources
                if not (context / s).exists()
            ]
        uses_template = any(
            "gateway.conf.template" in s for sources, _ in parse_dockerfile(text).copies for s in sources
        )
    else:
        text, uses_template = "", False
    uses_template = uses_template or any("gateway.conf.template" in m.source for m in mounts(nginx))
    if not uses_template:
        problems.append("nginx does not get docker/nginx/gateway.conf.template")
    # Every placeholder is filled, and envsubst is allowed to fill it.
    allowed = re.fullmatch(r"\^\((.*)\)\$", env.get("NGINX_ENVSUBST_FILTER", ""))
    allowed_names = set(allowed.group(1).split("|")) if allowed else set()
    for name in sorted(placeholders(files.text["template"])):
        if name not in env:
            problems.append(f"the template's ${{{name}}} is not in nginx's environment")
        if name not in allowed_names:
            problems.append(f"NGINX_ENVSUBST_FILTER does not let envsubst fill ${{{name}}}")
    # nginx reaches the socket: the same volume as web, and its workers are in the socket's group.
    upstream = env.get("UPSTREAM", "")
    web = compose["services"].get("web", {})
    socket_folder = str(PurePosixPath(upstream.removeprefix("unix:")).parent)
    web_bind = service_env(web).get("GUNICORN_BIND", "")
    if upstream != web_bind:
        problems.append(f"nginx's UPSTREAM {upstream} is not web's GUNICORN_BIND {web_bind}")
    web_volume = next((m.source for m in mounts(web) if _under(socket_folder, m.target)), None)
    nginx_volume = next((m.source for m in mounts(nginx) if _under(socket_folder, m.target)), None)
    if web_volume is None or web_volume != nginx_volume:
        problems.append(f"nginx and web do not share the socket folder {socket_folder} on one volume")
    if "--umask 0o007" not in files.text["entrypoint"]:
        problems.append("gunicorn's socket is not mode 0660 (--umask 0o007)")
    _, gid = app_uid(files.dockerfile)
    if named_group_ids(text).get("gateway") != gid or not re.search(r"usermod .*--groups gateway nginx", text):
        problems.append(f"nginx's workers are not in the app's group {gid}: they cannot open the 0660 socket")
    # nginx serves the published files from the publish volume the worker writes.
    publish = env.get("PUBLISH_DIR", "")
    worker = compose["services"].get("worker", {})
    nginx_publish = next((m.source for m in mounts(nginx) if _under(publish, m.target)), None)
    worker_publish = next(
        (m.source for m in mounts(worker) if _under(state_folders_publish(files, worker), m.target)), None
    )
    if nginx_publish is None or nginx_publish != worker_publish:
        problems.append(f"nginx's PUBLISH_DIR {publish} is not on the volume the worker publishes to")
    return problems


def state_folders_publish(files: Files, service: dict) -> str:
    return next(f for f, what in state_folders(files, service).items() if what == "publish folder")


def check_image(files: Files) -> list[str]:
    problems = []
    dockerfile = files.dockerfile
    uid, gid = app_uid(dockerfile)
    if not uid.isdigit() or uid == "0":
        problems.append(f"the image runs as {dockerfile.user or 'root'}, not a numeric unprivileged user")
    if gid != uid or named_group_ids(files.text["dockerfile"]).get("gateway") != gid:
        problems.append(f"the app's group gateway is not gid {uid} (USER's), the group nginx's image joins")
    if any(
        line.startswith("COPY") and "--chown" in line and " . " in line
        for line in files.text["dockerfile"].splitlines()
    ):
        problems.append("the code is copied owned by the app user: it could change what it runs")
    for service in files.app_services().values():
        build = service["build"]
        if not (DOCKER / build["context"] / build["dockerfile"]).exists():
            problems.append(f"{build['dockerfile']} does not exist")
    entrypoint = dockerfile.entrypoint[0] if dockerfile.entrypoint else ""
    if not (ROOT / entrypoint).exists():
        problems.append(f"ENTRYPOINT {entrypoint} does not exist")
    elif _tracked_mode(entrypoint) != "100755":
        problems.append(f"ENTRYPOINT {entrypoint} is not executable in git")
    for command in ("web", "worker", "beat"):
        if not re.search(rf"^\s*{command}\)", files.text["entrypoint"], re.M):
            problems.append(f"entrypoint.sh has no {command} command")
    return problems


CHECKS = [
    check_secrets,
    check_env_files,
    check_secret_paths,
    check_state_volumes,
    check_static,
    check_dockerignore,
    check_nginx,
    check_image,
]


# --- git ----------------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)


def _git_ignored(path: str) -> bool:
    return _git("check-ignore", "-q", "--no-index", path).returncode == 0


def _tracked(path: str) -> bool:
    return bool(_git("ls-files", "--", path).stdout.strip())


def _tracked_mode(path: str) -> str:
    listing = _git("ls-files", "-s", "--", path).stdout.split()
    return listing[0] if listing else ""


_TRACKED: list[str] = []


def _tracked_files() -> list[str]:
    if not _TRACKED:
        _TRACKED.extend(_git("ls-files").stdout.splitlines())
    return _TRACKED


# --- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_deployment_files_are_consistent(check):
    assert _tracked_files(), "these checks need a git checkout"
    problems = check(Files())
    assert not problems, "\n".join(problems)


def _replace(name: str, old: str, new: str) -> dict[str, str]:
    text = FILES[name].read_text()
    assert old in text, f"the breakage no longer applies: {old!r} is not in {name}"
    return {name: text.replace(old, new, 1)}


# (check, file, text, replacement, a word of the expected problem): each breaks one thing.
BREAKAGES = [
    (
        check_secrets,
        "compose",
        "secrets: [server_cert, server_key]",
        "secrets: [server_cert, server_key, tls_ca]",
        "tls_ca",
    ),
    (check_secrets, "compose", "{file: ./secrets/server.key}", "{file: ./server.key}", "operator-provided"),
    (check_secrets, "compose", "{file: ./secrets/trust-anchor.pem}", "{file: ./secrets/anchor.crt}", "deployment.md"),
    (check_secrets, "dockerignore", "docker/secrets\n", "", ".dockerignore"),
    (check_env_files, "compose", "env_file: .env", "env_file: production.env", "production.env.example"),
    (
        check_env_files,
        "env_example",
        "GATEWAY_SECURE_COOKIES=true",
        "GATEWAY_SECURE_COOKIE=true",
        "GATEWAY_SECURE_COOKIE",
    ),
    (check_env_files, "compose", "${GATEWAY_OPS_NETWORK:?", "${GATEWAY_METRICS_NETWORK:?", "GATEWAY_METRICS_NETWORK"),
    (
        check_secret_paths,
        "compose",
        "secrets: [django_secret_key, database_url, trust_anchor]",
        "secrets: [django_secret_key, database_url]",
        "trust_anchor",
    ),
    (
        check_secret_paths,
        "compose",
        "DATABASE_URL_FILE: /run/secrets/database_url",
        "DATABASE_URL_FILE: /etc/gateway/database_url",
        "DATABASE_URL_FILE",
    ),
    (
        check_secret_paths,
        "compose",
        "SERVER_KEY: /run/secrets/server_key",
        "SERVER_KEY: /run/secrets/tls_key",
        "tls_key",
    ),
    (check_state_volumes, "compose", "publisher:/var/lib/gateway/publisher]", "]", "publisher keys"),
    (
        check_state_volumes,
        "compose",
        "[publish:/var/lib/gateway/publish, publisher",
        "[./publish:/var/lib/gateway/publish, publisher",
        "named volume",
    ),
    (
        check_state_volumes,
        "compose",
        "[publish:/var/lib/gateway/publish, publisher",
        "[publish:/var/lib/gateway/publish:ro, publisher",
        "read-only",
    ),
    (
        check_state_volumes,
        "compose",
        "volumes: [socket:/run/gateway, publish:/var/lib/gateway/publish:ro]\n  worker",
        "volumes: [publish:/var/lib/gateway/publish:ro]\n  worker",
        "socket",
    ),
    (
        check_state_volumes,
        "compose",
        "volumes: [socket:/run/gateway, publish:/var/lib/gateway/publish:ro]\n  worker",
        "volumes: [socket:/run/gateway, publish:/var/lib/gateway/publish:ro, publisher:/srv/keys]\n  worker",
        "does not sign",
    ),
    (
        check_state_volumes,
        "dockerfile",
        "install -d -o 10001 -g 10001 -m 0755 /var/lib/gateway /var/lib/gateway/publish /run/gateway",
        "install -d -o 10001 -g 10001 -m 0755 /var/lib/gateway /var/lib/gateway/publish",
        "/run/gateway owned",
    ),
    (
        check_state_volumes,
        "dockerfile",
        "-m 0700 /var/lib/gateway/publisher",
        "-m 0755 /var/lib/gateway/publisher",
        "readable by others",
    ),
    (
        check_state_volumes,
        "dockerfile",
        "install -d -o 10001 -g 10001 -m 0700",
        "install -d -m 0700",
        "owned by the app user",
    ),
    (check_state_volumes, "compose", "    DATABASE_URL_FILE: /run/secrets/database_url\n", "", "SQLite"),
    (
        check_static,
        "template",
        "location /static/ {\n        proxy_pass http://gateway_app;",
        "location /static/ {\n        alias /var/lib/gateway/static/;",
        "proxy",
    ),
    (
        check_static,
        "dockerfile",
        "RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic",
        "RUN DJANGO_SECRET_KEY=build-only python manage.py check",
        "collectstatic",
    ),
    (
        check_static,
        "dockerfile",
        "COPY requirements.txt .",
        "RUN python manage.py collectstatic\nCOPY requirements.txt .",
        "before it copies the code",
    ),
    (
        check_static,
        "compose",
        "volumes: [publish:/var/lib/gateway/publish, publisher",
        "volumes: [state:/var/lib/gateway, publish:/var/lib/gateway/publish, publisher",
        "hides",
    ),
    (check_dockerignore, "dockerignore", "\nvar\n", "\n", "var/"),
    (check_dockerignore, "dockerignore", "\n.venv\n", "\n", ".venv/"),
    (check_dockerignore, "dockerignore", "\n.git\n", "\n", ".git"),
    (check_dockerignore, "dockerignore", "**/__pycache__\n**/*.pyc\n", "__pycache__\n*.pyc\n", "__pycache__"),
    (check_dockerignore, "dockerignore", "**/*.key", "*.key", "stray-upload.key"),
    (check_dockerignore, "dockerignore", "\n.ci\n", "\n.ci\ndocker\n", "entrypoint.sh"),
    (check_dockerignore, "dockerignore", "\n.ci\n", "\n.ci\n**/publication\n", "publication/"),
    (
        check_nginx,
        "compose",
        "UPSTREAM: unix:/run/gateway/gunicorn.sock",
        "UPSTREAM: unix:/run/nginx/gunicorn.sock",
        "UPSTREAM",
    ),
    (check_nginx, "compose", "      MAX_BODY: 64k\n", "", "MAX_BODY"),
    (check_nginx, "compose", "|MAX_BODY|", "|", "NGINX_ENVSUBST_FILTER"),
    (
        check_nginx,
        "compose",
        "volumes: [socket:/run/gateway, publish:/var/lib/gateway/publish:ro]\n    secrets",
        "volumes: [publish:/var/lib/gateway/publish:ro]\n    secrets",
        "socket folder",
    ),
    (check_nginx, "compose", "PUBLISH_DIR: /var/lib/gateway/publish", "PUBLISH_DIR: /srv/publish", "PUBLISH_DIR"),
    (check_nginx, "nginx_dockerfile", "usermod --append --groups gateway nginx", "true", "0660"),
    (check_nginx, "nginx_dockerfile", "COPY gateway.conf.template", "COPY gateway.conf", "gateway.conf"),
    (check_nginx, "entrypoint", "--umask 0o007", "--umask 0o077", "0660"),
    (check_image, "dockerfile", "USER 10001:10001", "USER root", "root"),
    (check_image, "dockerfile", "--gid 10001 gateway \\", "--gid 10002 gateway \\", "10001"),
    (check_image, "dockerfile", "COPY . .", "COPY --chown=10001 . .", "change what it runs"),
    (check_image, "dockerfile", 'ENTRYPOINT ["docker/entrypoint.sh"]', 'ENTRYPOINT ["docker/start.sh"]', "start.sh"),
]


@pytest.mark.parametrize(("check", "name", "old", "new", "expected"), BREAKAGES)
def test_each_check_fails_on_a_broken_file(check, name, old, new, expected):
    problems = check(Files(**_replace(name, old, new)))
    assert any(expected in p for p in problems), f"{check.__name__} missed it: {problems}"


def test_a_missing_dockerignore_is_reported():
    files = Files()
    del files.text["dockerignore"]
    assert check_dockerignore(files) == [
        "there is no .dockerignore: COPY . . copies .venv/, var/ and .git into the image"
    ]


def test_dockerignore_matching_follows_docker():
    patterns = dockerignore_patterns("var\n**/*.pyc\n*.md\n!README.md\n/build/\n")
    assert ignored("var/demo/ta.key", patterns)  # a folder pattern covers what is inside
    assert ignored("gateway/x/y.pyc", patterns)
    assert ignored("y.pyc", patterns)
    assert ignored("CHANGES.md", patterns)
    assert not ignored("README.md", patterns)
    assert not ignored("docs/api.md", patterns)  # no implicit ** as in .gitignore
    assert ignored("build/lib/x.py", patterns)
    assert not ignored("gateway/build.py", patterns)
