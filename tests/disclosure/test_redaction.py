"""Redaction of message text (disclosure.redaction), without a database."""

import random
import re
import unicodedata

import pytest

from disclosure.pseudonyms import pseudonymise
from disclosure.redaction import (
    EMAIL_REMOVED,
    NAME_REMOVED,
    PHONE_REMOVED,
    PLACEHOLDER,
    RRN_REMOVED,
    Person,
    Redactor,
)

KEY = bytes(range(64))
WARRANT = "WD-2026-000042"

TARGET = Person("u-target", "Kim Minsu", phone="+821011112222", email="minsu.kim@example.com", target=True)
TARGET_KO = Person("u-target-ko", "박서준", phone="+821077778888", target=True)
KIM = Person("u-kim", "Kim", phone="+821033334444", email="kim@example.org")
JIEUN = Person("u-jieun", "이지은", phone="+821055556666", email="jieun@example.kr")
MINSU = Person("u-minsu", "민수")
CHLOE = Person("u-chloe", "Chloé Martin", email="chloe@example.fr")
PEOPLE = [TARGET, TARGET_KO, KIM, JIEUN, MINSU, CHLOE]

# Accounts of the store that are not participants, found by ``lookup``.
STRANGER = Person("u-stranger", "Stranger", phone="+821099998888")
MAILER = Person("u-mailer", "Mailer", email="someone@example.net")
LONDON = Person("u-london", "London", phone="+442079460958")
TARGET_ELSEWHERE = Person("u-target-2", "Other target", phone="+821044445555", target=True)
STORE = {
    ("phone", "+821099998888"): STRANGER,
    ("email", "someone@example.net"): MAILER,
    ("phone", "+442079460958"): LONDON,
    ("phone", "+821044445555"): TARGET_ELSEWHERE,
}


def token(person: Person) -> str:
    return pseudonymise(person.uid, scope=WARRANT, key_id="ab12cd34", key=KEY)


def ph(person: Person) -> str:
    return f"[[{token(person)}]]"


def make(people=PEOPLE, store=STORE, calls=None):
    def lookup(kind, value):
        if calls is not None:
            calls.append((kind, value))
        return store.get((kind, value))

    return Redactor(people, lookup=lookup, pseudonym=token)


@pytest.fixture
def redactor():
    return make()


# --- nothing to do ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "오늘 저녁에 뭐 먹을까?",
        "what time is the meeting tomorrow?",
        "3시에 보자",
        "meeting moved to 2025-10-23 10:30",
        "회의는 2025.10.23 오후 2:30에",
        "I paid 1,000,000 won",
        "the order is 12345",
        "order number 123456789",
        "송금 완료 +12000000원",
        "국민 123-45-678901 으로 입금해주세요",
        "https://shop.example/item/123456 이거 어때?",
        "score +1, then +30 points",
        "Kimchi is great",
        "a cat and a dog",
        "email me @ your convenience",
        "KTX 몇 시 거야? 11번 출구",
    ],
)
def test_text_without_identifiers_is_returned_as_the_same_object(redactor, text):
    assert redactor.redact(text) is text


def test_text_with_only_a_target_identifier_is_returned_as_the_same_object(redactor):
    text = "Kim Minsu: call me at 010-1111-2222 or minsu.kim@example.com"
    assert redactor.redact(text) is text


# --- phone numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "010-3333-4444",
        "010 3333 4444",
        "010.3333.4444",
        "01033334444",
        "010-33334444",
        "+82 10-3333-4444",
        "+82-10-3333-4444",
        "+82 10 3333 4444",
        "+82 (0)10 3333 4444",
        "+82 010-3333-4444",
        "+821033334444",
        "010 - 3333 - 4444",
        "010–3333–4444",
        "０１０－３３３３－４４４４",
    ],
)
def test_a_non_target_participants_number_becomes_their_token_in_any_form(redactor, written):
    assert redactor.redact(f"번호 {written} 입니다") == f"번호 {ph(KIM)} 입니다"
    assert redactor.redact(f"call me at {written}.") == f"call me at {ph(KIM)}."
    assert redactor.redact(f"{written}로 연락주세요") == f"{ph(KIM)}로 연락주세요"


