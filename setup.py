"""Package metadata for symnn; tool settings live in pyproject.toml."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "symnn" / "_version.py").read_text()).group(1)

setup(
    name="symnn",
    version=VERSION,
    description="Symmetries and physics built into PyTorch networks, with a zoo that measures what each bias buys",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["symnn", "symnn.*", "zoo", "zoo.*"]),
    package_data={"symnn": ["py.typed"]},
    install_requires=[
        "torch>=2.2",
        "e3nn>=0.5",
        "numpy>=1.24",
        "sympy>=1.12",
        "matplotlib>=3.7",
        "tqdm>=4.60",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        "docs": ["sphinx>=7"],
        "dev": ["pytest>=7", "hypothesis>=6", "sphinx>=7", "ruff==0.17.6"],
    },
    entry_points={"console_scripts": ["symnn-zoo=zoo.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Physics",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
