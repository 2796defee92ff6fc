"""The symnn-zoo command line: listing, argument errors, the installed entry points."""

import shutil
import subprocess
import sys

import pytest
import torch

from zoo import PROBLEM_NAMES
from zoo.__main__ import main


def test_list_names_every_problem_and_its_levels(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in PROBLEM_NAMES:
        assert f"{name}:" in out
    assert "ScaleNormalize(PermutationSort(MLP), degree=2)" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "pendulum"], "invalid choice: 'pendulum'"),
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
        ([], "the following arguments are required: command"),
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


@pytest.mark.parametrize("entry", ["python -m zoo", "symnn-zoo"])
def test_both_entry_points_answer_a_bad_command_line_in_one_line(entry):
    # A bad command line is answered before torch is imported, so this is quick.
    if entry == "symnn-zoo":
        script = shutil.which("symnn-zoo")
        if script is None:
            pytest.skip("symnn-zoo is not on PATH (package not installed)")
        command = [script]
    else:
        command = [sys.executable, "-m", "zoo"]
    result = subprocess.run([*command, "run", "nowhere"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("symnn-zoo: error: argument problem: invalid choice: 'nowhere'")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