@pytest.mark.parametrize("written", ["010-1111-2222", "01011112222", "+82 10 1111 2222", "+82-10-1111-2222"])
def test_a_targets_number_stays_exactly_as_written(redactor, written):
    text = f"제 번호 {written} 입니다"
    assert redactor.redact(text) == text


def test_a_number_of_an_account_outside_the_participants_becomes_its_token():
    calls = []
    redactor = make(calls=calls)

    text = "이 사람한테 물어봐 010-9999-8888, again: 01099998888"

    assert redactor.redact(text) == f"이 사람한테 물어봐 {ph(STRANGER)}, again: {ph(STRANGER)}"
    assert calls == [("phone", "+821099998888")]  # looked up once, then remembered


def test_a_looked_up_target_keeps_their_number():
    redactor = make()
    text = "new number: 010-4444-5555"
    assert redactor.redact(text) == text


@pytest.mark.parametrize(
    "written",
    ["010-2222-3333", "01022223333", "011-234-5678", "02-123-4567", "02-1234-5678", "(02) 123-4567", "031-123-4567",
     "051 234 5678", "+82 2 123 4567", "+1 415 555 0100", "+1 (415) 555-0100", "+33 1 23 45 67 89"],
)  # fmt: skip
def test_a_number_of_no_account_is_masked(redactor, written):
    assert redactor.redact(f"담당자 연락처: {written}") == f"담당자 연락처: {PHONE_REMOVED}"
    assert redactor.redact(f"text {written} instead") == f"text {PHONE_REMOVED} instead"


def test_without_lookup_a_number_of_no_participant_is_masked():
    redactor = Redactor(PEOPLE, pseudonym=token)
    assert redactor.redact("010-9999-8888 여기로 문자 주세요") == f"{PHONE_REMOVED} 여기로 문자 주세요"


def test_an_international_number_followed_by_a_figure_is_still_recognised(redactor):
    assert redactor.redact("+44 20 7946 0958 2 times") == f"{ph(LONDON)} 2 times"
    assert redactor.redact("+44 20 7946 0958") == ph(LONDON)


def test_participants_numbers_may_be_given_unnormalised():
    redactor = Redactor([Person("u-x", "X Y", phone="010-6666-7777")], pseudonym=token)
    assert redactor.redact("+82 10 6666 7777") == f"[[{token(Person('u-x', 'X Y'))}]]"


# --- contacts: what a caller may ask for at once, before redacting --------------------------------

CONTACT_TEXTS = [
    "이 사람한테 물어봐 010-9999-8888, again: +82 10 9999 8888",
    "mail SomeOne@Example.NET or x.y+z@mail.example.co.kr",
    "+44 20 7946 0958 2 times",
    "번호 ０１０－９８７６－５４３２ 입니다",
    "call ٠١٠-١٢٣٤-٥٦٧٨ now",
    "(02) 123-4567, 0082-10-4444-5555, 82 10 2345 6789, +1 (415) 555-0100",
    "ｓｏｍｅｏｎｅ＠ｅｘａｍｐｌｅ．ｎｅｔ",
]


@pytest.mark.parametrize("text", CONTACT_TEXTS)
def test_contacts_lists_every_value_redact_looks_up(text):
    calls = []
    redactor = make(calls=calls)

    listed = redactor.contacts(text)
    redactor.redact(text)

    assert calls and set(calls) <= set(listed)


def test_contacts_are_normalised_and_leave_out_participants_and_values_looked_up():
    redactor = make()

    assert redactor.contacts("010-9999-8888 / SomeOne@Example.NET / +44 20 7946 0958 2") == [
        ("phone", "+821099998888"),
        ("email", "someone@example.net"),
        ("phone", "+4420794609582"),  # what the free grouping may be, longest first ("2" may be part of it)
        ("phone", "+442079460958"),
        ("phone", "+44207946"),
    ]
    assert redactor.contacts("KIM 010-3333-4444 kim@example.org, Kim Minsu 010-1111-2222") == []
    redactor.redact("010-9999-8888")
    assert redactor.contacts("+82 10 9999 8888 or 010-2222-3333") == [("phone", "+821022223333")]


@pytest.mark.parametrize(
    "text",
    ["", "see you at 7", "3시에 보자", "email me @ your convenience", "ㅋㅋㅋ", "@Kim 고마워", "[[p1.ab12.xyz]]"],
)
def test_contacts_of_text_without_a_number_or_an_address_are_none(redactor, text):
    assert redactor.contacts(text) == []


