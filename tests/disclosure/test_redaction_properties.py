"""Property: however an identifier of the account directory is spelled inside a Korean or English
sentence, no non-target's survives redaction, and a target's stays as written (hypothesis)."""

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disclosure.directory import DirectoryIndex, squeeze
from disclosure.pseudonyms import pseudonymise
from disclosure.redaction import EMAIL_REMOVED, NAME_REMOVED, PHONE_REMOVED, PLACEHOLDER, RRN_REMOVED, Person, Redactor

KEY = bytes(range(64))

# participants of the scope (targets among them), and accounts of the directory outside it
ROSTER = [
    Person("tak_jaehoon", "탁재훈", phone="+821023456789", email="jaehoon@example.kr", target=True),
    Person("u-0001", "Olivia Hart", phone="+821034567890", email="olivia.hart@example.com"),
    Person("byun.ws", "변우석", phone="+821045678901", email="ws.byun@example.kr"),
    Person("gen-7-000123", "Noah Quinn 🌸", phone="+821056789012", email="nq@example.org", target=True),
    Person("yeom_jungah99", "염정아", phone="+821067890123", email="jungah@example.net"),
    Person("pxk-4711", "Percy Blake", phone="+821078901234", email="percy.blake@example.com"),
    Person("seol-kh", "설경구", phone="+821089012345", email="kyunggu@example.kr"),
]
PARTICIPANTS = ROSTER[:4]  # the others are named in text only: found through the directory
LOOKUP = {("phone", p.phone): p for p in ROSTER} | {("email", p.email): p for p in ROSTER}

FILLERS = [
    "오늘 저녁에 뭐 먹을까?", "내일 회의는 3시야", "ㅋㅋㅋ 진짜", "2025-10-23 오후 2:30", "1,000,000원 보냈어",
    "see you at 7", "running 10 min late", "the order is 98765", "paid 250,000 won", "sounds good",
]  # fmt: skip
SENTENCES = [
    "{}한테 물어봐", "내 번호는 {} 입니다", "{}로 연락주세요", "어제 {}이 왔어", "주민번호 {} 맞죠?",
    "@{} 확인 부탁해요", "call {} tomorrow", "ask {}, she knows", "my id is {}.", "({})", "{}", "send it to {} please",
]  # fmt: skip

SPACING = ["", " ", "  ", "\u3000", "\u200b", "\u00a0", "_", ".", "·", "-"]
DASHES = ["-", " - ", "ㅡ", " ㅡ ", "~", "/", " ", "  ", ".", "－", "–", "\u2212", "ᅳ", "一", "\u200b"]
PREFIXES = ["0", "+82 ", "+82-", "+82", "0082-", "0082 ", "0082", "82-", "82 ", "82", "+82 (0)", "+82 0"]


def token(person: Person) -> str:
    return pseudonymise(person.uid, scope="WD-2026-000099", key_id="ab12cd34", key=KEY)


def make_redactor() -> Redactor:
    index = DirectoryIndex()
    for ref, person in enumerate(ROSTER):
        index.add(ref, uid=person.uid, display_name=person.display_name, target=person.target)
    return Redactor(
        PARTICIPANTS,
        lookup=lambda kind, value: LOOKUP.get((kind, value)),
        pseudonym=token,
        directory=index.freeze(),
        resolve=ROSTER.__getitem__,
    )


REDACTOR = make_redactor()


def _wide(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char


@st.composite
def widths(draw, text: str) -> str:
    """Each ASCII character as written or in its full-width form; letters in either case."""
    out = []
    for char in text:
        if char.isalpha() and char.isascii():
            char = draw(st.sampled_from([char.lower(), char.upper()]))
        out.append(_wide(char) if draw(st.booleans()) else char)
    return "".join(out)


@st.composite
def name_spelling(draw, person: Person) -> str:
    name = person.display_name.split(" 🌸")[0] if draw(st.booleans()) else person.display_name
    if name.isascii():
        first, _, last = name.partition(" ")
        return draw(widths(first)) + draw(st.sampled_from(SPACING)) + draw(widths(last))
    spaced = draw(st.sampled_from(SPACING)).join(name)  # 3 syllables: spacing may go between them
    return unicodedata.normalize("NFD", spaced) if draw(st.booleans()) else spaced


@st.composite
def phone_spelling(draw, person: Person) -> str:
    national = person.phone.removeprefix("+82")  # "1023456789"
    prefix = draw(st.sampled_from(PREFIXES))
    groups = [national[:2], national[2:6], national[6:]]
    if prefix == "0" and draw(st.booleans()):
        groups = [national[:6], national[6:]]  # "010 2345 6789" or "0102345-6789"
    dash = draw(st.sampled_from(DASHES))
    digits = prefix + dash.join(groups)
    return "".join(_wide(c) if c.isdigit() and draw(st.booleans()) else c for c in digits)


@st.composite
def rrn_spelling(draw) -> str:
    year, month, day = draw(st.integers(0, 99)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    serial = f"{draw(st.integers(1, 8))}{draw(st.integers(0, 999999)):06d}"
    written = f"{year:02d}{month:02d}{day:02d}{draw(st.sampled_from(['-', ' - ', ' ', '', 'ㅡ', '－']))}{serial}"
    return "".join(_wide(c) if c.isdigit() and draw(st.booleans()) else c for c in written)


@st.composite
def mentions(draw):
    """(piece of text, the identifier as written, its kind, the person or None for an RRN)."""
    kind = draw(st.sampled_from(["name", "uid", "phone", "email", "rrn"]))
    person = draw(st.sampled_from(ROSTER))
    if kind == "name":
        written = draw(name_spelling(person))
    elif kind == "uid":
        written = draw(widths(person.uid))
    elif kind == "phone":
        written = draw(phone_spelling(person))
    elif kind == "email":
        written = draw(widths(person.email))
    else:
        written, person = draw(rrn_spelling()), None
    sentence = draw(st.sampled_from(SENTENCES))
    return sentence.format(written), written, kind, person


def _digits(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


def _without_redactions(text: str) -> str:
    text = PLACEHOLDER.sub(" ", text)
    for mask in (EMAIL_REMOVED, NAME_REMOVED, PHONE_REMOVED, RRN_REMOVED):
        text = text.replace(mask, " ")
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.one_of(mentions(), st.sampled_from(FILLERS)), min_size=1, max_size=4),
    joiner=st.sampled_from([" ", ", ", " ㅋㅋ ", "\n", ". "]),
)
def test_no_identifier_of_a_non_target_survives_however_it_is_spelled(pieces, joiner):
    text = joiner.join(piece if isinstance(piece, str) else piece[0] for piece in pieces)

    out = REDACTOR.redact(text)

    rest = _without_redactions(out)
    for piece in pieces:
        if isinstance(piece, str):
            continue
        _sentence, written, kind, person = piece
        if person is not None and person.target and kind != "rrn":  # a target's stays as written
            assert unicodedata.normalize("NFC", written) in unicodedata.normalize("NFC", out), (text, out)
            continue
        if kind == "rrn":
            assert _digits(written) not in _digits(rest), (text, out)
        elif kind == "phone":
            assert person.phone.removeprefix("+82") not in _digits(rest), (text, out)
        elif kind == "email":
            assert person.email not in unicodedata.normalize("NFKC", rest).casefold(), (text, out)
        else:
            for identifier in (person.uid, person.display_name.split(" 🌸")[0]):
                assert squeeze(identifier) not in squeeze(rest), (text, out)
        assert f"[[{token(person)}]]" in out if person is not None else RRN_REMOVED in out, (text, out)
    assert REDACTOR.redact(out) == out
