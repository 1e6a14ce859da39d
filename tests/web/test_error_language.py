"""Errors speak the reader's language and name entities by their labels (issue 11, defect 3)."""

from __future__ import annotations

from engine.model import Text
from engine.records.errors import OUTSIDE_SCOPE, PermissionDenied, RecordNotFound
from tests.web.api.records_support import first_id, url
from tests.web.support import form_token

ZH = {"Accept-Language": "zh-CN"}


def _chinese(client):
    client.post("/lang", data={"lang": "zh-CN", "csrf_token": form_token(client, "/login")})
    return client


def test_record_errors_name_the_entity_by_its_label_in_each_language():
    label = Text.of({"en": "Service case", "zh-CN": "服务工单"})
    missing = RecordNotFound("service_case", 7, label=label)
    assert missing.message.get("en") == "no service case record with id 7"
    assert missing.message.get("zh-CN") == "不存在 ID 为 7 的服务工单记录"
    denied = PermissionDenied("service_case", "create", OUTSIDE_SCOPE, label=label)
    assert denied.message.get("en") == "you may not create service case records outside your own scope"
    assert denied.message.get("zh-CN") == "您无权创建服务工单记录（超出您的数据范围）"
    # An abbreviation keeps its capitals; without a label the name stands in.
    assert "VIP plan" in PermissionDenied("x", "read", label=Text.of("VIP plan")).message.get("en")
    assert RecordNotFound("deal", 1).message.get("en") == "no deal record with id 1"


def test_the_404_page_is_chinese_and_names_the_entity_by_its_label(login):
    page = _chinese(login("sales1")).get("/r/account/999999")
    body = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "未找到" in body and "不存在 ID 为 999999 的客户记录" in body
    assert "Not found" not in body and "account" not in body.split("</nav>", 1)[1]


def test_an_unknown_address_gets_a_chinese_explanation(login):
    body = _chinese(login("sales1")).get("/r/no_such_entity").get_data(as_text=True)
    assert "此地址没有内容" in body and "unknown entity" not in body


def test_the_403_page_is_chinese(login):
    page = _chinese(login("sales1")).get("/admin/users")
    body = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "无权访问" in body and "此页面仅供管理员使用" in body
    assert "Forbidden" not in body and "administrators" not in body


def test_a_refusal_is_in_one_language_with_the_entity_label(api):
    sales1 = api("sales1")
    won = sales1.get(url("deal", filter=[{"field": "stage", "op": "eq", "value": "won"}],
                         per_page=1)).get_json()["data"][0]
    refused = sales1.delete(url("deal", won["id"]), headers={**ZH, "If-Match": f'"{won["version"]}"'})
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["title"] == "无权访问"
    detail = refused.get_json()["detail"]
    assert detail.startswith("您无权删除商机记录（您的角色仅在满足条件 ") and detail.endswith(" 时允许）")
    english = sales1.delete(url("deal", won["id"]), headers={"If-Match": f'"{won["version"]}"'})
    assert english.get_json()["detail"].startswith("you may not delete deal records like this one")


def test_problem_titles_follow_accept_language_and_the_sessions_language(api, login):
    english = api("sales1").get(url("deal", 999999))
    assert english.get_json()["title"] == "Not found"
    assert english.get_json()["detail"] == "no deal record with id 999999"
    chinese = api("sales1").get(url("deal", 999999), headers=ZH).get_json()
    assert chinese["title"] == "未找到" and chinese["detail"] == "不存在 ID 为 999999 的商机记录"
    assert api("sales1").get(url("nope"), headers=ZH).get_json()["title"] == "未找到"
    session = _chinese(login("sales1")).get(url("deal", 999999)).get_json()
    assert session["title"] == "未找到" and "商机" in session["detail"]


def test_rule_warnings_in_api_responses_are_strings_in_the_callers_language(api):
    admin = api("admin")
    body = {"name": "Over budget", "budget": "100.00", "cost": "250.00", "channel": "web_form",
            "start_date": "2026-01-01", "end_date": "2026-02-01"}
    created = admin.post(url("campaign"), json=body, headers=ZH)
    assert created.status_code == 201, created.get_json()
    [warning] = created.get_json()["_warnings"]
    assert isinstance(warning["message"], str) and warning["rule"] == "cost_within_budget"
    english = admin.patch(url("campaign", created.get_json()["id"]), json={"cost": "300.00"},
                          headers={"If-Match": '"1"'}).get_json()
    assert isinstance(english["_warnings"][0]["message"], str)
    assert english["_warnings"][0]["message"] != warning["message"]