def test_the_class_of_other_digits_is_the_table_of_other_digits():
    """The fast check's class of decimal digits other than ASCII and full-width is written as a negated
    class (the engine tests it in constant time): it holds exactly the characters the slow path maps."""
    from disclosure.redaction import _OTHER_DIGIT_CLASS, _OTHER_DIGITS

    everything = "".join(map(chr, range(0x110000)))

    assert {ord(c) for c in re.findall(_OTHER_DIGIT_CLASS, everything)} == set(_OTHER_DIGITS)


# --- e-mail addresses ------------------------------------------------------------------------------


def test_e_mail_addresses(redactor):
    text = "mail Minsu.Kim@Example.com, KIM@EXAMPLE.ORG, someone@example.net or x.y+z@mail.example.co.kr"
    assert redactor.redact(text) == (f"mail Minsu.Kim@Example.com, {ph(KIM)}, {ph(MAILER)} or {EMAIL_REMOVED}")


def test_e_mail_addresses_inside_korean_text(redactor):
    assert redactor.redact("자료는 jieun@example.kr로 부탁드려요") == f"자료는 {ph(JIEUN)}로 부탁드려요"
    assert redactor.redact("메일은user1@example.com 입니다") == f"메일은{EMAIL_REMOVED} 입니다"


def test_a_full_width_e_mail_address(redactor):
    assert redactor.redact("ｋｉｍ＠ｅｘａｍｐｌｅ．ｏｒｇ 으로") == f"{ph(KIM)} 으로"


def test_a_name_inside_an_e_mail_address_is_part_of_the_address(redactor):
    # "kim" is a non-target's name, but here it is the target's address, which stays
    text = "write to minsu.kim@example.com"
    assert redactor.redact(text) is text
    assert redactor.redact("write to kim.lee@example.com") == f"write to {EMAIL_REMOVED}"


# --- resident registration numbers ------------------------------------------------------------------


@pytest.mark.parametrize("written", ["900101-1234567", "9001011234567", "040229-3123456", "851231–2345678"])
def test_resident_registration_numbers_are_always_masked(redactor, written):
    assert redactor.redact(f"주민번호 {written} 맞죠?") == f"주민번호 {RRN_REMOVED} 맞죠?"
    assert redactor.redact(f"RRN: {written}") == f"RRN: {RRN_REMOVED}"


def test_a_targets_resident_registration_number_is_masked_too(redactor):
    assert redactor.redact("Kim Minsu 900101-1234567") == f"Kim Minsu {RRN_REMOVED}"


def test_a_starred_out_resident_registration_number_is_masked_too(redactor):
    assert redactor.redact("900101-1****** 입니다") == f"{RRN_REMOVED} 입니다"
    assert redactor.redact("ID 900101-2XXXXXX") == f"ID {RRN_REMOVED}"


@pytest.mark.parametrize("text", ["901301-1234567", "900132-1234567", "900101-9234567", "12900101-1234567"])
def test_numbers_that_are_not_resident_registration_numbers_stay(redactor, text):
    assert redactor.redact(text) is text


# --- names and mentions ----------------------------------------------------------------------------


def test_a_non_target_hangul_name_with_particles(redactor):
    assert redactor.redact("이지은한테 물어봐") == f"{ph(JIEUN)}한테 물어봐"
    assert redactor.redact("민수야 밥 먹자, 민수가 쏜대") == f"{ph(MINSU)}야 밥 먹자, {ph(MINSU)}가 쏜대"


def test_hangul_names_match_as_substrings(redactor):
    assert redactor.redact("김민수가 왔어") == f"김{ph(MINSU)}가 왔어"


def test_latin_names_match_case_insensitively_on_word_boundaries(redactor):
    assert redactor.redact("kim said hi, KIM said bye") == f"{ph(KIM)} said hi, {ph(KIM)} said bye"
    assert redactor.redact("Kim's car, Kim이 왔다, (Kim)") == f"{ph(KIM)}'s car, {ph(KIM)}이 왔다, ({ph(KIM)})"
    for text in ["Kimchi", "aKim", "Kima", "Kim_1", "éKim", "Kimé", "Kim2"]:
        assert redactor.redact(text) is text


