"""Debian kernels by name (`debian:6.1`, `debian:6.12`, `debian:unstable`,
`debian:<package version>`), fetched from Debian's archive into a cache of
our own and unpacked there: never installed on the host.

apt does the fetching with its own sources, lists and archives under the
cache (the host's /etc/apt, /var/lib/apt, /var/cache/apt and dpkg status are
neither read for sources nor written): the suites' InRelease files are
verified against Debian's archive keyring, the packages against the signed
indexes, and we check each .deb's SHA256 against the index once more before
unpacking it with dpkg-deb.  An entry is a directory named for the package
version, holding the unpacked root (boot/ or usr/lib/modules/<release>/
vmlinuz, and the modules) and kernel.json, what was fetched.  virtme-ng boots
the image and links the modules beside it.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import CapabilityError, HarnessError

CACHE_ENV = "MPTCP_BENCH_KERNEL_CACHE"
# Not under /var/cache: virtme-ng hides that behind a tmpfs in the guest, where
# the kernel's modules are read from this cache.
DEFAULT_CACHE = Path("/var/lib/mptcp-bench/kernels")
MIRROR_ENV = "MPTCP_BENCH_DEBIAN_MIRROR"
MIRROR = "http://deb.debian.org"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
PREFIX = "debian:"
META = "kernel.json"
# (archive path, suite) pairs the cache's apt reads, and which of them a name means.
SOURCES = (("debian", "bookworm"), ("debian-security", "bookworm-security"),
           ("debian", "bookworm-backports"), ("debian", "unstable"))
SUITES = {"6.1": ("bookworm", "bookworm-security"), "6.12": ("bookworm-backports",),
          "unstable": ("unstable",)}
META_PACKAGE = "linux-image-amd64"
# Since 7.x Debian splits the image package into the kernel (binary), its modules,
# and base (System.map, config, modules.builtin and .order: without them depmod
# indexes no built-in module, and the guest hangs on its first modprobe).
PARTS = re.compile(r"^linux-(image|binary|modules|base)-(?P<release>\S+)$")
VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
APT_TIMEOUT_S = 600
FATAL_WARNINGS = ("Failed to fetch", "GPG error", "index files failed", "not signed",
                  "NO_PUBKEY", "EXPKEYSIG", "is not valid yet", "is expired")


class KernelFetchError(CapabilityError):
    """A kernel that could not be fetched: the sentence says why and what to do."""


@dataclass
class Kernel:
    name: str                 # what was asked: debian:6.12
    package: str              # linux-image-6.12.95+deb12-amd64
    version: str              # 6.12.95-1~bpo12+1
    suite: str                # bookworm-backports
    release: str              # uname -r: 6.12.95+deb12-amd64
    image: str                # the vmlinuz to boot (in kernel.json: relative to the entry)
    debs: list[dict] = field(default_factory=list)   # name, version, sha256, size
    fetched: str = ""

    def record(self) -> dict:
        """What a run's metadata keeps (metadata.lane.debian).  Compact: the
        lane reaches the guest on the kernel's command line (2048 bytes on
        x86); the packages' digests stay in the cache entry's kernel.json."""
        return {"name": self.name, "package": self.package, "version": self.version,
                "suite": self.suite, "release": self.release,
                "packages": [d["name"] for d in self.debs]}


def is_name(spec: str) -> bool:
    return spec.startswith(PREFIX)


def check_name(spec: str) -> str:
    """The part after `debian:`, or InputError-like ValueError naming the forms."""
    what = spec[len(PREFIX):]
    if what in SUITES or VERSION.match(what):
        return what
    raise ValueError(f"--kernel {spec}: not a Debian kernel name; give debian:6.1, debian:6.12, "
                     "debian:unstable or debian:<package version> (e.g. debian:6.1.192-3)")


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def cached(root: Path | None = None) -> list[Kernel]:
    """The cache's kernels, oldest fetch first."""
    root = root or cache_dir()
    out = []
    for meta in sorted(root.glob(f"*/{META}")):
        if meta.parent.name.startswith("."):      # a fetch under way, or one killed
            continue
        try:
            kernel = Kernel(**json.loads(meta.read_text()))
            kernel.image = str(meta.parent / kernel.image)     # kept relative to its entry
            out.append(kernel)
        except (OSError, ValueError, TypeError):
            continue       # a foreign or damaged entry: `bench clean --kernels` removes it
    return sorted(out, key=lambda k: k.fetched)


def clear(root: Path | None = None) -> int:
    """Empty the cache; the bytes freed."""
    root = root or cache_dir()
    if not root.is_dir():
        return 0
    with _locked(root):
        freed = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
        for entry in root.iterdir():
            if entry.name == ".lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    return freed


