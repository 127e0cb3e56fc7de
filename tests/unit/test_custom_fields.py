"""Custom fields: admins define them (text, number, date, choice); anyone who may edit a
customer fills them in; every bad value is reported at once and then nothing is saved."""
import pytest
from sqlalchemy import func, select

from app.models import AuditEntry
from app.models.custom_fields import CustomField, CustomValue
from app.services import custom_fields as cf
from app.services.customers import bulk
from app.services.customers.delete import delete_customer
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories as f
from tests.roles import role_user


@pytest.fixture
def admin(ctx):
    return f.user("admin")


def define(ctx, admin, name, kind="text", **data):
    return cf.create_field(ctx, admin, {"name": name, "kind": kind, **data})


def stored(ctx, customer_id):
    return {field_id: value for field_id, value in ctx.execute(
        select(CustomValue.field_id, CustomValue.value).where(CustomValue.customer_id == customer_id))}


def errors_of(call):
    with pytest.raises(Invalid) as e:
        call()
    return e.value.errors


# ---- definitions ------------------------------------------------------------------------
def test_an_admin_defines_fields_of_each_kind(ctx, admin):
    text = define(ctx, admin, "  Gate code ", required=True, position="2")
    number = define(ctx, admin, "Budget", "number", position=1)
    day = define(ctx, admin, "Contract ends", "date")
    pick = define(ctx, admin, "Size", "choice", choices=" Small \r\n\r\nLarge\nsmall\n  Medium  \n")
    assert (text.name, text.kind, text.required, text.position, text.active) == ("Gate code", "text", True, 2, True)
    assert (number.position, number.required, number.choices) == (1, False, None)
    assert pick.choices == "Small\nLarge\nMedium" and pick.choice_list == ["Small", "Large", "Medium"]
    assert day.kind == "date" and day.created_at is not None
    ordered = [field.name for field in cf.list_fields(ctx)]
    assert ordered == ["Contract ends", "Size", "Budget", "Gate code"]  # position, then name


def test_choices_are_ignored_for_other_kinds(ctx, admin):
    assert define(ctx, admin, "Notes", "text", choices="a\nb").choices is None


@pytest.mark.parametrize("data, field, message", [
    ({"name": "", "kind": "text"}, "name", "Name is required."),
    ({"name": "   ", "kind": "text"}, "name", "Name is required."),
    ({"name": "x" * 81, "kind": "text"}, "name", "at most 80 characters"),
    ({"name": "Size", "kind": "colour"}, "kind", "Kind must be one of: text, number, date, choice."),
    ({"name": "Size", "kind": ""}, "kind", "Kind is required."),
    ({"name": "Size", "kind": "choice"}, "choices", "Enter the choices, one per line."),
    ({"name": "Size", "kind": "choice", "choices": "\n  \n"}, "choices", "Enter the choices, one per line."),
    ({"name": "Size", "kind": "choice", "choices": "ok\n" + "x" * 101}, "choices", "at most 100 characters"),
    ({"name": "Size", "kind": "choice", "choices": "ok\nfile\u202etxt.exe"}, "choices", "plain text"),
    ({"name": "Size", "kind": "choice", "choices": "ok\nbell\x9b"}, "choices", "plain text"),
    ({"name": "Size", "kind": "choice", "choices": "\n".join(f"c{i}" for i in range(101))}, "choices",
     "at most 100 choices"),
    ({"name": "Size", "kind": "text", "position": "first"}, "position", "Position must be a whole number."),
    ({"name": "Size", "kind": "text", "colour": "red"}, "colour", "Unknown field."),
])
def test_bad_definitions_are_refused(ctx, admin, data, field, message):
    errors = errors_of(lambda: cf.create_field(ctx, admin, data))
    assert message in " ".join(errors[field])
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(CustomField)) == 0


