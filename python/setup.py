# setup.py - the Python package heapd: heapd/ and its extension module
# heapd._heapd (src/*.c), which links libheapd.
#
# Run from this directory. The build finds libheapd's headers and library
# where the system has them (Debian: libheapd-dev), or where these say,
# as the project's Makefile and Debian's rules do for the in-tree library:
#   HEAPD_INCLUDE_DIRS  directories with heapd.h, separated by ":"
#   HEAPD_LIBRARY_DIRS  directories with libheapd.so, separated by ":"
#   HEAPD_EXTRA_CFLAGS  more compiler flags, separated by spaces (-Werror)
import os

from setuptools import Extension, setup


def dirs(name):
    return [d for d in os.environ.get(name, "").split(":") if d]


ext = Extension(
    "heapd._heapd",
    sources=["src/module.c", "src/conn.c", "src/introspect.c", "src/pipeline.c", "src/batch.c",
             "src/view.c"],
    depends=["src/heapdpy.h"],
    include_dirs=dirs("HEAPD_INCLUDE_DIRS"),
    library_dirs=dirs("HEAPD_LIBRARY_DIRS"),
    libraries=["heapd"],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    + os.environ.get("HEAPD_EXTRA_CFLAGS", "").split(),
)

setup(
    name="heapd",
    version="0.1.0",
    description="Python binding of libheapd, the client library of heapd",
    packages=["heapd"],
    package_data={"heapd": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.9",
)