def test_whitespace_inside_a_name_matches_any_whitespace(redactor):
    assert redactor.redact("CHLOÉ  MARTIN\nand chloé\tmartin") == f"{ph(CHLOE)}\nand {ph(CHLOE)}"


def test_the_longest_name_wins():
    kim_minsu, kim = Person("u-a", "Kim Minsu"), Person("u-b", "Kim")
    redactor = make([kim, kim_minsu])
    assert redactor.redact("Kim Minsu and Kim") == f"{ph(kim_minsu)} and {ph(kim)}"
    assert redactor.redact("Kim Minsukyung") == f"{ph(kim)} Minsukyung"
    lee, lee_jieun = Person("u-c", "이지"), Person("u-d", "이지은")
    redactor = make([lee, lee_jieun])
    assert redactor.redact("이지은이 이지를") == f"{ph(lee_jieun)}이 {ph(lee)}를"


def test_a_target_name_is_never_replaced(redactor):
    text = "Kim Minsu, kim minsu, 박서준이 왔다"
    assert redactor.redact(text) is text


def test_a_target_name_containing_a_non_target_name_wins_where_it_occurs(redactor):
    assert redactor.redact("Kim Minsu met Kim") == f"Kim Minsu met {ph(KIM)}"
    target = Person("u-t", "이민수", target=True)
    redactor = make([target, MINSU])
    assert redactor.redact("이민수가 민수를 만났다") == f"이민수가 {ph(MINSU)}를 만났다"


def test_a_non_target_name_containing_a_target_name_is_replaced():
    target, other = Person("u-t", "Minsu", target=True), Person("u-o", "Minsu Park")
    redactor = make([target, other])
    assert redactor.redact("Minsu Park and Minsu") == f"{ph(other)} and Minsu"


def test_overlapping_names_the_first_to_start_wins():
    target, other = Person("u-t", "가나", target=True), Person("u-o", "나다")
    redactor = make([target, other])
    assert redactor.redact("가나다") == "가나다"
    assert redactor.redact("나다가나") == f"{ph(other)}가나"


def test_a_name_shared_by_a_target_and_a_non_target_stays():
    target, other = Person("u-t", "Alex", target=True), Person("u-o", "alex")
    redactor = make([target, other])
    assert redactor.redact("alex and Alex") == "alex and Alex"


def test_a_name_shared_by_several_non_targets_is_masked():
    one, two = Person("u-1", "지호"), Person("u-2", "지호")
    redactor = make([one, two])
    assert redactor.redact("지호야") == f"{NAME_REMOVED}야"


def test_mentions(redactor):
    assert redactor.redact("@Kim did you see this?") == f"@{ph(KIM)} did you see this?"
    assert redactor.redact("@이지은 확인 부탁해요") == f"@{ph(JIEUN)} 확인 부탁해요"
    assert redactor.redact("@chloé_martin @ChloeMartin @chloé.martin @ChloéMartin") == (
        f"@{ph(CHLOE)} @ChloeMartin @{ph(CHLOE)} @{ph(CHLOE)}"
    )
    assert redactor.redact("＠이지은 고마워요!") == f"＠{ph(JIEUN)} 고마워요!"
    text = "@Kim Minsu @KimMinsu @kim_minsu 언제 와?"  # the target's
    assert redactor.redact(text) is text


def test_one_character_names_are_matched_only_as_mentions():
    min_ = Person("u-min", "민")
    redactor = make([min_])
    assert redactor.redact("@민 시민 여러분") == f"@{ph(min_)} 시민 여러분"
    text = "시민 여러분 민"
    assert redactor.redact(text) is text


def test_a_mention_prefers_the_longest_name():
    min_, minsu = Person("u-min", "민"), Person("u-minsu", "민수")
    redactor = make([min_, minsu])
    assert redactor.redact("@민수야 @민아") == f"@{ph(minsu)}야 @{ph(min_)}아"


def test_decorated_names_are_found_with_and_without_the_decoration():
    flower = Person("u-f", "김민준 🌸")
    work = Person("u-w", "이서연(회사)")
    bob = Person("u-b", "Bob (work)")
    redactor = make([flower, work, bob, TARGET_KO])
    assert redactor.redact("@김민준 🌸 김민준 씨") == f"@{ph(flower)} {ph(flower)} 씨"
    assert redactor.redact("이서연(회사)님, 이서연님") == f"{ph(work)}님, {ph(work)}님"
    assert redactor.redact("ask Bob") == f"ask {ph(bob)}"


