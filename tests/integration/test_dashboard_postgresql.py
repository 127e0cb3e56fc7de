"""The dashboard on PostgreSQL past LIST_EXACT_COUNT_LIMIT: the rare statuses counted exactly (from
the status_index index), the total and the active/disabled split estimated, and said to be."""
import re

import pytest
from sqlalchemy import text, update

from app.extensions import db
from app.models import Customer
from app.services import dashboard
from tests import factories as f


@pytest.fixture
def customers(app):
    """Reseller A: 6 active, 2 disabled, 1 dormant, 1 archived; Reseller B: 1 blocked; none: 2 active."""
    with app.app_context():
        a, b = f.reseller_id("Reseller A"), f.reseller_id("Reseller B")
        ids = [f.customer(reseller_id=a).id for _ in range(10)] + [f.customer(reseller_id=b).id] + \
              [f.customer().id for _ in range(2)]
        for i, status in ((6, "disabled"), (7, "disabled"), (8, "dormant"), (9, "archived"), (10, "blocked")):
            db.session.execute(update(Customer).where(Customer.id == ids[i]).values(status=status))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE customer"))
        return ids


def counts(board):
    return {s.status: (s.count, s.approximate) for s in board.statuses}


def test_past_the_limit_an_admin_gets_exact_rare_statuses_and_an_estimated_rest(app, customers):
    with app.app_context():
        board = dashboard.for_user(db.session, f.user("admin"), exact_limit=3)
        got = counts(board)
        assert {s: got[s] for s in dashboard.RARE} == {"dormant": (1, False), "blocked": (1, False),
                                                        "archived": (1, False)}
        assert got["active"][1] and got["disabled"][1]  # estimates, and said to be
        assert board.total_approximate and board.total == 13  # ANALYZE counted the small table
        assert got["active"][0] + got["disabled"][0] == 10


def test_a_reseller_past_the_limit_gets_exact_counts_by_index_and_an_estimated_split(app, customers):
    with app.app_context():
        got = counts(dashboard.for_user(db.session, f.user("reseller_a"), exact_limit=3))
        assert {s: got[s] for s in dashboard.RARE} == {"dormant": (1, False), "blocked": (0, False),
                                                        "archived": (1, False)}
        assert got["active"][0] + got["disabled"][0] == 8 and got["active"][1] and got["disabled"][1]


def test_within_the_limit_every_figure_is_exact(app, customers):
    with app.app_context():
        assert counts(dashboard.for_user(db.session, f.user("reseller_a"), exact_limit=1000)) == {
            "active": (6, False), "disabled": (2, False), "dormant": (1, False), "blocked": (0, False),
            "archived": (1, False)}


def test_the_page_says_about_for_an_estimate(app, customers, login, monkeypatch):
    monkeypatch.setitem(app.config, "LIST_EXACT_COUNT_LIMIT", 3)
    page = login("admin").get("/").get_data(as_text=True)
    active = re.search(r'<tr class="status-active">.*?<td class="figure">(.*?)</td>', page, re.S).group(1)
    assert "about" in active
    dormant = re.search(r'<tr class="status-dormant">.*?<td class="figure">(.*?)</td>', page, re.S).group(1)
    assert dormant.strip() == "1"
