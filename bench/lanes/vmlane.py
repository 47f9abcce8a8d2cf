"""The kernel lane: boot a kernel image in a VM (virtme-ng + qemu) and run
mptcp-bench — or any command — inside it, on the host's files.

This is how MPTCP kernel developers test a kernel change, and how a host
without netem gets it: Debian's linux-image-amd64 has sch_netem as a module.
Here /dev/kvm cannot run a stock kernel, so the guest is emulated (10-20x
slower CPU: numbers from this lane are functional, not performance figures)
unless --kvm is given.  The guest sees the host's filesystem read-only,
except the directories passed as rwdirs, and none of the host's environment:
everything it needs is in the script.
"""
from __future__ import annotations

import base64
import glob
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench.errors import InputError
from harness.errors import CapabilityError
from harness.host import kernelcache
from harness.host.procs import dying_with_parent
from harness.traffic.drivers import TIMEOUT_SCALE_ENV

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LANE_ENV = "MPTCP_BENCH_LANE"
# Set for a run the host re-renders: the guest writes results, the host the
# report (matplotlib under an emulated CPU took 2 min on 6.1, over 15 on 6.12).
REPORT_ON_HOST_ENV = "MPTCP_BENCH_REPORT_ON_HOST"
BOOT_TIMEOUT_S = 60
KILL_AFTER_S = 10         # timeout's SIGKILL this long after its SIGTERM
STATUS_FILE = ".vm-exit-status"
EMULATION_SLOWDOWN = 20   # KERNEL_NOTES measured 10-20x slower CPU without KVM
# virtme-ng passes the guest's script base64-encoded on the kernel command line
# (2048 bytes on x86, its own arguments included): a longer one is cut and the
# guest hangs without a word (seen with Debian 7.2's four package digests).
SCRIPT_MAX = 1600


def check_kernel(image: str) -> None:
    """Refuse a malformed `debian:` name before anything is made."""
    if kernelcache.is_name(image):
        try:
            kernelcache.check_name(image)
        except ValueError as exc:
            raise InputError(str(exc)) from None


def find_kernel(image: str) -> tuple[str, dict | None]:
    """A kernel image path, and what Debian package it came from (None
    unless `image` is a `debian:` name, fetched into the kernel cache)."""
    if kernelcache.is_name(image):
        check_kernel(image)
        kernel = kernelcache.resolve(image, log=lambda line: print(line, file=sys.stderr))
        return kernel.image, {**kernel.record(), "name": image}     # as asked this time
    return find_image(image), None


def find_image(image: str) -> str:
    """A kernel image path; "auto" picks the newest /boot/vmlinuz-*-amd64.
    Not a `debian:` name: find_kernel, the caller, resolves those."""
    if image == "auto":
        found = sorted(glob.glob("/boot/vmlinuz-*"), key=os.path.getmtime)
        if not found:
            raise CapabilityError("no kernel image in /boot for the VM lane; run `make vm-deps` "
                                  "(installs linux-image-amd64) or pass --kernel PATH")
        return found[-1]
    if not os.path.isfile(image):
        raise InputError(f"kernel image {image} does not exist; pass the path of a vmlinuz "
                         "file or --kernel auto")
    return image


def vng_path() -> str:
    """virtme-ng from the venv this runs in, or from PATH."""
    here = Path(sys.executable).parent / "vng"
    found = str(here) if here.exists() else shutil.which("vng")
    if not found or not shutil.which("qemu-system-x86_64"):
        raise CapabilityError("the VM lane needs virtme-ng and qemu; run `make vm-deps` "
                              "(installs qemu-system-x86, linux-image-amd64 and virtme-ng)")
    return found