def resolve(spec: str, root: Path | None = None, log=print) -> Kernel:
    """The kernel `spec` names, from the cache or fetched into it.  A suite
    name always asks the archive for its newest kernel (a few seconds); when
    the archive cannot be reached, the newest cached kernel of that suite is
    used and said so."""
    what = check_name(spec)
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        have = cached(root)
        if what not in SUITES:
            hit = [k for k in have if k.version == what]
            if hit:
                return hit[-1]
        apt = _Apt(root)
        try:
            apt.update()
        except KernelFetchError:
            hit = [k for k in have if k.suite in SUITES.get(what, ())]
            if not hit:
                raise
            log(f"{spec}: Debian's archive cannot be reached; using the cached {hit[-1].version}")
            return hit[-1]
        version, suite = apt.pick(what)
        hit = [k for k in have if k.version == version]
        if hit:
            return hit[-1]
        log(f"{spec}: fetching {META_PACKAGE} {version} ({suite}) from Debian's archive")
        return _fetch(apt, root, spec, version, suite)


def _fetch(apt: _Apt, root: Path, spec: str, version: str, suite: str) -> Kernel:
    image_pkg = _image_package(apt.show(META_PACKAGE, version))
    release = PARTS.match(image_pkg).group("release")
    fields = apt.show(image_pkg, version)
    parts = [image_pkg] + [d for d in _depends(fields) if PARTS.match(d) and d.endswith(release)]
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        debs = []
        for name in dict.fromkeys(parts):
            info = apt.show(name, version)
            deb = apt.download(name, version, tmp)
            digest = _sha256(deb)
            if digest != info.get("SHA256"):
                raise KernelFetchError(f"{deb.name}: SHA256 {digest} is not the archive's "
                                       f"{info.get('SHA256')}; run `python -m bench clean "
                                       "--kernels` and try again")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True,
                           capture_output=True, timeout=APT_TIMEOUT_S)
            debs.append({"name": name, "version": version, "sha256": digest,
                         "size": deb.stat().st_size})
            deb.unlink()
        image = _find_image(tmp / "root", release)
        entry = root / version.replace(":", "_")
        kernel = Kernel(name=spec, package=image_pkg, version=version, suite=suite,
                        release=release, image=str(image.relative_to(tmp)), debs=debs,
                        fetched=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / META).write_text(json.dumps(asdict(kernel), indent=1) + "\n")
        tmp.chmod(0o755)        # mkdtemp made it private; the guest and users read it
        if entry.exists():
            shutil.rmtree(entry)
        tmp.rename(entry)
        kernel.image = str(entry / kernel.image)
        return kernel
    except subprocess.CalledProcessError as exc:
        raise KernelFetchError(f"dpkg-deb could not unpack {exc.cmd[2]}: "
                               f"{_last_line(exc.stderr)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _find_image(unpacked: Path, release: str) -> Path:
    for candidate in (unpacked / "boot" / f"vmlinuz-{release}",
                      unpacked / "usr" / "lib" / "modules" / release / "vmlinuz",
                      unpacked / "lib" / "modules" / release / "vmlinuz"):
        if candidate.is_file():
            return candidate
    raise KernelFetchError(f"the packages of {release} hold no vmlinuz where Debian puts it "
                           "(boot/ or usr/lib/modules/<release>/); this package layout is new")


def _image_package(fields: dict) -> str:
    for dep in _depends(fields):
        m = PARTS.match(dep)
        if m and m.group(1) == "image":
            return dep
    raise KernelFetchError(f"{META_PACKAGE} {fields.get('Version')} depends on no "
                           "linux-image-<release> package; this archive's layout is new")


def _depends(fields: dict) -> list[str]:
    """Package names in Depends (alternatives and version constraints dropped)."""
    out = []
    for item in fields.get("Depends", "").split(","):
        first = item.split("|")[0].strip()
        if first:
            out.append(first.split()[0].split(":")[0])
    return out


def parse_control(text: str) -> list[dict]:
    """apt-cache show's records: one dict of fields per package version."""
    records, current, key = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                records.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.strip()
    if current:
        records.append(current)
    return records


def parse_madison(text: str) -> list[tuple[str, str]]:
    """apt-cache madison's lines: (version, suite) pairs."""
    out = []
    for line in text.splitlines():
        cols = [c.strip() for c in line.split("|")]
        if len(cols) >= 3:
            where = cols[2].split()
            if len(where) >= 2:
                out.append((cols[1], where[1].split("/")[0]))
    return out


def newest(candidates: list[tuple[str, str]], suites: tuple[str, ...]) -> tuple[str, str] | None:
    mine = [c for c in candidates if c[1] in suites]
    if not mine:
        return None
    return max(mine, key=functools.cmp_to_key(lambda a, b: _compare(a[0], b[0])))


def _compare(a: str, b: str) -> int:
    if a == b:
        return 0
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
    return -1 if lt else 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _last_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


@contextmanager
def _locked(root: Path):
    """One fetcher at a time per cache (two runs may start together)."""
    with open(root / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Apt:
    """apt-get and apt-cache on the cache's own sources, lists and archives."""

    def __init__(self, root: Path):
        self.dir = root / ".apt"
        for sub in ("lists/partial", "archives/partial", "etc/parts", "etc/trusted.d"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "status").touch()
        mirror = os.environ.get(MIRROR_ENV, MIRROR).rstrip("/")
        if not KEYRING.is_file():
            raise KernelFetchError(f"{KEYRING} is missing: install debian-archive-keyring "
                                   "(`apt-get install debian-archive-keyring`)")
        (self.dir / "etc" / "sources.list").write_text("".join(
            f"deb [signed-by={KEYRING}] {mirror}/{path} {suite} main\n" for path, suite in SOURCES))
        d = self.dir
        self.options = [
            f"-oDir::State={d}", f"-oDir::State::Lists={d}/lists", f"-oDir::State::status={d}/status",
            f"-oDir::Cache={d}", f"-oDir::Cache::Archives={d}/archives",
            f"-oDir::Etc::SourceList={d}/etc/sources.list", f"-oDir::Etc::SourceParts={d}/etc/parts",
            f"-oDir::Etc::Preferences={d}/etc/preferences",
            f"-oDir::Etc::PreferencesParts={d}/etc/parts",
            f"-oDir::Etc::Trusted={d}/etc/trusted.gpg", f"-oDir::Etc::TrustedParts={d}/etc/trusted.d",
            "-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", "-oAcquire::Languages=none",
            "-oAPT::Sandbox::User=root", "-oAcquire::AllowInsecureRepositories=false",
            "-oAPT::Get::AllowUnauthenticated=false", "-oAcquire::Check-Valid-Until=true",
        ]
        self._candidates: list[tuple[str, str]] | None = None

    def _run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        try:
            p = subprocess.run([tool, *self.options, *args], capture_output=True, text=True,
                               cwd=cwd, timeout=APT_TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})
        except FileNotFoundError:
            raise KernelFetchError(f"{tool} is missing: Debian kernels are fetched with apt") from None
        except subprocess.TimeoutExpired:
            raise KernelFetchError(f"{tool} {args[0]} took over {APT_TIMEOUT_S} s; check the "
                                   f"connection to {MIRROR}") from None
        # apt-get update exits 0 when a suite could not be fetched or verified: its
        # warnings say so, and an index it could not verify must not be used.
        errors = [line for line in p.stderr.splitlines() if line.startswith("E:")
                  or (line.startswith("W:") and any(w in line for w in FATAL_WARNINGS))]
        if p.returncode or errors:
            raise KernelFetchError(f"{tool} {args[0]} failed against Debian's archive: "
                                   f"{_last_line(chr(10).join(errors) or p.stderr)}")
        return p.stdout

    def update(self) -> None:
        self._run("apt-get", "update")

    def pick(self, what: str) -> tuple[str, str]:
        """(version, suite) of the linux-image-amd64 that `what` names."""
        if self._candidates is None:
            self._candidates = parse_madison(self._run("apt-cache", "madison", META_PACKAGE))
        if what in SUITES:
            found = newest(self._candidates, SUITES[what])
            if found:
                return found
            raise KernelFetchError(f"debian:{what}: the archive lists no {META_PACKAGE} in "
                                   f"{', '.join(SUITES[what])}")
        for version, suite in self._candidates:
            if version == what:
                return version, suite
        known = ", ".join(v for v, _ in self._candidates)
        raise KernelFetchError(f"debian:{what}: no {META_PACKAGE} of that version in the "
                               f"archive's suites (it has {known}); give one of those")

    def show(self, package: str, version: str) -> dict:
        records = parse_control(self._run("apt-cache", "show", f"{package}={version}"))
        if not records:
            raise KernelFetchError(f"the archive has no {package} {version}")
        return records[0]

    def download(self, package: str, version: str, into: Path) -> Path:
        self._run("apt-get", "download", f"{package}={version}", cwd=into)
        found = [p for p in into.glob(f"{package}_*.deb")]
        if len(found) != 1:
            raise HarnessError(f"apt-get download {package}={version} left {len(found)} files")
        return found[0]