def test_a_hundred_choices_of_a_hundred_characters_are_fine(ctx, admin):
    choices = "\n".join(f"{i:03d}" + "x" * 97 for i in range(100))
    assert len(define(ctx, admin, "Long", "choice", choices=choices).choice_list) == 100


def test_every_error_of_a_definition_is_reported_at_once(ctx, admin):
    errors = errors_of(lambda: cf.create_field(ctx, admin, {"name": "", "kind": "choice", "position": "x"}))
    assert set(errors) == {"name", "choices", "position"}


def test_names_are_unique_whatever_their_case(ctx, admin):
    first = define(ctx, admin, "Gate code")
    other = define(ctx, admin, "Alarm code")
    for name in ("Gate code", "GATE CODE", " gate Code "):
        errors = errors_of(lambda name=name: define(ctx, admin, name))
        assert errors["name"] == ["A custom field with this name already exists."]
        ctx.rollback()
    errors = errors_of(lambda: cf.update_field(ctx, admin, other.id, {"name": "gate CODE"}))
    assert errors["name"] == ["A custom field with this name already exists."]
    ctx.rollback()
    assert cf.update_field(ctx, admin, first.id, {"name": "GATE code"}).name == "GATE code"  # itself is fine


def test_only_admins_define_fields(ctx, admin):
    field = define(ctx, admin, "Gate code")
    for username in ("staff", "readonly", "reseller_a"):
        user = f.user(username)
        with pytest.raises(Forbidden):
            cf.create_field(ctx, user, {"name": "Mine", "kind": "text"})
        with pytest.raises(Forbidden):
            cf.update_field(ctx, user, field.id, {"name": "Theirs"})
        with pytest.raises(Forbidden):
            cf.delete_field(ctx, user, field.id)
    with pytest.raises(Forbidden):
        cf.create_field(ctx, None, {"name": "Anonymous", "kind": "text"})
    ctx.rollback()
    assert [x.name for x in cf.list_fields(ctx, active_only=False)] == ["Gate code"]


def test_update_changes_only_what_it_is_given(ctx, admin):
    field = define(ctx, admin, "Size", "choice", choices="S\nM", required=True, position=3)
    cf.update_field(ctx, admin, field.id, {"choices": "S\nM\nL", "active": False})
    ctx.expire_all()
    field = ctx.get(CustomField, field.id)
    assert (field.name, field.kind, field.choice_list, field.required, field.position, field.active) == (
        "Size", "choice", ["S", "M", "L"], True, 3, False)
    with pytest.raises(NotFound):
        cf.update_field(ctx, admin, 999_999, {"name": "x"})


def test_the_kind_cannot_change_once_a_customer_has_a_value(ctx, admin):
    field = define(ctx, admin, "Code")
    cf.update_field(ctx, admin, field.id, {"kind": "number"})  # no values yet: fine
    c = f.customer()
    cf.set_values(ctx, admin, c.id, {f"cf_{field.id}": "12"})
    errors = errors_of(lambda: cf.update_field(ctx, admin, field.id, {"kind": "text"}))
    assert "The kind cannot change" in errors["kind"][0]
    ctx.rollback()
    assert cf.update_field(ctx, admin, field.id, {"kind": "number", "name": "Code no."}).name == "Code no."


def test_deleting_a_field_deletes_its_values(ctx, admin):
    field, kept = define(ctx, admin, "Code"), define(ctx, admin, "Other")
    c = f.customer()
    cf.set_values(ctx, admin, c.id, {f"cf_{field.id}": "1234", f"cf_{kept.id}": "x"})
    cf.delete_field(ctx, admin, field.id)
    assert stored(ctx, c.id) == {kept.id: "x"}
    assert ctx.get(CustomField, field.id) is None
    trail = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "custom_value",
                                                 AuditEntry.action == "delete")).all()
    assert [(a.customer_id, a.changes["value"]) for a in trail] == [(c.id, ["1234", None])]


