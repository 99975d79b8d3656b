"""Reading the manuals stores have: real PDF and HTML files (the NUT FAQ, tests/data/manuals/nut)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from store_assistant.errors import DataError
from store_assistant.store.documents import read_document, read_folder
from store_assistant.store.knowledge import MODES, ingest, knowledge_base
from store_assistant.config import load_settings
from tests.conftest import TEST_ENV

NUT = Path(__file__).resolve().parents[1] / "data" / "manuals" / "nut"
STALE = "What's this about data stale?"


def leaf(heading: str) -> str:
    """'13. What’s this about data stale?' -> "what's this about data stale?"."""
    last = heading.split(" > ")[-1].replace("\u2019", "'").replace("\u2026", "...")
    return re.sub(r"^\d+\.\s*", "", last).lower()


def test_a_pdf_is_read_by_its_outline_with_page_numbers() -> None:
    chunks = read_document(NUT / "nut-faq.pdf", NUT, "manual")
    stale = next(c for c in chunks if c.heading == STALE)
    assert stale.id == "manual:nut-faq.pdf#what-s-this-about-data-stale"
    assert stale.page == 9  # the PDF's 9th page (printed "4")
    assert stale.text.startswith("It means your UPS driver hasn't updated things in a little while")
    assert "Contents" not in " ".join(c.text for c in chunks)  # the contents pages are left out
    assert all(c.page is not None and 1 <= c.page <= 21 for c in chunks)
    # Every bookmark is a section, in order, each on a page at or after the one before.
    pages = [c.page for c in chunks]
    assert pages == sorted(pages) and len({c.heading for c in chunks}) >= 55


def test_an_html_manual_keeps_its_headings_and_drops_the_contents() -> None:
    chunks = read_document(NUT / "nut-faq.html", NUT, "manual")
    stale = next(c for c in chunks if leaf(c.heading) == STALE.lower())
    assert stale.heading == "13. What\u2019s this about data stale?"  # no emphasis markers left
    assert "It means your UPS driver hasn" in stale.text and stale.page is None
    assert not any(c.heading == "Overview" for c in chunks)  # the table of contents is not a section
    assert not any("data:image" in c.text or "<" in c.text[:1] for c in chunks)


def test_the_pdf_and_the_html_of_one_manual_give_the_same_sections() -> None:
    pdf = {leaf(c.heading) for c in read_document(NUT / "nut-faq.pdf", NUT, "manual")}
    html = {leaf(c.heading) for c in read_document(NUT / "nut-faq.html", NUT, "manual")}
    assert len(pdf & html) >= 0.9 * len(pdf), sorted(pdf - html)


def test_a_scanned_pdf_is_reported_by_name_and_nothing_is_read(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    folder = tmp_path / "manuals"
    folder.mkdir()
    shutil.copy(NUT / "nut-faq.pdf", folder)
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)  # a page with no text layer, as a scan has
    with open(folder / "scanned.pdf", "wb") as handle:
        writer.write(handle)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(DataError) as error:
        read_folder(folder, "manual")
    message = str(error.value)
    assert "2 file(s) cannot be ingested; nothing was changed" in message
    assert "scanned.pdf has no text layer" in message and "broken.pdf is not a readable PDF" in message


def test_pdf_and_html_manuals_are_ingested_and_cited_by_page(tmp_path: Path) -> None:
    folder = tmp_path / "manuals"
    shutil.copytree(NUT, folder)
    settings = load_settings({"data_dir": str(tmp_path / "data")}, env=TEST_ENV)
    report = ingest(settings, [(folder, "manual")], progress=False)
    assert report.added == 2
    kb = knowledge_base(settings)
    for mode in MODES:
        hits = kb.search("the client says the data is stale, what does it mean?", mode=mode, k=5)
        assert any(h.chunk.id == "manual:nut-faq.pdf#what-s-this-about-data-stale"
                   and h.chunk.page == 9 for h in hits), mode
