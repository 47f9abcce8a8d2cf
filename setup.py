"""Only the C extension lives here; project metadata is in pyproject.toml.

liburing is optional: when its header and library link, the engine gets
the io_uring send modes (HAVE_LIBURING); without it the build still
succeeds and those modes answer "unsupported: built without liburing".
MPTCP_BENCH_LIBURING=0 builds without it even when it is installed.

The delay line, harness._delayline (harness/csrc/delayline/), is a second module:
it needs libnetfilter_queue and libmnl (Debian: libnetfilter-queue-dev
libmnl-dev).  Without them it is not built, and `bench doctor` says so.

The engine is one module, harness._engine, compiled from every C file in
harness/csrc/ (one concern per file; engine.h is what they share, included
from its own directory, so no -I is needed).  The directory is not named
harness/_engine/: a package of that name would shadow the extension.
"""
import glob
import os
import tempfile

from setuptools import Extension, setup
from setuptools._distutils.ccompiler import new_compiler
from setuptools._distutils.sysconfig import customize_compiler


def links(program: str, libraries: list[str]) -> bool:
    """Whether a small C program compiles and links against libraries."""
    cc = new_compiler()
    customize_compiler(cc)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(program)
        try:
            objs = cc.compile([src], output_dir=tmp)
            cc.link_executable(objs, os.path.join(tmp, "probe"), libraries=libraries)
        except Exception:  # any compile or link failure means: build without it
            return False
    return True


URING = os.environ.get("MPTCP_BENCH_LIBURING", "1") != "0" and links(
    "#include <liburing.h>\nint main(void) { struct io_uring r;"
    " return io_uring_queue_init(1, &r, 0) < 0; }\n", ["uring"])
NFQ_LIBS = ["netfilter_queue", "mnl"]
NFQ = links("#include <libmnl/libmnl.h>\n#include <libnetfilter_queue/libnetfilter_queue.h>\n"
            "int main(void) { char b[64]; return !nfq_nlmsg_put(b, 0, 0) || !mnl_socket_open(12); }\n",
            NFQ_LIBS)
HERE = os.path.dirname(os.path.abspath(__file__))
# Relative to setup.py (as setuptools wants them) and sorted, so that the
# objects are linked in the same order on every machine.
SOURCES = sorted(glob.glob("harness/csrc/engine/*.c", root_dir=HERE))
HEADERS = sorted(glob.glob("harness/csrc/engine/*.h", root_dir=HERE))
if not SOURCES:
    raise SystemExit("setup.py: no engine sources in harness/csrc/engine/")

CFLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]

setup(
    ext_modules=[
        Extension(
            "harness._engine",
            sources=SOURCES,
            depends=HEADERS,  # a changed header recompiles every file
            define_macros=[("HAVE_LIBURING", "1")] if URING else [],
            libraries=["uring"] if URING else [],
            extra_compile_args=CFLAGS,
        )
    ] + ([Extension("harness._delayline", sources=["harness/csrc/delayline/delayline.c"],
                    libraries=NFQ_LIBS, extra_compile_args=CFLAGS)] if NFQ else [])
)