# ---- values -----------------------------------------------------------------------------
@pytest.fixture
def form(ctx, admin):
    """One field of each kind, plus an inactive one."""
    fields = {
        "text": define(ctx, admin, "Gate code", position=1),
        "number": define(ctx, admin, "Budget", "number", position=2),
        "date": define(ctx, admin, "Contract ends", "date", position=3),
        "choice": define(ctx, admin, "Size", "choice", choices="Small\nLarge", position=4),
        "required": define(ctx, admin, "Account code", required=True, position=5),
        "inactive": define(ctx, admin, "Old field", active=False, position=0),
    }
    return {kind: field.id for kind, field in fields.items()}


def key(form, kind):
    return f"cf_{form[kind]}"


def test_values_for_lists_active_fields_in_order_with_the_customers_values(ctx, admin, form):
    c = f.customer()
    rows = cf.values_for(ctx, f.user("staff"), c.id)
    assert [(field.name, value) for field, value in rows] == [
        ("Gate code", None), ("Budget", None), ("Contract ends", None), ("Size", None), ("Account code", None)]
    cf.set_values(ctx, f.user("staff"), c.id, {key(form, "text"): "1234", key(form, "required"): "AC-1"})
    assert [value for _, value in cf.values_for(ctx, admin, c.id)] == ["1234", None, None, None, "AC-1"]


