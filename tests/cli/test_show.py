"""`dicom-resolver show`: every line checked against pydicom's reading of the same data."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from pydicom import Dataset
from pydicom.datadict import dictionary_description, get_private_entry
from pydicom.multival import MultiValue
from pydicom.uid import generate_uid

from service.cli import main
from service.cli.listing import MAX_VALUE_CHARS

from .conftest import ct_image, to_instance, write_dump


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, list[str], str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def head(tag: int, vr: str, name: str | None = None) -> str:
    return f"{name or dictionary_description(tag)} ({tag >> 16:04X},{tag & 0xFFFF:04X}) {vr}"


def value_of(lines: list[str], prefix: str) -> str:
    matches = [line[len(prefix) + 3:] for line in lines if line.startswith(prefix + " = ")]
    assert len(matches) == 1, (prefix, matches)
    return matches[0]


def test_public_attributes_match_pydicom(capsys, dump_file: Path, datasets) -> None:
    status, lines, _ = run(capsys, "show", str(dump_file), "--instance", "1")
    assert status == 0
    ds: Dataset = datasets[1]
    checked = 0
    for element in ds:
        if element.tag.is_private or element.VR in ("SQ", "OB", "OW"):
            continue
        shown = value_of(lines, head(element.tag, element.VR))
        value = element.value
        items = list(value) if isinstance(value, MultiValue) else [value]
        if element.VR in ("DS", "IS", "US", "SL"):
            assert [float(v) for v in shown.split("\\")] == [float(v) for v in items]
        elif len(str(items)) < MAX_VALUE_CHARS:
            assert shown == "\\".join(str(v) for v in items)
        checked += 1
    assert checked >= 20
    # Person names in their DICOM string form.
    assert value_of(lines, head(0x00100010, "PN")) == str(ds.PatientName)


def test_sequence_items_are_indented(capsys, dump_file: Path, datasets) -> None:
    _, lines, _ = run(capsys, "show", str(dump_file), "--instance", "1")
    item = datasets[1].ProcedureCodeSequence[0]
    start = lines.index(head(0x00081032, "SQ") + ": 1 item")
    assert lines[start + 1] == "  > item 1"
    assert lines[start + 2:start + 5] == [
        f"    {head(element.tag, element.VR)} = {element.value}" for element in item]


def test_private_attributes_named_by_creator(capsys, dump_file: Path, datasets) -> None:
    _, lines, _ = run(capsys, "show", str(dump_file), "--instance", "1")
    ds = datasets[1]
    block = ds.private_block(0x0019, "GEMS_ACQU_01")
    channel = block[0x02]
    name = get_private_entry(channel.tag, "GEMS_ACQU_01")[2]
    assert f"[GEMS_ACQU_01] {name} (0019,1002) SL = {channel.value}" in lines
    assert "Private Creator (0019,0010) LO = GEMS_ACQU_01" in lines
    theta = get_private_entry(block.get_tag(0x03), "GEMS_ACQU_01")[2]
    assert float(value_of(lines, f"[GEMS_ACQU_01] {theta} (0019,1003) DS")) == float(
        block[0x03].value)
    assert "Private tag without creator (0009,1001) LO = no creator for me" in lines


def test_bytes_long_values_and_multiple_values(capsys, dump_file: Path, datasets) -> None:
    _, lines, _ = run(capsys, "show", str(dump_file), "--instance", "1")
    ds = datasets[1]
    instance = to_instance(ds)
    pixel = value_of(lines, head(0x7FE00010, "OW"))
    uri = instance["7FE00010"]["BulkDataURI"]
    assert pixel.startswith("<BulkDataURI ") and pixel.endswith(uri[-40:] + ">")
    assert "…" in pixel and len(pixel) <= MAX_VALUE_CHARS + len("<BulkDataURI >")
    document = value_of(lines, head(0x00420011, "OB"))
    assert document == f"<InlineBinary, {len(ds.EncapsulatedDocument)} bytes>"
    comment = value_of(lines, head(0x00204000, "LT"))
    assert len(comment) == MAX_VALUE_CHARS and comment.endswith("…")
    assert ds.ImageComments.startswith(comment[:-1])
    assert value_of(lines, head(0x00080008, "CS")) == "\\".join(ds.ImageType)


def test_every_instance_gets_a_header(capsys, dump_file: Path, datasets) -> None:
    status, lines, _ = run(capsys, "show", str(dump_file))
    assert status == 0
    headers = [line for line in lines if line.startswith("# instance ")]
    assert headers == [f"# instance {index}: SOPInstanceUID={ds.SOPInstanceUID} "
                       f"Modality={ds.Modality}" for index, ds in enumerate(datasets)]


def test_group_filter(capsys, dump_file: Path, datasets) -> None:
    _, lines, _ = run(capsys, "show", str(dump_file), "--instance", "2", "--group", "0010")
    expected = [element for element in datasets[2] if element.tag.group == 0x0010]
    assert lines == [f"{head(e.tag, e.VR)} = {e.value}" for e in expected]


def test_stdin(capsys, monkeypatch, dump_file: Path, datasets) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(dump_file.read_bytes())))
    status, lines, _ = run(capsys, "show", "-", "--instance", "0", "--group", "0008")
    assert status == 0
    assert value_of(lines, head(0x00080018, "UI")) == datasets[0].SOPInstanceUID


def test_sr_content_tree_nests(capsys, dump_file: Path, datasets) -> None:
    _, lines, _ = run(capsys, "show", str(dump_file), "--instance", "0")
    text = datasets[0].ContentSequence[0]
    start = lines.index(head(0x0040A730, "SQ") + ": 1 item")
    assert f"        {head(0x00080104, 'LO')} = {text.ConceptNameCodeSequence[0].CodeMeaning}" \
        in lines[start:]
    assert f"    {head(0x0040A160, 'UT')} = {text.TextValue}" in lines[start:]


def test_invalid_dump_prints_errors_and_exits_1(capsys, tmp_path: Path, datasets) -> None:
    instances = [to_instance(ds) for ds in datasets[:3]]
    instances[2]["00280010"] = {"vr": "US", "Value": ["four"]}
    instances[1]["00200013"] = {"Value": [1]}
    path = write_dump(tmp_path / "bad.json", instances)
    status, lines, err = run(capsys, "show", str(path))
    assert status == 1 and lines == []
    assert "2 problem(s)" in err
    assert "instance 1 $[1].00200013: missing 'vr'" in err
    assert "instance 2 $[2].00280010.Value[0]: US value must be an integer" in err


@pytest.mark.parametrize("body", [b"{not json", b"42", b'[{"0008": 1}]'])
def test_not_a_dump(capsys, tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(body)
    status, lines, err = run(capsys, "show", str(path))
    assert status == 1 and lines == [] and err.startswith("error: ")


def test_usage_errors(capsys, dump_file: Path, tmp_path: Path) -> None:
    assert run(capsys, "show", str(dump_file), "--instance", "99")[0] == 2
    assert run(capsys, "show", str(dump_file), "--group", "xyz")[0] == 2
    status, _, err = run(capsys, "show", str(tmp_path / "missing.json"))
    assert status == 1 and "cannot read" in err


def test_thousand_instances_listed_whole(capsys, tmp_path: Path) -> None:
    """Every attribute of each of 1,000 instances is listed (its speed beside pydicom's
    from_json is measured by bench/show.py, not here: the suite times nothing)."""
    template = to_instance(ct_image(("DOE^JANE", "PAT-A"), generate_uid(), generate_uid(), 1))
    instances = []
    for number in range(1000):
        instance = orjson.loads(orjson.dumps(template))
        instance["00080018"]["Value"] = [generate_uid()]
        instance["00200013"]["Value"] = [number]
        instances.append(instance)
    path = write_dump(tmp_path / "big.json", instances)

    status = main(["show", str(path)])
    lines = capsys.readouterr().out.count("\n")
    assert status == 0
    assert lines // 1000 >= len(template)
