"""``list_view.board``: the metaschema takes it and the compiler checks what it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compiler import compile_documents, compile_model
from engine.spec import FileSource, MemorySource, MetadataInvalid

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

FIELDS = (
    {"name": "title", "type": "string"},
    {"name": "stage", "type": "select", "options": [{"value": "a", "label": "A"},
                                                    {"value": "b", "label": "B"}]},
    {"name": "tags", "type": "multiselect", "options": [{"value": "x", "label": "X"}]},
    {"name": "amount", "type": "money", "currency": "CNY"},
    {"name": "seats", "type": "integer"},
    {"name": "note", "type": "string"},
    {"name": "twice", "type": "formula", "returns": "money", "currency": "CNY",
     "expr": "amount * 2.0"},
)


def _deal(board: dict) -> dict:
    return {"entity": "deal", "label": "Deal", "display_field": "title", "fields": list(FIELDS),
            "list_view": {"columns": ["title"], "board": board}}


def _compile(board: dict):
    errors: list = []
    return compile_documents(MemorySource(_deal(board)).documents(errors), errors)


def _errors(board: dict) -> list:
    with pytest.raises(MetadataInvalid) as caught:
        _compile(board)
    return caught.value.errors


def test_a_board_over_a_select_with_number_totals_compiles():
    model = _compile({"field": "stage", "sum": ["amount", "seats", "twice"],
                      "card": ["note", "owner"]})
    board = model.entity("deal").list_view["board"]
    assert board["field"] == "stage" and tuple(board["sum"]) == ("amount", "seats", "twice")


@pytest.mark.parametrize(("board", "path", "words"), [
    ({"field": "note"}, "$.list_view.board.field", "must be a select"),
    ({"field": "tags"}, "$.list_view.board.field", "must be a select"),
    ({"field": "owner"}, "$.list_view.board.field", "standard column"),
    ({"field": "stage", "sum": ["seats", "note"]}, "$.list_view.board.sum[1]",
     "only total number or money"),
    ({"field": "stage", "card": ["nope"]}, "$.list_view.board.card[0]", "unknown field 'nope'"),
    ({"field": "stagee"}, "$.list_view.board.field", "unknown field 'stagee'"),
])
def test_a_board_naming_the_wrong_field_is_an_error_with_file_and_path(board, path, words):
    (error,) = _errors(board)
    assert error.file and error.json_path == path and words in error.message


def test_a_board_without_a_field_or_with_unknown_keys_is_refused_by_the_metaschema():
    errors = _errors({"sum": ["amount"], "colour": "red"})
    paths = {e.json_path for e in errors}
    assert paths and all(p.startswith("$.list_view.board") for p in paths)


def test_the_shipped_crm_declares_boards_for_deals_leads_and_cases():
    model = compile_model([FileSource(SCHEMAS)])
    fields = {name: model.entity(name).list_view["board"]["field"]
              for name in ("deal", "lead", "service_case")}
    assert fields == {"deal": "stage", "lead": "status", "service_case": "status"}
    assert tuple(model.entity("deal").list_view["board"]["sum"]) == ("amount", "weighted_amount")