@pytest.mark.parametrize("kind, raw, kept", [
    ("text", "  Side door, 1234#  ", "Side door, 1234#"),
    ("text", "<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("text", '=HYPERLINK("http://evil.example","click")', '=HYPERLINK("http://evil.example","click")'),
    ("text", "x" * 2_000, "x" * 2_000),
    ("number", "1200.50", "1200.5"),
    ("number", "1,200.50", "1200.5"),
    ("number", " -0012.000 ", "-12"),
    ("number", "+7", "7"),
    ("number", ".5", "0.5"),
    ("number", "-0.000", "0"),
    ("number", "999999999999999.999999", "999999999999999.999999"),
    ("number", "1.50000000", "1.5"),
    ("date", "2026-02-28", "2026-02-28"),
    ("date", "28/02/2026", "2026-02-28"),
    ("date", "1/3/2024", "2024-03-01"),
    ("date", "2024-02-29", "2024-02-29"),
    ("choice", "Large", "Large"),
    ("choice", " large ", "Large"),
])
def test_good_values_are_stored_as_text(ctx, form, kind, raw, kept):
    c = f.customer()
    cf.set_values(ctx, f.user("staff"), c.id, {key(form, kind): raw})
    assert stored(ctx, c.id) == {form[kind]: kept}


@pytest.mark.parametrize("kind, raw, message", [
    ("text", "x" * 2_001, "Gate code must be at most 2000 characters."),
    ("text", "two\nlines", "Gate code must be one line of plain text."),
    ("number", "12abc", "Budget must be a number"),
    ("number", "1e999", "Budget must be a number"),
    ("number", "NaN", "Budget must be a number"),
    ("number", "Infinity", "Budget must be a number"),
    ("number", "1.2.3", "Budget must be a number"),
    ("number", "12,34", "Budget must be a number"),
    ("number", "1234567890123456", "at most 15 digits before the point and 6 after it"),
    ("number", "1.1234567", "at most 15 digits before the point and 6 after it"),
    ("date", "2026-02-30", "Contract ends: 2026-02-30 is not a real date."),
    ("date", "31/04/2026", "Contract ends: 31/04/2026 is not a real date."),
    ("date", "tomorrow", "Contract ends must be a date as YYYY-MM-DD or DD/MM/YYYY."),
    ("date", "2026-2-3", "Contract ends must be a date as YYYY-MM-DD or DD/MM/YYYY."),
    ("date", "２０２６-01-01", "Contract ends must be a date as YYYY-MM-DD or DD/MM/YYYY."),
    ("date", "٠١/٠١/٢٠٢٦", "Contract ends must be a date as YYYY-MM-DD or DD/MM/YYYY."),
    ("number", "٣", "Budget must be a number"),
    ("choice", "Medium", "Size must be one of: Small, Large."),
    ("required", "", "Account code is required."),
    ("required", "   ", "Account code is required."),
])
def test_bad_values_are_refused(ctx, form, kind, raw, message):
    c = f.customer()
    errors = errors_of(lambda: cf.set_values(ctx, f.user("staff"), c.id, {key(form, kind): raw}))
    assert list(errors) == [key(form, kind)]
    assert message in errors[key(form, kind)][0]
    ctx.rollback()
    assert stored(ctx, c.id) == {}


def test_every_bad_value_is_reported_at_once_and_nothing_is_saved(ctx, form):
    staff = f.user("staff")
    c = f.customer()
    cf.set_values(ctx, staff, c.id, {key(form, "text"): "before", key(form, "required"): "AC-1"})
    errors = errors_of(lambda: cf.set_values(ctx, staff, c.id, {
        key(form, "text"): "x" * 2_001, key(form, "number"): "12abc", key(form, "date"): "2026-02-30",
        key(form, "choice"): "Huge", key(form, "required"): "", key(form, "inactive"): "x",
        "cf_999999": "x", "csrf_token": "ignored",
    }))
    assert set(errors) == {key(form, k) for k in ("text", "number", "date", "choice", "required", "inactive")} | {
        "cf_999999"}
    assert "does not exist" in errors["cf_999999"][0] and "does not exist" in errors[key(form, "inactive")][0]
    ctx.rollback()
    assert stored(ctx, c.id) == {form["text"]: "before", form["required"]: "AC-1"}


def test_empty_deletes_a_value_and_absent_keys_leave_values_alone(ctx, form):
    staff = f.user("staff")
    c = f.customer()
    cf.set_values(ctx, staff, c.id, {key(form, "text"): "1234", key(form, "number"): "5", key(form, "required"): "A"})
    cf.set_values(ctx, staff, c.id, {key(form, "text"): "", key(form, "number"): "6"})
    assert stored(ctx, c.id) == {form["number"]: "6", form["required"]: "A"}


def test_values_of_an_inactive_field_are_kept_but_hidden(ctx, admin, form):
    c = f.customer()
    cf.set_values(ctx, admin, c.id, {key(form, "text"): "1234"})
    cf.update_field(ctx, admin, form["text"], {"active": False})
    assert "Gate code" not in [field.name for field, _ in cf.values_for(ctx, admin, c.id)]
    assert stored(ctx, c.id) == {form["text"]: "1234"}
    with pytest.raises(Invalid):
        cf.set_values(ctx, admin, c.id, {key(form, "text"): "5678"})
    ctx.rollback()
    cf.update_field(ctx, admin, form["text"], {"active": True})
    assert {field.name: value for field, value in cf.values_for(ctx, admin, c.id)}["Gate code"] == "1234"


def test_a_choice_taken_off_the_list_stays_until_changed(ctx, admin, form):
    c = f.customer()
    cf.set_values(ctx, admin, c.id, {key(form, "choice"): "Small"})
    cf.update_field(ctx, admin, form["choice"], {"choices": "Large\nMedium"})
    cf.set_values(ctx, admin, c.id, {key(form, "choice"): "Small", key(form, "text"): "x"})  # resubmitted as shown
    assert stored(ctx, c.id)[form["choice"]] == "Small"
    with pytest.raises(Invalid):
        cf.set_values(ctx, admin, f.customer().id, {key(form, "choice"): "Small"})


def test_values_are_audited_on_their_customer(ctx, form):
    staff = f.user("staff")
    c = f.customer()
    cf.set_values(ctx, staff, c.id, {key(form, "number"): "1200.50"})
    cf.set_values(ctx, staff, c.id, {key(form, "number"): "1300"})
    cf.set_values(ctx, staff, c.id, {key(form, "number"): ""})
    trail = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "custom_value").order_by(AuditEntry.id)).all()
    assert [(a.action, a.customer_id, a.username, a.changes.get("value")) for a in trail] == [
        ("create", c.id, None, [None, "1200.5"]), ("update", c.id, None, ["1200.5", "1300"]),
        ("delete", c.id, None, ["1300", None])]


