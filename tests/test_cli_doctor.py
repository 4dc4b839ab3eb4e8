import subprocess
import sys

import numpy

from semcom_ota.cli import doctor


def test_doctor_flags_numpy2_with_the_fix(monkeypatch):
    monkeypatch.setattr(numpy, "__version__", "2.1.3")
    check = doctor._numpy_check()
    assert not check.ok and "numpy<2" in check.fix


def test_doctor_accepts_numpy1():
    assert doctor._numpy_check().ok == (int(numpy.__version__.split(".")[0]) < 2)


def test_doctor_command_exits_non_zero_when_numpy2_is_seen(tmp_path):
    # A real NumPy 2 cannot be installed for a test; a sitecustomize that reports 2.x exercises the exit path.
    (tmp_path / "sitecustomize.py").write_text("import numpy\nnumpy.__version__ = '2.0.0'\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "semcom_ota.cli.main", "doctor"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "numpy<2" in out.stdout + out.stderr


def test_every_command_has_help():
    out = subprocess.run([sys.executable, "-m", "semcom_ota.cli.main", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "doctor" in out.stdout