def test_a_bare_name_that_is_someone_elses_display_name_is_theirs():
    decorated, plain = Person("u-d", "김민준(회사)"), Person("u-p", "김민준")
    redactor = make([decorated, plain])
    assert redactor.redact("김민준(회사) 김민준") == f"{ph(decorated)} {ph(plain)}"


def test_a_decorated_target_keeps_the_bare_name_too():
    target, other = Person("u-t", "김민준 🌸", target=True), Person("u-o", "민준")
    redactor = make([target, other])
    text = "김민준 왔어? 김민준 🌸"
    assert redactor.redact(text) is text


def test_names_with_pattern_characters_are_matched_literally():
    odd = Person("u-odd", "[work] Kim+Lee (2)")
    redactor = make([odd])
    assert redactor.redact("ask [work] Kim+Lee (2) now") == f"ask {ph(odd)} now"
    text = "ask work Kim Lee 2 now"
    assert redactor.redact(text) is text


def test_a_display_name_that_is_a_phone_number_is_handled_as_the_number():
    numbered = Person("u-n", "010-3333-4444", phone="+821033334444")
    redactor = make([numbered])
    assert redactor.redact("010-3333-4444 said so") == f"{ph(numbered)} said so"


def test_people_without_a_name_are_ignored():
    redactor = make([Person("u-e", ""), Person("u-s", "  ")])
    text = "hello there"
    assert redactor.redact(text) is text


def test_decomposed_hangul_is_matched():
    redactor = make()
    text = unicodedata.normalize("NFD", "이지은한테 물어봐")
    assert redactor.redact(text) == f"{ph(JIEUN)}한테 물어봐"
    plain = unicodedata.normalize("NFD", "오늘 저녁에 뭐 먹을까?")
    assert redactor.redact(plain) is plain


# --- several at once, placeholders, idempotence ----------------------------------------------------


def test_several_identifiers_in_one_text(redactor):
    text = (
        "Kim Minsu(010-1111-2222)가 Kim한테 010-3333-4444, jieun@example.kr, 010-2222-3333 "
        "그리고 주민번호 900101-1234567 보냈대. @이지은 2025-10-23 14:00에 1,000,000원"
    )
    assert redactor.redact(text) == (
        f"Kim Minsu(010-1111-2222)가 {ph(KIM)}한테 {ph(KIM)}, {ph(JIEUN)}, {PHONE_REMOVED} "
        f"그리고 주민번호 {RRN_REMOVED} 보냈대. @{ph(JIEUN)} 2025-10-23 14:00에 1,000,000원"
    )


def test_placeholders_find_the_tokens(redactor):
    out = redactor.redact("Kim and 이지은")
    assert PLACEHOLDER.findall(out) == [token(KIM), token(JIEUN)]


def test_placeholders_and_masks_are_not_matched_inside():
    # participants whose names appear inside placeholders and masks
    people = [Person("u-1", "phone"), Person("u-2", "removed"), Person("u-3", "number"), Person("u-4", "p1")]
    redactor = make(people)
    text = f"[[{token(KIM)}]] {PHONE_REMOVED} {EMAIL_REMOVED} {RRN_REMOVED} {NAME_REMOVED} {token(KIM)}"
    assert redactor.redact(text) is text
    assert redactor.redact("my phone number was removed") == (f"my {ph(people[0])} {ph(people[2])} was {ph(people[1])}")


def test_a_pseudonym_that_is_no_token_is_refused():
    redactor = Redactor([KIM], pseudonym=lambda person: "Participant 1")
    with pytest.raises(ValueError, match="not a pseudonym token"):
        redactor.redact("Kim")


def test_pseudonyms_are_asked_once_per_person():
    asked = []

    def pseudonym(person):
        asked.append(person.uid)
        return token(person)

    redactor = Redactor(PEOPLE, pseudonym=pseudonym)
    redactor.redact("Kim Kim 010-3333-4444 kim@example.org")
    redactor.redact("Kim again")
    assert asked == ["u-kim"]