def boot(image: str, command: list[str], rwdirs: list[Path], timeout_s: float,
         kvm: bool = False, lane: dict | None = None, report_on_host: bool = False) -> int:
    """Run `command` (argv, from the project directory) inside a VM booted
    from `image`; its exit status, or 2 when the VM did not report one."""
    vng = vng_path()
    image, debian = find_kernel(image)
    status = PROJECT_ROOT / STATUS_FILE
    status.unlink(missing_ok=True)
    lane = {"kind": "vm", "image": image, "kvm": kvm, **({"debian": debian} if debian else {}),
            **(lane or {})}
    # Unbuffered: a guest Python's output comes out as it is written, and
    # what it wrote is not lost when the timeout ends the VM.
    script = " && ".join([
        f"cd {shlex.quote(str(PROJECT_ROOT))}",
        f"export {LANE_ENV}={shlex.quote(json.dumps(lane))} PATH=/usr/sbin:/usr/bin:/sbin:/bin "
        f"{TIMEOUT_SCALE_ENV}={1 if kvm else EMULATION_SLOWDOWN} PYTHONUNBUFFERED=1 "
        "MPLCONFIGDIR=/tmp/mpb-matplotlib",     # the guest's home is read-only
        *([f"export {REPORT_ON_HOST_ENV}=1"] if report_on_host else []),
    ]) + f"; {shlex.join(command)}; echo $? > {shlex.quote(str(status))}"
    if len(base64.b64encode(script.encode())) > SCRIPT_MAX:
        raise InputError(f"the command for the VM is {len(script)} bytes; the guest gets it on "
                         "its kernel command line, which holds about 1500: shorten it (or put it "
                         "in a script file and run that)")
    argv = [vng, "--run", image, "--force-9p", "--cpus", str(os.cpu_count() or 2),
            "--memory", "2G", *([] if kvm else ["--disable-kvm"])]
    for d in {PROJECT_ROOT, *map(Path, rwdirs)}:
        argv += ["--rwdir", str(d)]
    argv += ["--exec", script]
    env = {**os.environ, "PATH": f"{Path(vng).parent}:{os.environ.get('PATH', '')}"}
    timeout = ["timeout", f"--kill-after={KILL_AFTER_S}", str(int(timeout_s + BOOT_TIMEOUT_S))]
    try:
        # qemu opens its console files on /proc/self/fd/1 and 2 with O_TRUNC:
        # on our own stdout that would empty the file a caller redirected us
        # to (`make test > ci.log 2>&1`), so the VM writes into a pipe and we
        # copy it out.  Our output so far goes first; if we die, even by
        # SIGKILL, timeout gets SIGTERM and ends the VM's process group.
        sys.stdout.flush()
        sys.stderr.flush()
        proc = subprocess.Popen(dying_with_parent([*timeout, *argv], "TERM"), env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, process_group=0)
        try:
            with proc.stdout:
                _relay(proc.stdout.fileno(), _stdout_fd())
            proc.wait()
        finally:
            if proc.poll() is None:     # interrupted (Ctrl-C): end the group we started
                _end_group(proc)
        return int(status.read_text().strip())
    except (FileNotFoundError, ValueError):
        print(f"error: the VM ({image}) ended without an exit status (boot failure or "
              f"timeout after {timeout_s:.0f} s)", file=sys.stderr)
        return 2
    finally:
        status.unlink(missing_ok=True)


def _stdout_fd() -> int:
    """The descriptor under sys.stdout (1 when sys.stdout has none)."""
    try:
        return sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return 1


def _relay(src: int, dst: int | None) -> None:
    """Copy src to dst until EOF, as the bytes come: no buffering, decoding
    or line splitting.  Once dst is a closed pipe (`| head`), keep reading
    so that the VM never blocks on a full pipe."""
    while chunk := os.read(src, 1 << 16):
        view = memoryview(chunk)
        while view and dst is not None:
            try:
                view = view[os.write(dst, view):]
            except BrokenPipeError:
                dst = None


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group `proc` leads (timeout, vng, qemu: started
    by boot() with process_group=0), then SIGKILL what is left of it."""
    for sig, grace in ((signal.SIGTERM, KILL_AFTER_S + 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def report_on_host() -> bool:
    """Whether this run leaves its report to the host (set by boot())."""
    return os.environ.get(REPORT_ON_HOST_ENV) == "1"


def lane() -> dict | None:
    """The lane this process runs in, as set by boot() (None on the host)."""
    raw = os.environ.get(LANE_ENV)
    return json.loads(raw) if raw else None
