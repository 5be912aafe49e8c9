"""The pseudonym module, without a database."""

import pytest

from disclosure.pseudonyms import (
    InvalidPseudonym,
    pseudonymise,
    reidentify,
)

KEY_A = bytes(range(64))
KEY_B = bytes(range(1, 65))
WARRANT_A, WARRANT_B = "WD-2026-000001", "WD-2026-000002"


def test_a_pseudonym_round_trips_to_the_identifier():
    token = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)

    assert reidentify(token, scope=WARRANT_A, keys={"a1": KEY_A}) == "user-4711"


def test_the_same_person_in_the_same_warrant_gets_the_same_pseudonym():
    first = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)
    again = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)

    assert first == again
    assert first != pseudonymise("user-4712", scope=WARRANT_A, key_id="a1", key=KEY_A)


def test_different_warrants_give_unlinkable_pseudonyms():
    in_a = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)
    in_b = pseudonymise("user-4711", scope=WARRANT_B, key_id="b1", key=KEY_B)
    same_key_other_scope = pseudonymise("user-4711", scope=WARRANT_B, key_id="a1", key=KEY_A)

    assert len({in_a.split(".")[2], in_b.split(".")[2], same_key_other_scope.split(".")[2]}) == 3


def test_a_tampered_token_is_refused():
    token = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)
    last = token[-1]
    tampered = token[:-1] + ("a" if last != "a" else "b")

    with pytest.raises(InvalidPseudonym, match="altered"):
        reidentify(tampered, scope=WARRANT_A, keys={"a1": KEY_A})


def test_an_unknown_key_id_is_refused():
    token = pseudonymise("user-4711", scope=WARRANT_B, key_id="b1", key=KEY_B)

    with pytest.raises(InvalidPseudonym, match="not made with this warrant's key"):
        reidentify(token, scope=WARRANT_A, keys={"a1": KEY_A})


def test_a_token_of_another_warrant_under_a_reused_key_id_is_refused():
    token = pseudonymise("user-4711", scope=WARRANT_B, key_id="a1", key=KEY_B)

    with pytest.raises(InvalidPseudonym, match="another warrant"):
        reidentify(token, scope=WARRANT_A, keys={"a1": KEY_A})


def test_the_wrong_scope_is_refused_even_with_the_right_key():
    token = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)

    with pytest.raises(InvalidPseudonym):
        reidentify(token, scope=WARRANT_B, keys={"a1": KEY_A})


@pytest.mark.parametrize("junk", ["", "hello", "p2.a1.abcd", "p1.a1.!!!!", "p1.a1"])
def test_junk_is_refused_with_a_reason(junk):
    with pytest.raises(InvalidPseudonym) as refusal:
        reidentify(junk, scope=WARRANT_A, keys={"a1": KEY_A})

    assert refusal.value.reason


def test_keys_rotate_like_secret_key_fallbacks():
    old = pseudonymise("user-4711", scope=WARRANT_A, key_id="old", key=KEY_B)

    assert reidentify(old, scope=WARRANT_A, keys={"new": KEY_A, "old": KEY_B}) == "user-4711"


def test_a_known_answer_pins_the_format():
    token = pseudonymise("user-4711", scope=WARRANT_A, key_id="a1", key=KEY_A)

    assert token == "p1.a1." + token.split(".")[2]
    assert token.split(".")[2] == (pseudonymise("user-4711", scope=WARRANT_A, key_id="zz", key=KEY_A).split(".")[2]), (
        "the key id is a label, not an input to the cipher"
    )
    assert token == KNOWN_ANSWER


KNOWN_ANSWER = "p1.a1.xuqaed6mleoutnpsalqs3hol2nr6wicpwb6rf5on"


def _other_spellings(token: str) -> list[str]:
    """Strings that base32-decode to the same bytes as ``token``: the last character with other unused
    low bits, upper case, "=" padding."""
    import base64

    head, body = token.rsplit(".", 1)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    sealed = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    same_bytes = [
        body[:-1] + letter
        for letter in alphabet
        if letter != body[-1] and base64.b32decode((body[:-1] + letter).upper() + "=" * (-len(body) % 8)) == sealed
    ]
    padded = body + "=" * (-len(body) % 8)
    return [f"{head}.{variant}" for variant in [*same_bytes, body.upper(), padded if padded != body else body + "="]]


@pytest.mark.parametrize("uid", ["user-47", "gen-5-000123", "u", "kakao:room-1:0123456789ab"])
def test_only_the_canonical_spelling_of_a_token_opens(uid):
    token = pseudonymise(uid, scope=WARRANT_A, key_id="a1", key=KEY_A)
    variants = _other_spellings(token)
    assert variants and token not in variants

    assert reidentify(token, scope=WARRANT_A, keys={"a1": KEY_A}) == uid
    for variant in variants:
        with pytest.raises(InvalidPseudonym, match="altered") as refusal:
            reidentify(variant, scope=WARRANT_A, keys={"a1": KEY_A})
        assert refusal.value.code == InvalidPseudonym.ALTERED
        assert refusal.value.key_id == "a1"


def test_a_tokens_unused_bits_give_other_spellings_for_most_lengths():
    token = pseudonymise("user-47", scope=WARRANT_A, key_id="a1", key=KEY_A)  # 23 bytes: one unused bit

    assert len([v for v in _other_spellings(token) if not v.isupper() and "=" not in v]) >= 2


def test_refusals_say_which_kind_and_name_the_key_id():
    foreign = pseudonymise("user-4711", scope=WARRANT_B, key_id="b1", key=KEY_B)

    with pytest.raises(InvalidPseudonym) as unknown_key:
        reidentify(foreign, scope=WARRANT_A, keys={"a1": KEY_A})
    with pytest.raises(InvalidPseudonym) as malformed:
        reidentify("p1.a1", scope=WARRANT_A, keys={"a1": KEY_A})
    with pytest.raises(InvalidPseudonym) as junk:
        reidentify("hello", scope=WARRANT_A, keys={"a1": KEY_A})

    assert (unknown_key.value.code, unknown_key.value.key_id) == (InvalidPseudonym.UNKNOWN_KEY, "b1")
    assert (malformed.value.code, malformed.value.key_id) == (InvalidPseudonym.MALFORMED, "a1")
    assert (junk.value.code, junk.value.key_id) == (InvalidPseudonym.MALFORMED, "")