@pytest.mark.parametrize(
    "text",
    [
        "Kim Minsu said hi to Kim",
        "이지은한테 010-5555-6666 전화해, 민수야",
        "mail kim@example.com or KIM@Example.org or x@y.org",
        "rrn 900101-1234567 and 9001011234567",
        "@Kim @민수 +44 20 7946 0958 2 times",
        "Chloé Martin ０１０－３３３３－４４４４",
    ],
)
def test_redaction_is_idempotent(redactor, text):
    once = redactor.redact(text)
    assert once != text
    assert redactor.redact(once) == once


# --- no identifier of a non-target survives ----------------------------------------------------------

SURNAMES = [("김", "Kim"), ("이", "Lee"), ("박", "Park"), ("최", "Choi"), ("정", "Jung"), ("강", "Kang"),
            ("조", "Cho"), ("윤", "Yoon"), ("장", "Jang"), ("임", "Lim"), ("한", "Han"), ("오", "Oh")]  # fmt: skip
GIVEN = [("민준", "Minjun"), ("서연", "Seoyeon"), ("도윤", "Doyun"), ("지우", "Jiwoo"), ("하은", "Haeun"),
         ("예준", "Yejun"), ("수아", "Sua"), ("시우", "Siwoo"), ("지호", "Jiho"), ("유나", "Yuna")]  # fmt: skip
EN_FIRST = ["James", "Mary", "Robert", "Linda", "David", "Sarah", "Thomas", "Emily", "Daniel", "Grace"]
EN_LAST = ["Smith", "Brown", "Taylor", "Wilson", "Walker", "Wright", "Green", "Baker", "Adams", "Nelson"]
FILLER_KO = [
    "오늘 저녁에 뭐 먹을까?", "내일 회의는 3시야", "ㅋㅋㅋ 진짜", "알겠어 나중에 연락할게", "주말에 영화 보러 갈래?",
    "2025-10-23 오후 2:30", "1,000,000원 보냈어", "주문번호 12345", "택배 아직 안 왔어",
]  # fmt: skip
FILLER_EN = ["see you at 7", "running 10 min late", "the order is 98765", "paid 250,000 won",
             "meeting moved to 2025-11-02 09:30", "sounds good", "lol", "any update?"]  # fmt: skip
PARTICLES = ["", "가", "이", "야", "한테", "는", "님", "씨", "'s", ",", "!"]


def _people(rng: random.Random, count: int) -> list[Person]:
    names, people, phones = set(), [], set()
    while len(people) < count:
        if rng.random() < 0.6:
            (sur, _), (given, _) = rng.choice(SURNAMES), rng.choice(GIVEN)
            name = sur + given
        elif rng.random() < 0.5:
            (_, sur), (_, given) = rng.choice(SURNAMES), rng.choice(GIVEN)
            name = f"{given} {sur}"
        else:
            name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
        if name in names:
            continue
        phone = f"+8210{rng.randrange(10**8):08d}"
        if phone in phones:
            continue
        names.add(name)
        phones.add(phone)
        n = len(people)
        email = f"{name.replace(' ', '.').lower()}{n}@example.com" if name.isascii() else f"user{n}@example.kr"
        people.append(Person(f"u-{n}", name, phone=phone, email=email, target=n % 7 == 0))
    return people


def _phone_forms(e164: str) -> list[str]:
    digits = "0" + e164[3:]
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return [f"{a}-{b}-{c}", f"{a} {b} {c}", digits, f"+82 {a[1:]}-{b}-{c}", f"+82-{a[1:]}-{b}-{c}", f"{a}.{b}.{c}"]


def _rrn(rng: random.Random) -> str:
    birth = f"{rng.randrange(100):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return f"{birth}{rng.choice(['-', ''])}{rng.randint(1, 8)}{rng.randrange(10**6):06d}"


def _case(rng: random.Random, text: str) -> str:
    return rng.choice([text, text.lower(), text.upper(), text.title()])


