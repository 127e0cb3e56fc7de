"""One-time form keys: the second claim of a key is refused, in any transaction."""
import uuid

import pytest

from app.services.errors import Invalid
from app.services.forms import claim_form_key


def test_a_form_key_is_claimed_once(ctx):
    key = str(uuid.uuid4())
    assert claim_form_key(ctx, key) is True
    ctx.commit()
    assert claim_form_key(ctx, key) is False


def test_a_key_that_is_not_a_uuid_is_invalid(ctx):
    with pytest.raises(Invalid) as e:
        claim_form_key(ctx, "not-a-key")
    assert "form_key" in e.value.errors
