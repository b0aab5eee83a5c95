"""The activation code's QR code: what it encodes, read back, and an SVG that a
strict Content Security Policy lets through."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import qrcode
import qrcode.constants

from service.console.views.patients import qr_svg

SVG = "{http://www.w3.org/2000/svg}"
_MODULE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z")
CODE = "P6EJ-VF9B-0SWM"


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (drawn by the code under test)


def _dark_modules(root: ET.Element) -> set[tuple[int, int]]:
    paths = root.findall(f"{SVG}path")
    assert len(paths) == 1
    found = set()
    for x, y, x2, y2 in _MODULE.findall(paths[0].attrib["d"]):
        assert (int(x2) - int(x), int(y2) - int(y)) == (1, 1)
        found.add((int(x), int(y)))
    return found


def _decoded(modules: set[tuple[int, int]], size: int) -> str | None:
    """What a QR reader makes of the drawn modules (None when no reader is installed)."""
    try:
        import zxingcpp  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    scale = 8
    side = size * scale
    pixels = bytearray(b"\xff" * side * side)
    for x, y in modules:
        for row in range(y * scale, (y + 1) * scale):
            start = row * side + x * scale
            pixels[start : start + scale] = b"\x00" * scale
    found = zxingcpp.read_barcode(memoryview(bytes(pixels)).cast("B", (side, side)))
    return "" if found is None else str(found.text)


def test_the_qr_code_holds_the_code_and_reads_back() -> None:
    root = _parsed(str(qr_svg(CODE, label="QR code")))
    assert root.tag == f"{SVG}svg"
    # 14 characters of QR's alphanumeric set: version 1 (21 x 21 modules) at error
    # correction M, inside a quiet zone of 4 modules.
    assert root.attrib["viewBox"] == "0 0 29 29"
    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    reference.add_data(CODE)
    reference.make(fit=True)
    assert reference.version == 1
    matrix = reference.get_matrix()
    expected = {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    drawn = _dark_modules(root)
    assert drawn == expected
    # Read back by an independent decoder when one is installed (zxing-cpp).
    assert _decoded(drawn, 29) in (None, CODE)


def test_the_svg_is_a_labelled_image_without_inline_style() -> None:
    label = 'QR code for "Jo" <O\'Neil> & co'
    svg = str(qr_svg(CODE, label=label))
    root = _parsed(svg)
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == label
    assert "style" not in svg
    assert all("style" not in el.attrib for el in root.iter())
    assert root.find(f"{SVG}path") is not None
    assert root.find(f"{SVG}path").attrib["fill"] == "#000000"  # type: ignore[union-attr]
