"""The hosts inventory: TOML, validated like scenarios (bench.catalog).

    [hosts.laptop]
    role = "client"
    ssh = { host = "192.0.2.10", user = "root", key = "~/.ssh/id_ed25519" }

    [hosts.server]
    role = "server"
    ssh = { host = "203.0.113.5", jump = "me@bastion.example:22" }

    [[paths]]
    client_interface = "wlan0"
    client_address = "192.0.2.23"
    server_address = "203.0.113.5"

Every error names the file, the host or path, and the key, in one sentence.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench import names, tomlfile
from bench.errors import InputError
from harness.net import addressing

IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,14}")   # IFNAMSIZ - 1
HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9._:-]{0,252})")
JUMP = re.compile(r"(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._:-]+?)(?::(?P<port>\d+))?")
DEFAULT_INSTALL_DIR = "~/.cache/mptcp-bench"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Ssh(_Model):
    host: str
    user: str = "root"
    port: int = Field(22, ge=1, le=65535)
    key: str | None = None            # private key file; None: the agent's and ~/.ssh's
    known_hosts: str | None = None    # None: ~/.ssh/known_hosts
    jump: str | None = None           # [user@]host[:port], reached first
    connect_timeout_s: float = Field(10, gt=0, le=300)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not HOSTNAME.fullmatch(v):
            raise ValueError(f"{v!r} is not a host name or address")
        return v

    @field_validator("jump")
    @classmethod
    def _jump(cls, v: str | None) -> str | None:
        if v is not None and not JUMP.fullmatch(v):
            raise ValueError(f"{v!r} is not [user@]host[:port]")
        return v

    def jump_parts(self) -> tuple[str | None, str, int] | None:
        if self.jump is None:
            return None
        m = JUMP.fullmatch(self.jump)
        return m["user"], m["host"], int(m["port"] or 22)

    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}" + (f" via {self.jump}" if self.jump else "")


class Host(_Model):
    name: str = ""
    role: Literal["client", "server", "router"]
    ssh: Ssh
    install_dir: str = DEFAULT_INSTALL_DIR   # versioned installs go under it
    python: str = "python3"                   # the host's interpreter for the worker's venv
    configurable: bool = False   # link shaping may be applied here (a router host)

    @field_validator("install_dir")
    @classmethod
    def _dir(cls, v: str) -> str:
        if not (v.startswith("/") or v.startswith("~/")) or ".." in v.split("/") or "'" in v:
            raise ValueError(f"{v!r} must be an absolute path or start with ~/, without '..'")
        return v.rstrip("/")


class PathDef(_Model):
    client_address: str
    server_address: str
    client_interface: str | None = None
    server_interface: str | None = None
    # A configurable router's egress toward the server (client -> server
    # traffic is shaped there) and toward the client (server -> client).
    router_up_interface: str | None = None
    router_down_interface: str | None = None

    @field_validator("client_address", "server_address")
    @classmethod
    def _address(cls, v: str) -> str:
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise ValueError(f"{v!r} is not an IPv4 or IPv6 address") from None

    @field_validator("client_interface", "server_interface", "router_up_interface",
                     "router_down_interface")
    @classmethod
    def _ifname(cls, v: str | None) -> str | None:
        if v is not None and not IFNAME.fullmatch(v):
            raise ValueError(f"{v!r} is not an interface name")
        return v

    @model_validator(mode="after")
    def _one_family(self) -> "PathDef":
        if self.family_of(self.client_address) != self.family_of(self.server_address):
            raise ValueError("client_address and server_address must be of one address family")
        return self

    @staticmethod
    def family_of(address: str) -> int:
        return ipaddress.ip_address(address).version

    @property
    def family(self) -> int:
        return self.family_of(self.client_address)


class Inventory(_Model):
    hosts: dict[str, Host]
    paths: tuple[PathDef, ...] = Field(min_length=1, max_length=addressing.MAX_LINKS)

    @model_validator(mode="after")
    def _roles(self) -> "Inventory":
        for role in ("client", "server"):
            named = [n for n, h in self.hosts.items() if h.role == role]
            if len(named) != 1:
                raise ValueError(f"the inventory needs exactly one host with role = \"{role}\", "
                                 f"not {len(named)}")
        if sum(h.role == "router" for h in self.hosts.values()) > 1:
            raise ValueError("at most one host may have role = \"router\"")
        if len({p.family for p in self.paths}) > 1:
            raise ValueError("all paths must be of one address family")
        for h in self.hosts.values():
            if h.configurable and h.role != "router":
                raise ValueError(f"host {h.name!r}: only a router may be configurable (shaping on "
                                 "an endpoint pushes back into its own TCP stack)")
        if self.shaping_host():
            for i, p in enumerate(self.paths):
                if not (p.router_up_interface and p.router_down_interface):
                    raise ValueError(f"paths[{i}] needs router_up_interface and "
                                     "router_down_interface: the router is configurable")
        return self

    def host(self, role: str) -> Host | None:
        return next((h for h in self.hosts.values() if h.role == role), None)

    @property
    def family(self) -> int:
        return self.paths[0].family

    def shaping_host(self) -> Host | None:
        """The host that may be configured to shape the paths, if any."""
        return next((h for h in self.hosts.values() if h.configurable), None)


def load(path: Path) -> Inventory:
    """The inventory in `path`, or InputError in one sentence."""
    data = tomlfile.read(path, "inventory")
    hosts = data.get("hosts")
    if not isinstance(hosts, dict) or not hosts:
        raise InputError(f"{path}: no [hosts.<name>] table; an inventory names a client and "
                         "a server host (docs/hosts.md)")
    for name, table in hosts.items():
        names.check("host", name, f"{path}: ")
        if not isinstance(table, dict):
            raise InputError(f"{path}: host {name!r} must be a table")
        try:
            Host.model_validate({**table, "name": name})
        except ValidationError as exc:
            raise InputError(f"{path}: host {name!r}: {tomlfile.sentence(exc)}") from None
    try:
        return Inventory.model_validate({**data, "hosts": {n: {**t, "name": n}
                                                           for n, t in hosts.items()}})
    except ValidationError as exc:
        raise InputError(f"{path}: {tomlfile.sentence(exc)}") from None
