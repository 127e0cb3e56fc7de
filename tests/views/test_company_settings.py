"""Company settings (issue 12): an admin sets the time zone and where the business is in the
browser; times in the history follow the zone, the profile's distance follows the place."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Address, AuditEntry, CompanySettings
from app.services import company
from app.services.errors import Forbidden, Invalid
from tests import factories as f


def settings_row(app):
    with app.app_context():
        row = db.session.get(CompanySettings, 1)
        return None if row is None else {k: getattr(row, k) for k in company.FIELDS}


def test_an_admin_sets_the_time_zone_and_the_place_and_lands_back_on_the_form_with_what_changed(app, login):
    admin = login("admin")
    r = admin.form("/company/", {"time_zone": "Europe/Paris", "business_address": "Head office, Leeds",
                                 "business_latitude": "53.8008", "business_longitude": "-1.5491"},
                   follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.request.path == "/company/"
    assert "Company settings saved: time zone, business address, latitude, longitude changed." in html
    assert settings_row(app) == {"time_zone": "Europe/Paris", "business_address": "Head office, Leeds",
                                 "business_latitude": Decimal("53.800800"), "business_longitude": Decimal("-1.549100")}
    assert '<option value="Europe/Paris" selected>' in html
    again = admin.form("/company/", {"time_zone": "Europe/Paris", "business_address": "Head office, Leeds",
                                     "business_latitude": "53.8008", "business_longitude": "-1.5491"},
                       follow_redirects=True)
    assert "nothing changed" in again.get_data(as_text=True)  # a double submit: the same values, once
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "company_settings")).all()
        assert len(entries) == 1 and entries[0].changes["time_zone"] == [None, "Europe/Paris"]


@pytest.mark.parametrize("values, field", [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "<script>alert(1)</script>"}, "time_zone"),
    ({"business_latitude": "91"}, "business_latitude"),
    ({"business_latitude": "=HYPERLINK(1)", "business_longitude": "1"}, "business_latitude"),
    ({"business_latitude": "51.5"}, "business_longitude"),  # both or neither
    ({"business_address": "x" * 300}, "business_address"),
])
def test_bad_settings_are_refused_next_to_their_field_and_nothing_is_written(app, login, values, field):
    r = login("admin").form("/company/", values)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "nothing was saved" in html
    assert "<script>alert(1)" not in html
    assert settings_row(app) is None


def test_only_who_may_edit_the_settings_opens_or_saves_them(app, login):
    for user in ("staff", "readonly", "reseller_a"):
        browser = login(user)
        assert browser.get("/company/").status_code in (302, 403)
        browser.post("/company/", {"time_zone": "Europe/Paris"})
    assert settings_row(app) is None
    with app.app_context():
        with pytest.raises(Forbidden):
            company.update(db.session, f.user("staff"), {"time_zone": "Europe/Paris"})


def test_times_in_the_history_are_in_the_company_time_zone(app, login):
    with app.app_context():
        admin = f.user("admin")
        c = f.customer(first_name="Ada", surname="Lovelace")
        db.session.execute(AuditEntry.__table__.update().where(AuditEntry.customer_id == c.id)
                           .values(at=datetime(2026, 7, 1, 9, 5, 33, tzinfo=timezone.utc)))
        db.session.commit()
        pk = c.id
        company.update(db.session, admin, {"time_zone": "Asia/Tokyo"})
    browser = login("admin")
    html = browser.get(f"/customers/show/{pk}?tab=changes").get_data(as_text=True)
    assert "2026-07-01 18:05" in html and "09:05" not in html  # Tokyo is UTC+9
    assert "2026-07-01 18:05" in browser.get("/audit/list/").get_data(as_text=True)


def test_the_profile_distance_comes_from_the_place_set_in_the_browser(app, login):
    with app.app_context():
        c = f.customer(first_name="Ada", surname="Lovelace")
        db.session.add(Address(customer_id=c.id, kind="billing", line1="1 Rue", postcode="75001", country="FR",
                               latitude=Decimal("48.856600"), longitude=Decimal("2.352200")))
        db.session.commit()
        pk = c.id
    admin = login("admin")
    assert "Set where the business is" in admin.get(f"/customers/show/{pk}").get_data(as_text=True)
    admin.form("/company/", {"business_latitude": "51.5074", "business_longitude": "-0.1278"})
    html = admin.get(f"/customers/show/{pk}").get_data(as_text=True)
    assert "344 km" in html or "343 km" in html


def test_the_service_reads_the_configuration_until_an_admin_saves(app):
    with app.app_context():
        in_force = company.read(db.session, {"TIME_ZONE": "Europe/London", "BUSINESS_LATITUDE": "1",
                                             "BUSINESS_LONGITUDE": "2"})
        assert in_force.time_zone_name == "Europe/London" and in_force.business.latitude == Decimal("1")
        assert company.read(db.session, {}).time_zone_name == "UTC"
        with pytest.raises(Invalid) as e:
            company.update(db.session, f.user("admin"), {"nonsense": "1"})
        assert "nonsense" in e.value.errors


def test_every_screen_shows_times_in_the_company_time_zone(app):
    from app.views import formatters
    with app.app_context():
        company.update(db.session, f.user("admin"), {"time_zone": "America/New_York"})
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    with app.test_request_context("/"):
        assert "2026-07-01 08:00" in formatters.moment(summer)  # EDT, UTC-4
        assert "2026-07-01 08:00:00" in formatters.moment_seconds(summer.replace(tzinfo=None))  # naive = UTC
        assert "2026-01-01 07:00" in formatters.text(datetime(2026, 1, 1, 12, 0))  # EST, UTC-5
