import json
import math

import pytest

from semcom_ota.results import ResultRow, format_table, read_rows, row_from_dict, write_rows


def test_rows_round_trip_and_table(tmp_path):
    rows = [
        ResultRow("image", "semantic", "awgn", 5.0, 512, "psnr_db", 27.5, 10),
        ResultRow("image", "jpeg+ldpc", "awgn", 5.0, 512, "psnr_db", float("nan"), 10),
    ]
    path = write_rows(tmp_path / "r.json", rows, extra={"link": {"sent": 3}})
    data = json.loads(path.read_text())
    assert data["rows"][1]["value"] is None and data["link"] == {"sent": 3}
    back = read_rows(path)
    assert back[0] == rows[0] and math.isnan(back[1].value)
    table = format_table(back)
    assert "semantic" in table and "jpeg+ldpc" in table and table.count("\n") == 3


def test_bad_rows_rejected():
    with pytest.raises(ValueError, match="missing keys"):
        row_from_dict({"task": "x"})
    with pytest.raises(ValueError, match="scheme"):
        ResultRow("image", "", "awgn", 0, 1, "psnr_db", 1.0, 1)
