"""The symnn-zoo command line: listing, argument errors, the installed entry points."""

import pathlib
import shutil
import subprocess
import sys

import pytest
import torch

from symnn_zoo import PROBLEM_NAMES, get_problem
from symnn_zoo.__main__ import main


def test_list_names_every_problem_and_its_levels(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in PROBLEM_NAMES:
        assert f"{name}: " in out
        for level in get_problem(name).levels:
            assert f"{level.key:>3}  {level.bias:<11}  {level.title}" in out
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize("name", PROBLEM_NAMES)
def test_list_one_problem_describes_its_levels(name, capsys):
    assert main(["list", name]) == 0
    out = capsys.readouterr().out
    problem = get_problem(name)
    assert " ".join(out.split()).startswith(f"{name}: {problem.summary}")
    for level in problem.levels:
        assert f"{level.key} ({level.bias}): {level.title}" in out
        assert level.description.split()[0] in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_no_arguments_prints_the_help_and_exits_0(capsys):
    assert main([]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("usage: symnn-zoo") and "{list,run}" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "bicycle"], "invalid choice: 'bicycle'"),
        (["run", "triangle", "--levels", "7"], "unknown level '7' for triangle"),
        (["run", "triangle", "--levels", "0,,3"], "unknown level ''"),
        (["run", "spring", "--levels", "1a"], "unknown level '1a' for spring"),
        (["run", "triangle", "--epochs", "0"], "expected a positive integer; got 0"),
        (["run", "triangle", "--epochs", "-5"], "expected a positive integer; got -5"),
        (["run", "triangle", "--epochs", "ten"], "expected a positive integer; got 'ten'"),
        (["run", "triangle", "--seed", "-1"], "expected a non-negative integer"),
        (["run", "triangle", "--threads", "0"], "expected a positive integer"),
        (["run", "triangle", "--device", "tpu"], "invalid choice: 'tpu'"),
        (["run"], "the following arguments are required: problem"),
        (["list", "bicycle"], "invalid choice: 'bicycle'"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)] if argv[:1] == ["run"] and len(argv) > 1 else argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("symnn-zoo: error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_out_naming_an_existing_file_is_one_line_and_exit_2(capsys, tmp_path):
    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    assert main(["run", "spring", "--quick", "--out", str(existing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"symnn-zoo: error: --out {str(existing)!r} is an existing file, not a folder; choose a folder"
    ]
    assert existing.read_text() == "keep me"


def test_an_unwritable_output_folder_is_one_line_and_exit_2(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["run", "spring", "--quick", "--out", str(blocker / "results")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "cannot write to output folder" in err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["run", "spring", "--quick", "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "CUDA is not available" in err[0]
    assert not any(tmp_path.iterdir()), "nothing is written when the arguments are bad"


# ``python -m symnn_zoo`` run on this checkout's zoo/ folder, installed under its package name.
_RUN_AS_MODULE = (
    "import importlib.util, runpy, sys; "
    "folder = sys.argv.pop(1); "
    "spec = importlib.util.spec_from_file_location("
    "'symnn_zoo', folder + '/__init__.py', submodule_search_locations=[folder]); "
    "sys.modules['symnn_zoo'] = importlib.util.module_from_spec(spec); "
    "spec.loader.exec_module(sys.modules['symnn_zoo']); "
    "runpy.run_module('symnn_zoo', run_name='__main__', alter_sys=True)"
)


@pytest.mark.parametrize("entry", ["python -m symnn_zoo", "symnn-zoo"])
def test_both_entry_points_answer_a_bad_command_line_in_one_line(entry):
    # A bad command line is answered before torch is imported, so this is quick.
    if entry == "symnn-zoo":
        script = shutil.which("symnn-zoo")
        if script is None:
            pytest.skip("symnn-zoo is not on PATH (package not installed)")
        command = [script]
    else:
        folder = str(pathlib.Path(__file__).resolve().parents[1] / "zoo")
        command = [sys.executable, "-c", _RUN_AS_MODULE, folder]
    result = subprocess.run([*command, "run", "nowhere"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("symnn-zoo: error: argument problem: invalid choice: 'nowhere'")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