def test_no_identifier_of_a_non_target_survives_in_generated_messages():
    rng = random.Random(20260101)
    people = _people(rng, 60)
    # no name inside another: then a non-target's name may not appear anywhere, however it is cased
    names = [p.display_name.lower() for p in people]
    assert not any(a != b and a in b for a in names for b in names)
    redactor = Redactor(people, pseudonym=token)
    strangers = [f"+8210{rng.randrange(10**8):08d}" for _ in range(20)]

    for _ in range(3000):
        pieces, expected_kept, forbidden, expected_tokens = [], [], [], set()
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            person = rng.choice(people)
            if roll < 0.25:
                pieces.append(rng.choice(FILLER_KO + FILLER_EN))
                continue
            if roll < 0.5:
                written = _case(rng, person.display_name) if person.display_name.isascii() else person.display_name
                piece = rng.choice(["", "@"]) + written + rng.choice(PARTICLES)
            elif roll < 0.7:
                written = rng.choice(_phone_forms(person.phone))
                piece = rng.choice(["{}", "번호 {} 입니다", "call {}", "{}로 연락"]).format(written)
            elif roll < 0.85:
                written = _case(rng, person.email)
                piece = rng.choice(["{}", "메일 {} 으로", "mail {}."]).format(written)
            elif roll < 0.93:
                written = rng.choice(_phone_forms(rng.choice(strangers)))
                pieces.append(f"call {written}")
                forbidden.append(written)
                continue
            else:
                written = _rrn(rng)
                pieces.append(f"주민번호 {written}")
                forbidden.append(written)
                continue
            pieces.append(piece)
            if person.target:
                expected_kept.append(written)
            else:
                forbidden.append(written)
                expected_tokens.add(token(person))
        text = rng.choice([" ", ", ", " ㅋㅋ ", "\n"]).join(pieces)
        out = redactor.redact(text)

        for written in expected_kept:
            assert written in out, (text, out)
        low = out.lower()
        for written in forbidden:
            assert written.lower() not in low, (text, out)
        for person in people:
            if not person.target:
                assert person.display_name.lower() not in low, (text, out)
                assert person.email not in low, (text, out)
                assert re.sub(r"\D", "", person.phone)[2:] not in re.sub(r"\D", "", out), (text, out)
        assert expected_tokens <= set(PLACEHOLDER.findall(out)), (text, out)
        assert redactor.redact(out) == out


# --- the whole account directory: identifiers of people who are not participants ---------------------

from disclosure.directory import DirectoryIndex, squeeze_with_origins  # noqa: E402

# Accounts of the directory that are in no room of the scope.
OUTSIDER = Person("u-outsider", "박지성", phone="+821012341234")
WRITER = Person("writer_kim77", "Jane Doe", email="jane@example.org")
TWIN_ONE, TWIN_TWO = Person("u-twin-1", "최유나"), Person("u-twin-2", "최유나")
DIRECTORY = [*PEOPLE, OUTSIDER, WRITER, TWIN_ONE, TWIN_TWO, STRANGER, TARGET_ELSEWHERE]


def directory_redactor(people=PEOPLE, directory=DIRECTORY, store=STORE, resolved=None):
    index = DirectoryIndex()
    for ref, person in enumerate(directory):
        index.add(ref, uid=person.uid, display_name=person.display_name, target=person.target)
    index.freeze()

    def resolve(ref):
        if resolved is not None:
            resolved.append(directory[ref].uid)
        return directory[ref]

    return Redactor(
        people, lookup=lambda kind, value: store.get((kind, value)), pseudonym=token, directory=index, resolve=resolve
    )


@pytest.mark.parametrize(
    "written",
    [
        "박지성",
        "박 지성",
        "박 지 성",
        "박\u200b지성",
        "박·지성",
        "박_지성",
        "박\u3000지성",
        unicodedata.normalize("NFD", "박지성"),
    ],
)
def test_a_name_of_someone_outside_the_scope_becomes_their_token_in_any_spacing(written):
    redactor = directory_redactor()

    assert redactor.redact(f"어제 {written}이 왔어") == f"어제 {ph(OUTSIDER)}이 왔어"


@pytest.mark.parametrize(
    "written",
    ["Jane Doe", "jane doe", "JANE  DOE", "JaneDoe", "jane_doe", "jane.doe", "Ｊａｎｅ　Ｄｏｅ", "ｊａｎｅｄｏｅ"],
)
def test_a_latin_name_outside_the_scope_in_any_case_width_or_spacing(written):
    redactor = directory_redactor()

    assert redactor.redact(f"ask {written}, she knows") == f"ask {ph(WRITER)}, she knows"
    assert redactor.redact(f"{written}한테 물어봐") == f"{ph(WRITER)}한테 물어봐"


