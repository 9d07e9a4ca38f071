"""Builds the Cython extensions in src/cgsampler/_native against numpy.

Portable flags only (no -march=native): the wheels must run on any x86-64 / aarch64.
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

NATIVE = os.path.join("src", "cgsampler", "_native")


def extension(pyx):
    name = "cgsampler._native." + os.path.splitext(os.path.basename(pyx))[0]
    return Extension(
        name,
        sources=[pyx],
        include_dirs=[numpy.get_include(), "csrc", NATIVE],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O2"],
    )


setup(
    ext_modules=cythonize(
        [extension(p) for p in sorted(glob.glob(os.path.join(NATIVE, "*.pyx")))],
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