def test_another_resellers_customer_is_not_found(ctx, form, resellers):
    theirs = f.customer(reseller_id=resellers["Reseller B"])
    ours = f.customer(reseller_id=resellers["Reseller A"])
    reseller_a = f.user("reseller_a")
    with pytest.raises(NotFound):
        cf.values_for(ctx, reseller_a, theirs.id)
    with pytest.raises(NotFound):
        cf.set_values(ctx, reseller_a, theirs.id, {key(form, "text"): "mine now"})
    for bad_id in (999_999, "abc", None, 2**40):
        with pytest.raises(NotFound):
            cf.set_values(ctx, reseller_a, bad_id, {key(form, "text"): "x"})
    ctx.rollback()
    assert stored(ctx, theirs.id) == {}
    cf.set_values(ctx, reseller_a, ours.id, {key(form, "text"): "ours"})
    assert stored(ctx, ours.id) == {form["text"]: "ours"}


def test_display_shows_values_as_stored(ctx, form):
    field = ctx.get(CustomField, form["date"])
    assert cf.display(field, "2026-02-28") == "2026-02-28"
    assert cf.display(field, None) == ""


# ---- deleting customers (needs the wiring in delete_customer and bulk._delete) ----------
def test_deleting_a_customer_deletes_its_values(ctx, admin, form):
    c = f.customer()
    cf.set_values(ctx, admin, c.id, {key(form, "text"): "1234", key(form, "number"): "5"})
    customer_id = c.id
    delete_customer(ctx, admin, customer_id)
    assert stored(ctx, customer_id) == {}
    deleted = {a.entity for a in ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == customer_id,
                                                                     AuditEntry.action == "delete"))}
    assert {"customer", "custom_value"} <= deleted


def test_a_bulk_delete_deletes_their_values(ctx, admin, form):
    doomed, kept = f.customer(), f.customer()
    for c in (doomed, kept):
        cf.set_values(ctx, admin, c.id, {key(form, "text"): f"code {c.id}"})
    doomed_id, kept_id = doomed.id, kept.id
    job = bulk.prepare(ctx, admin, "delete", {"confirm": "delete"}, ids=[doomed_id])
    ctx.commit()
    bulk.run(ctx, job)
    assert job.result["changed"] == 1
    assert stored(ctx, doomed_id) == {}
    assert stored(ctx, kept_id) == {form["text"]: f"code {kept_id}"}


@pytest.mark.parametrize("permission, allowed", [("can_add", "create"), ("can_edit", "update"), ("can_delete", "delete")])
def test_a_role_granted_a_custom_field_permission_in_the_browser_does_that_and_nothing_more(
        app, ctx, admin, permission, allowed):
    field = define(ctx, admin, "Gate code")
    with role_user(app, ctx, "Office", like="Staff", grants=[(permission, "CustomFieldView")]) as office:
        attempts = {"create": lambda: cf.create_field(ctx, office, {"name": "Meter", "kind": "text"}),
                    "update": lambda: cf.update_field(ctx, office, field.id, {"name": "Gate"}),
                    "delete": lambda: cf.delete_field(ctx, office, field.id)}
        for operation, attempt in attempts.items():
            if operation == allowed:
                attempt()
            else:
                with pytest.raises(Forbidden):
                    attempt()
                ctx.rollback()
    names = [x.name for x in cf.list_fields(ctx, active_only=False)]
    assert names == {"create": ["Gate code", "Meter"], "update": ["Gate"], "delete": []}[allowed]