@pytest.mark.parametrize(
    "written", ["writer_kim77", "WRITER_KIM77", "Writer-Kim77", "ｗｒｉｔｅｒ＿ｋｉｍ７７", "@writer_kim77"]
)
def test_an_account_id_typed_in_a_message_becomes_its_token(written):
    redactor = directory_redactor()

    out = redactor.redact(f"내 아이디 {written} 추가해줘")

    assert out in (f"내 아이디 {ph(WRITER)} 추가해줘", f"내 아이디 @{ph(WRITER)} 추가해줘")


def test_a_name_found_in_text_ties_to_no_one_when_the_phone_next_to_it_is_pseudonymised():
    """The scan's finding: the number became a token, the name beside it stayed and named the token."""
    redactor = directory_redactor(store={**STORE, ("phone", "+821012341234"): OUTSIDER})

    out = redactor.redact("박지성 010-1234-1234 한테 연락해")

    assert "박지성" not in out and "1234" not in out
    assert out == f"{ph(OUTSIDER)} {ph(OUTSIDER)} 한테 연락해"


def test_account_ids_and_names_are_not_found_inside_longer_words_or_ids():
    redactor = directory_redactor()

    for text in ["writer_kim777", "awriter_kim77", "JaneDoes", "plainjane doe"]:
        assert redactor.redact(text) is text


def test_directory_names_shared_by_several_accounts_are_masked_and_a_targets_stay():
    redactor = directory_redactor()

    assert redactor.redact("최유나 씨") == f"{NAME_REMOVED} 씨"
    text = "Other target said so"  # a target's display name, not a participant: stays
    assert redactor.redact(text) is text


def test_short_directory_names_need_no_spacing_inside():
    one = Person("u-jiho", "지호")
    redactor = directory_redactor(people=[], directory=[one])

    assert redactor.redact("지호야") == f"{ph(one)}야"
    text = "그 지 호수"
    assert redactor.redact(text) is text


def test_text_without_identifiers_stays_the_same_object_with_a_directory():
    redactor = directory_redactor()

    for text in ["오늘 저녁에 뭐 먹을까?", "what time tomorrow?", "2025-10-23 10:30", "looks good to me"]:
        assert redactor.redact(text) is text


def test_directory_finds_are_resolved_once_per_person():
    resolved = []
    redactor = directory_redactor(resolved=resolved)

    redactor.redact("박지성 박지성")
    redactor.redact("박 지 성")

    assert resolved == ["u-outsider"]


def test_directory_finds_are_not_matched_inside_placeholders_and_redaction_is_idempotent():
    key_id_person = Person("ab12cd34", "Ab Cd")  # its uid is the key id of the tokens
    redactor = directory_redactor(directory=[*DIRECTORY, key_id_person])

    once = redactor.redact(f"박지성, Jane Doe, writer_kim77 and {ph(KIM)} {PHONE_REMOVED}")

    assert once == f"{ph(OUTSIDER)}, {ph(WRITER)}, {ph(WRITER)} and {ph(KIM)} {PHONE_REMOVED}"
    assert redactor.redact(once) == once


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("㈜ 박지성", "박지성"),  # a character that NFKC makes three, before the name
        ("ﬁ 박 지 성!", "박 지 성"),
        ("x ＪＡＮＥ\u3000ＤＯＥ y", "ＪＡＮＥ\u3000ＤＯＥ"),
        ("a\u200bb Jane\u00adDoe", "Jane\u00adDoe"),
    ],
)
def test_finds_in_squeezed_text_map_back_to_the_span_as_written(text, span):
    index = DirectoryIndex()
    index.add(1, uid="u-1", display_name="박지성")
    index.add(2, uid="u-2", display_name="Jane Doe")
    index.freeze()

    (start, end, _code), *rest = index.matches(text)

    assert not rest
    assert text[start:end] == span


def test_squeezing_keeps_the_origin_of_every_character():
    squeezed, origins = squeeze_with_origins("Ａ b\u200b㈜-c")

    assert squeezed == "ab(주)c"
    assert origins == [0, 2, 4, 4, 4, 6]
