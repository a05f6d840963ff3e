"""What the store guarantees: NFC text with the original kept, exact duplicates dropped, variants kept."""

from __future__ import annotations

import unicodedata

from kit.dictionary.search import search
from kit.dictionary.store import import_files


def test_nfc_normalised_original_kept_and_searchable_either_way(workspace, tmp_path):
    decomposed = unicodedata.normalize("NFD", "tŷ")
    assert decomposed != "tŷ"
    f = tmp_path / "words-cym-eng.tsv"
    f.write_text(f"{decomposed}\thouse\n", encoding="utf-8")
    import_files(workspace, [f])
    row = workspace.db.execute("select headword, headword_orig from entries").fetchone()
    assert row == ("tŷ", decomposed)
    assert search(workspace, decomposed)[0]["translation"] == "house"
    assert search(workspace, "tŷ")[0]["translation"] == "house"


def test_exact_duplicates_dropped_variants_kept(workspace, tmp_path):
    f = tmp_path / "words-cym-eng.tsv"
    f.write_text("cath\tcat\tn\ncath\tcat\tn\ncath\tcat\tv\ncath\tpuss\tn\nCath\tcat\tn\n", encoding="utf-8")
    r = import_files(workspace, [f])[0]
    assert (r.count, r.duplicates) == (4, 1)
    assert workspace.db.execute("select count(*) from entries_fts").fetchone()[0] == 4


def test_same_file_in_two_workspaces_is_independent(tmp_path):
    from kit.workspace import Workspace

    f = tmp_path / "w.tsv"
    f.write_text("cath\tcat\n", encoding="utf-8")
    a = Workspace.init(tmp_path / "a", "en", "cy")
    b = Workspace.init(tmp_path / "b", "en", "cy")
    assert not import_files(a, [f])[0].already_imported
    assert not import_files(b, [f])[0].already_imported
    a.close()
    b.close()


def test_a_folder_stands_for_its_dictionaries(workspace, demo_data, tmp_path):
    import pytest

    from kit.errors import TaalkitError

    results = import_files(workspace, [demo_data / "cy/dictd"])
    assert [r.path.rsplit("/", 1)[-1] for r in results] == ["freedict-cym-eng.index", "freedict-eng-cym.index"]
    with pytest.raises(TaalkitError, match="no dictionary files"):
        import_files(workspace, [tmp_path])
