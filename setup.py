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
    # The zoo's folder is zoo/; it installs as symnn_zoo, a name no other project can collide with.
    packages=[*find_packages(include=["symnn", "symnn.*"]), "symnn_zoo"],
    package_dir={"symnn_zoo": "zoo"},
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
        # sphinx-mathjax-offline ships MathJax's files: the docs render maths offline.
        "docs": ["sphinx>=7", "sphinx-mathjax-offline>=0.0.2"],
        # build: CI builds the sdist and the wheel and installs the wheel as users do.
        "dev": [
            "pytest>=7",
            "hypothesis>=6",
            "sphinx>=7",
            "sphinx-mathjax-offline>=0.0.2",
            "ruff==0.17.6",
            "mypy==2.4.1",
            "build>=1",
        ],
    },
    entry_points={"console_scripts": ["symnn-zoo=symnn_zoo.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Physics",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
