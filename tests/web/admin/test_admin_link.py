"""The navigation's Admin link follows the same test as the admin pages: ``admin: true``."""

from __future__ import annotations

import shutil

from engine import accounts
from engine.config import SHIPPED_METADATA
from tests.web.support import login_client, make_app

CHIEF = "role: chief\nlabel: Chief\nadmin: true\n"


def test_admin_link_shows_for_an_admin_role_of_any_name_and_only_for_admins(
        crm_sqlite_file, tmp_path):
    path = tmp_path / "loom.db"
    shutil.copy(crm_sqlite_file, path)
    extra = tmp_path / "roles"
    extra.mkdir()
    (extra / "chief.yaml").write_text(CHIEF, encoding="utf-8")
    app = make_app(f"sqlite:///{path}", tmp_path,
                   LOOM_METADATA_DIRS=[*(str(d) for d in SHIPPED_METADATA), str(extra)])
    try:
        rt = app.extensions["loom"].current
        accounts.grant_role(rt.db, rt.tables, "service1", "chief")
        chief = login_client(app, "service1")
        assert 'href="/admin/"' in chief.get("/r/account").get_data(as_text=True)
        assert chief.get("/admin/users").status_code == 200

        sales = login_client(app, "sales1")
        assert 'href="/admin/"' not in sales.get("/r/account").get_data(as_text=True)
        assert sales.get("/admin/users").status_code == 403
    finally:
        app.extensions["loom"].db.dispose()
