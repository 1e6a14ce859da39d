"""The shipped CRM (``schemas/``): it compiles, speaks English and Chinese everywhere,
and its tables create on every configured database."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
import sqlalchemy as sa

from engine.compiler import compile_model
from engine.config import SHIPPED_METADATA
from engine.model import Text
from engine.spec import FileSource
from engine.storage.tables import build_tables

#: The entities the CRM domain note asks for.
EXPECTED_ENTITIES = {
    "account", "activity", "campaign", "contact", "contract", "customer_pool", "deal", "lead",
    "order_line", "product", "sales_order", "sales_target", "service_case",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def model():
    return compile_model([FileSource(*SHIPPED_METADATA)])


def _bilingual_problem(text, where: str) -> str | None:
    values = text.as_dict() if isinstance(text, Text) else dict(text) if isinstance(text, Mapping) else {}
    en, zh = values.get("en", ""), values.get("zh-CN", "")
    if not en.strip():
        return f"{where}: no English label"
    if not CJK.search(zh):
        return f"{where}: no Chinese label (got {zh!r})"
    return None


def _labels(model):
    """Every user-facing text of the model, with where it is."""
    for entity in model.entities.values():
        yield entity.label, f"{entity.name}.label"
        yield entity.plural_label, f"{entity.name}.plural_label"
        if entity.description is not None:
            yield entity.description, f"{entity.name}.description"
        for f in entity.fields:
            yield f.label, f"{entity.name}.{f.name}.label"
            if f.help is not None:
                yield f.help, f"{entity.name}.{f.name}.help"
            for option in f.options:
                yield option.label, f"{entity.name}.{f.name}.options[{option.value}]"
        for inverse in entity.inverses:
            yield inverse.label, f"{entity.name}.inverse {inverse.name}"
        for rule in entity.rules:
            yield rule.message, f"{entity.name}.rules.{rule.name}"
        for i, section in enumerate(entity.form_layout.get("sections", [])):
            yield section.get("title", {}), f"{entity.name}.form_layout.sections[{i}].title"


def test_shipped_metadata_compiles_with_every_domain_entity(model):
    assert set(model.entities) == EXPECTED_ENTITIES


def test_every_label_option_and_message_is_in_english_and_chinese(model):
    problems = [p for text, where in _labels(model) if (p := _bilingual_problem(text, where))]
    assert problems == []


def test_every_entity_has_a_list_view_and_a_form_layout_covering_its_fields(model):
    for entity in model.entities.values():
        assert entity.list_view.get("columns"), entity.name
        assert entity.list_view.get("sort"), entity.name
        placed = {name for s in entity.form_layout["sections"] for name in s["fields"]}
        assert set(entity.field_names) <= placed, (entity.name, set(entity.field_names) - placed)


def test_model_version_is_stable_across_compilations(model):
    again = compile_model([FileSource(*SHIPPED_METADATA)])
    assert again.version == model.version


def test_deal_probability_defaults_follow_the_stage(model):
    deal = model.entity("deal")
    default = deal.field("probability").default_expr
    expected = {"lead": 10.0, "qualified": 25.0, "proposal": 50.0, "negotiation": 75.0,
                "won": 100.0, "lost": 0.0}
    assert {stage: default.evaluate({"stage": stage}) for stage in expected} == expected
    weighted = deal.field("weighted_amount").expr
    assert weighted.evaluate({"stage": "proposal", "amount": 1000.0, "probability": 50.0}) == 500.0
    assert weighted.evaluate({"stage": "won", "amount": 1000.0, "probability": 80.0}) == 1000.0


def test_lost_deal_requires_a_loss_reason_only_when_lost(model):
    reason = model.entity("deal").field("loss_reason")
    assert reason.required_if.holds({"stage": "lost"}) is True
    assert reason.required_if.holds({"stage": "won"}) is False
    assert reason.visible_if.holds({"stage": "negotiation"}) is False


def test_contract_end_must_follow_start(model):
    import datetime as dt

    rule = next(r for r in model.entity("contract").rules if r.name == "end_after_start")
    day = lambda d: dt.datetime(2025, 1, d, tzinfo=dt.timezone.utc)  # noqa: E731
    assert rule.assert_.holds({"start_date": day(1), "end_date": day(2)}) is True
    assert rule.assert_.holds({"start_date": day(2), "end_date": day(1)}) is False


def test_mobile_preset_accepts_only_mainland_mobiles(model):
    phone = model.entity("contact").field("phone")
    assert list(phone.type.check(phone, "13812345678")) == []
    assert list(phone.type.check(phone, "12812345678")) != []
    assert list(phone.type.check(phone, "010-12345678")) != []


def test_sales_target_is_unique_per_user_and_month(model):
    indexes = model.entity("sales_target").indexes
    assert any(ix.unique and ix.fields == ("target_user", "month") for ix in indexes)


def test_shipped_tables_create_on_the_database(model, database):
    tables = build_tables(model)
    with database.write() as conn:
        tables.metadata.create_all(conn)
    with database.read() as conn:
        inspector = sa.inspect(conn)
        names = set(inspector.get_table_names())
        assert EXPECTED_ENTITIES <= names
        columns = {c["name"] for c in inspector.get_columns("order_line")}
        assert {"sales_order", "product", "line_total", "owner", "version"} <= columns
        foreign = {fk["referred_table"] for fk in inspector.get_foreign_keys("deal")}
        assert {"account", "contact", "campaign", "contract"} <= foreign


def test_weighted_amount_rounds_half_up_as_people_round_money(model):
    from decimal import Decimal

    weighted = model.entity("deal").field("weighted_amount")
    raw = weighted.expr.evaluate({"stage": "qualified", "amount": 120000.5, "probability": 25.0})
    assert weighted.type.from_cel(weighted, raw) == Decimal("30000.13")  # not 30,000.12
