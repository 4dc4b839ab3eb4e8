"""Every shipped model card loads by path alone: load_codec imports the module that registers its codec."""

import subprocess
import sys
from pathlib import Path

import pytest

from semcom_ota.semantic.base import CODEC_MODULES, load_codec

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("card", ["task_fmnist.yaml", "teacher_jscc.yaml", "image_semantic.yaml", "text_semantic.yaml"])
def test_card_loads_in_a_fresh_process(card):
    # a fresh interpreter: nothing but semcom_ota.semantic.base has been imported
    code = f"from semcom_ota.semantic.base import load_codec; c = load_codec({str(MODELS / card)!r}); print(type(c).__name__, c.codec_id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]


def test_unknown_codec_name_is_named(tmp_path):
    card = tmp_path / "x.yaml"
    card.write_text("codec: no-such-codec\n")
    with pytest.raises(KeyError, match="unknown codec 'no-such-codec'"):
        load_codec(card)
    assert set(CODEC_MODULES) >= {"task-fmnist", "image-semantic", "text-semantic", "image-digital"}
