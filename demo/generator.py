"""A synthetic conversation store for benchmarks and demos (``manage.py generate_conversations``).

Realistic where the warrant scope, the export and the notices care: Korean and English accounts
with Korean mobile numbers and e-mail addresses, direct, group and open rooms whose members join
late, leave and sometimes come back, and messages sent only by members during their membership,
in bursts, mostly in the Korean daytime, with a heavy skew (a few rooms and people write most of
it). Texts are Korean or English, with phone numbers, e-mail addresses, fake resident registration
numbers, bank account numbers and @mentions of other members, photos, emoticons, files and the
join/leave lines of group rooms.

Deterministic for a seed and a start date, and additive: every row is named after the seed
(accounts ``gen-<seed>-000001``, rooms ``gen-<seed>-room-000001``), so runs with different seeds
add to the same store, and a second run with the same seed reports "already generated" and adds
nothing. Fast: rows are precomputed in plain Python and messages are written with one
parameterised multi-row INSERT per few hundred rows inside a single transaction (portable SQL, the
same on SQLite and PostgreSQL), in global time order, so primary keys follow time as in a real store.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

from disclosure.bodies import BodyCipher
from disclosure.identifiers import normalize_phone
from disclosure.models import Account, Membership, Message, Room

US = 1_000_000  # times are integer microseconds since the Unix epoch while generating
HOUR = 3600 * US
DAY = 24 * HOUR
KST = 9 * HOUR  # Korea has had no daylight saving time since 1988
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAY_US = 86_400_000_000
EPOCH_NAIVE = dt.datetime(1970, 1, 1)
ROWS_PER_INSERT = 500  # rows per INSERT statement (6 parameters each: far below SQLite's 32,766)
PROGRESS_EVERY = 20_000

ProgressCallback = Callable[[int, int], None]  # (messages written, messages asked)


@dataclass
class GenerationSummary:
    seed: int
    accounts: int
    rooms: dict[str, int]  # by kind
    memberships: int
    messages: int
    start: dt.datetime
    end: dt.datetime
    seconds: float
    already_generated: bool = False
    message_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def room_count(self) -> int:
        return sum(self.rooms.values())

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        if self.already_generated:
            return (
                f"Seed {self.seed} is already generated ({self.accounts:,} accounts, {self.room_count:,} rooms, "
                f"{self.messages:,} messages): nothing done."
            )
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in self.rooms.items())
        return (
            f"Generated with seed {self.seed}: {self.accounts:,} accounts, {self.room_count:,} rooms ({kinds}), "
            f"{self.memberships:,} memberships, {self.messages:,} messages from {self.start:%Y-%m-%d} to "
            f"{self.end:%Y-%m-%d} in {self.seconds:.1f} s ({self.messages_per_second:,.0f} messages/s)."
        )


# --- names, addresses, texts ----------------------------------------------------------------------

# (hangul, romanisation, weight in percent of the population, roughly)
KO_SURNAMES = [
    ("김", "kim", 21.5), ("이", "lee", 14.7), ("박", "park", 8.4), ("최", "choi", 4.7), ("정", "jung", 4.3),
    ("강", "kang", 2.3), ("조", "cho", 2.1), ("윤", "yoon", 2.1), ("장", "jang", 2.0), ("임", "lim", 1.7),
    ("한", "han", 1.5), ("오", "oh", 1.5), ("서", "seo", 1.4), ("신", "shin", 1.4), ("권", "kwon", 1.4),
    ("황", "hwang", 1.4), ("안", "ahn", 1.3), ("송", "song", 1.3), ("류", "ryu", 1.2), ("전", "jeon", 1.1),
    ("홍", "hong", 1.1), ("고", "ko", 0.9), ("문", "moon", 0.9), ("양", "yang", 0.9), ("손", "son", 0.9),
    ("배", "bae", 0.8), ("백", "baek", 0.7), ("허", "heo", 0.6), ("유", "yoo", 0.6), ("남", "nam", 0.5),
    ("심", "shim", 0.5), ("노", "noh", 0.4), ("하", "ha", 0.4), ("곽", "kwak", 0.4), ("성", "sung", 0.4),
    ("차", "cha", 0.4), ("주", "joo", 0.4), ("우", "woo", 0.4), ("구", "koo", 0.4), ("민", "min", 0.3),
]  # fmt: skip
KO_GIVEN = [
    ("민준", "minjun"), ("서준", "seojun"), ("도윤", "doyun"), ("예준", "yejun"), ("시우", "siwoo"),
    ("하준", "hajun"), ("주원", "juwon"), ("지호", "jiho"), ("지후", "jihoo"), ("준우", "junwoo"),
    ("건우", "gunwoo"), ("도현", "dohyun"), ("현우", "hyunwoo"), ("지훈", "jihoon"), ("우진", "woojin"),
    ("선우", "sunwoo"), ("서진", "seojin"), ("연우", "yeonwoo"), ("정우", "jungwoo"), ("승현", "seunghyun"),
    ("서연", "seoyeon"), ("서윤", "seoyun"), ("지우", "jiwoo"), ("서현", "seohyun"), ("민서", "minseo"),
    ("하은", "haeun"), ("하윤", "hayun"), ("윤서", "yunseo"), ("지유", "jiyu"), ("지민", "jimin"),
    ("채원", "chaewon"), ("수아", "sua"), ("지아", "jia"), ("다은", "daeun"), ("은서", "eunseo"),
    ("예은", "yeeun"), ("수빈", "subin"), ("예린", "yerin"), ("민지", "minji"), ("수민", "sumin"),
    ("영수", "youngsoo"), ("영희", "younghee"), ("정희", "junghee"), ("미경", "mikyung"), ("성민", "sungmin"),
    ("상훈", "sanghoon"), ("은정", "eunjung"), ("혜진", "hyejin"), ("지영", "jiyoung"), ("동현", "donghyun"),
    ("재현", "jaehyun"), ("승민", "seungmin"), ("태희", "taehee"), ("경수", "kyungsoo"), ("미숙", "misook"),
    ("정호", "jungho"), ("종현", "jonghyun"), ("준호", "junho"), ("현정", "hyunjung"), ("성훈", "sunghoon"),
    ("보람", "boram"), ("하늘", "haneul"), ("슬기", "seulgi"), ("다현", "dahyun"), ("유진", "yujin"),
]  # fmt: skip
KO_NAME_SUFFIXES = [" 🌸", " 🐶", "(회사)", "(마케팅팀)", " ✈️", "❤", " 🍀", "_"]
EN_FIRST = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Susan", "Daniel", "Jessica", "Thomas", "Sarah", "Chris", "Karen", "Matthew", "Emily",
    "Andrew", "Olivia", "Ryan", "Sophie", "Kevin", "Hannah", "Jason", "Laura", "Brian", "Grace",
    "Eric", "Chloe", "Paul", "Amy", "Mark", "Rachel", "Tom", "Anna", "Alex", "Megan",
]  # fmt: skip
EN_LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall",
    "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
]  # fmt: skip
# Reserved names (RFC 2606 ".example"): realistic shapes that can never be someone's real address.
KO_DOMAINS = ["naver.example", "naver.example", "naver.example", "gmail.example", "gmail.example", "daum.example",
              "hanmail.example", "kakao.example", "nate.example", "corp.example"]  # fmt: skip
EN_DOMAINS = ["gmail.example", "gmail.example", "outlook.example", "yahoo.example", "icloud.example", "corp.example"]

KO_TEXT = [
    "안녕하세요", "네 알겠습니다", "넵", "ㅋㅋㅋㅋㅋ", "ㅋㅋ", "ㅎㅎ", "ㅇㅇ", "ㄱㄱ", "ㅠㅠ", "헐 진짜?",
    "대박", "오 좋다", "감사합니다!", "고마워", "수고하셨습니다", "오늘 고생 많으셨어요", "내일 몇 시에 만나?",
    "점심 뭐 먹지", "저녁 먹었어?", "지금 출발합니다", "도착하면 연락줘", "거의 다 왔어",
    "10분 늦을 것 같아요 죄송해요",
    "주말에 뭐해?", "회의 자료 보냈어요", "확인 부탁드립니다", "확인했습니다", "잠깐 통화 가능하세요?", "이따 전화할게",
    "지금 회의 중이라 나중에 연락드릴게요", "오늘 야근이야 ㅠㅠ", "퇴근했어?", "배고프다", "커피 한 잔 할래?",
    "그거 어디서 샀어?", "링크 보내줄게", "사진 잘 받았어요", "생일 축하해!! 🎉", "새해 복 많이 받으세요",
    "다음 주 화요일 괜찮으세요?", "일정 공유드립니다", "장소는 강남역 11번 출구예요", "비 온대 우산 챙겨",
    "택배 왔어?", "입금했습니다", "계산은 내가 할게", "더치페이 하자", "모임 회비 2만원씩입니다", "다들 잘 지내지?",
    "오랜만이야!", "보고 싶다", "조심히 들어가", "잘 자", "좋은 아침입니다", "오늘 날씨 진짜 좋다", "그럼 그때 봐요",
    "아 그렇구나", "맞아 맞아", "음... 글쎄", "나도 잘 모르겠어", "그건 좀 아닌 것 같은데", "알겠어 내가 처리할게",
    "견적서 다시 보내주실 수 있나요?", "계약서 검토 끝났습니다", "내일 오전까지 가능할까요?", "오케이 👍",
    "이번 주 금요일 회식 있어요", "부산 출장 다녀올게요", "기차표 예매했어", "KTX 몇 시 거야?", "주차 어디에 해?",
    "애들 데리러 갈게", "엄마한테 전화 좀 드려", "병원 예약 했어?", "시험 잘 봐!", "과제 마감 언제야?",
]  # fmt: skip
EN_TEXT = [
    "hey", "hi!", "ok", "okay sounds good", "lol", "haha", "thanks!", "thank you so much", "np", "sure",
    "on my way", "running 10 min late, sorry", "almost there", "where are you?", "call me when you can",
    "can you talk now?", "in a meeting, will call you back", "what time tomorrow?", "lunch?", "dinner tonight?",
    "see you at 7", "just landed", "did you get my email?", "sent you the file", "please check the document",
    "looks good to me", "let me check and get back to you", "any update on this?", "good morning!", "good night",
    "happy birthday!! 🎉", "congrats!", "miss you", "how was your weekend?", "weather is crazy today",
    "the meeting moved to Tuesday", "I'll take care of it", "no worries", "got it", "makes sense",
    "not sure about that", "can you send me the link?", "paid you back", "let's split the bill", "see you soon",
    "heading to Gangnam now", "meet at the station exit 11", "booked the KTX tickets", "is parking free there?",
    "i'm so tired", "coffee?", "are we still on for Friday?", "👍", "ok 👌",
]  # fmt: skip
KO_PHONE = ["{} 으로 연락주세요", "제 번호 {} 입니다", "새 번호예요 {}", "이 번호로 전화해봐 {}",
            "{} 여기로 문자 주세요", "담당자 연락처: {}", "{} 이 사람한테 물어봐"]  # fmt: skip
EN_PHONE = ["my number is {}", "call me at {}", "new number: {}", "text {} instead", "his phone is {}"]
KO_EMAIL = ["메일 주소는 {} 입니다", "{} 로 보내주세요", "자료는 {} 로 부탁드려요", "제 이메일 {}", "{} 이 주소 맞아?"]
EN_EMAIL = ["email me at {}", "send it to {}", "my email is {}", "cc {} please", "is {} the right address?"]
KO_RRN = ["주민번호 {} 맞죠?", "주민등록번호는 {} 입니다", "서류에 {} 적어서 냈어", "본인확인용 {}"]
EN_RRN = ["my resident registration number is {}", "RRN: {}", "ID number {} for the form"]
KO_ACCOUNT = ["{} 으로 입금해주세요", "계좌 {} 예요", "회비는 {} 로 보내주세요"]
EN_ACCOUNT = ["bank transfer to {}", "account number {}"]
KO_MENTION = ["{} 확인 부탁해요", "{} 이거 봤어?", "{} 언제 와?", "{} 고마워요!", "{} 내일 시간 돼?", "{} ㅋㅋㅋ"]
EN_MENTION = ["{} did you see this?", "{} can you check?", "{} thanks!", "{} when are you coming?", "{} lol"]
KO_URL = ["이거 봐 https://news.example/article/{}", "https://shop.example/item/{} 이거 어때?"]
EN_URL = ["check this out https://news.example/article/{}", "https://shop.example/item/{} what do you think?"]
BANKS = ["국민", "신한", "우리", "하나", "농협", "카카오뱅크", "기업"]
FILES = ["report.pdf", "회의록.docx", "견적서.xlsx", "계약서_최종.pdf", "photo_0412.zip", "발표자료.pptx",
         "invoice_2025.pdf", "명단.xlsx", "scan001.pdf", "voice_memo.m4a"]  # fmt: skip
GROUP_TITLES_KO = ["가족방", "대학 동기", "동창회", "등산 모임", "3팀 업무방", "프로젝트 A", "풋살 모임 ⚽",
                   "맛집 탐방", "스터디", "교회 청년부", "아파트 입주민", "부모님 생신 준비", "여행 계획 ✈️",
                   "영업팀", "독서 모임"]  # fmt: skip
GROUP_TITLES_EN = ["Family", "Book club", "Project Apollo", "Seoul expats", "Team sync", "Weekend hiking",
                   "Flatmates", "Trip planning"]  # fmt: skip
OPEN_TITLES = ["중고거래 오픈채팅", "코인 정보방", "주식 리딩방", "Seoul language exchange", "강남 맛집 공유",
               "캠핑 정보 나눔", "취업 준비 스터디", "K-pop fans", "육아 정보방", "부동산 이야기"]  # fmt: skip

# Share of the day's messages sent in each hour, Korean time 00:00-23:00.
HOUR_WEIGHTS = [3, 1.5, 0.8, 0.4, 0.3, 0.4, 1, 2.5, 4, 5, 5, 5.5, 7, 6, 5.5, 5.5, 6, 6.5, 7.5, 8.5, 9, 9, 8, 6]
HOUR_CUM = list(itertools.accumulate(HOUR_WEIGHTS))


# --- the plan: accounts, rooms, memberships ------------------------------------------------------


@dataclass
class _Person:
    uid: str
    display_name: str
    phone: str  # as written
    phone_digits: str  # 010XXXXXXXX
    email: str
    locale: str
    activity: float  # how much they write (heavy tail)
    created_us: int


@dataclass
class _Member:
    person: int  # index into the people list
    joined_us: int
    left_us: int | None


@dataclass
class _Room:
    index: int
    external_id: str
    kind: str
    title: str
    created_us: int
    members: list[_Member]
    weight: float = 1.0
    quota: int = 0  # messages to write
    seed: int = 0


class _Plan:
    def __init__(self, *, accounts: int, rooms: int, messages: int, seed: int, start_us: int, end_us: int):
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.seed = seed
        self.start_us, self.end_us = start_us, end_us
        self.people = self._people(accounts)
        self.rooms = self._rooms(rooms)
        self._allocate(messages)

    # accounts

    def _people(self, count: int) -> list[_Person]:
        rng = self.rng
        surnames = [(hangul, roman) for hangul, roman, _w in KO_SURNAMES]
        surname_cum = list(itertools.accumulate(w for _h, _r, w in KO_SURNAMES))
        phones = self._unique_phones(count)
        taken_emails = set()
        people = []
        for n in range(count):
            digits = phones[n]
            locale = Account.Locale.KO if rng.random() < 0.82 else Account.Locale.EN
            if locale == Account.Locale.KO:
                (family, family_roman), (given, given_roman) = (
                    rng.choices(surnames, cum_weights=surname_cum)[0],
                    rng.choice(KO_GIVEN),
                )
                roll = rng.random()
                if roll < 0.65:
                    name = family + given
                elif roll < 0.80:
                    name = given
                elif roll < 0.90:
                    name = f"{given_roman.capitalize()} {family_roman.capitalize()}"
                else:
                    name = family + given + rng.choice(KO_NAME_SUFFIXES)
                domains = KO_DOMAINS
            else:
                given_roman, family_roman = rng.choice(EN_FIRST).lower(), rng.choice(EN_LAST).lower()
                roll = rng.random()
                if roll < 0.75:
                    name = f"{given_roman.capitalize()} {family_roman.capitalize()}"
                elif roll < 0.9:
                    name = given_roman.capitalize()
                else:
                    name = f"{given_roman}_{family_roman[0]}"
                domains = EN_DOMAINS
            email = ""
            if rng.random() < 0.7:
                shape = rng.random()
                if shape < 0.4:
                    local = f"{given_roman}.{family_roman}"
                elif shape < 0.7:
                    local = f"{given_roman}{rng.randint(70, 99) if rng.random() < 0.5 else rng.randint(0, 9):02d}"
                else:
                    local = f"{family_roman}{given_roman[:3]}{rng.randint(1, 999)}"
                email = f"{local}@{rng.choice(domains)}"
                while email in taken_emails:
                    email = f"{local}{rng.randint(1, 9999)}@{rng.choice(domains)}"
                taken_emails.add(email)
            style = rng.random()
            if style < 0.75:
                phone = f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
            elif style < 0.9:
                phone = digits
            else:
                phone = f"+82 {digits[1:3]}-{digits[3:7]}-{digits[7:]}"
            people.append(
                _Person(
                    uid=f"gen-{self.seed}-{n + 1:06d}",
                    display_name=name,
                    phone=phone,
                    phone_digits=digits,
                    email=email,
                    locale=locale,
                    activity=min(rng.paretovariate(1.3), 60.0),
                    created_us=self.start_us - rng.randint(400, 3 * 365) * DAY - rng.randrange(DAY),
                )
            )
        self._avoid_taken_addresses(people, taken_emails)
        return people

    def _unique_phones(self, count: int) -> list[str]:
        """Distinct 010 numbers that no account in the store has yet (a warrant's phone finds one account)."""
        rng = self.rng
        chosen: list[str] = []
        seen: set[str] = set()
        while len(chosen) < count:
            batch: list[str] = []
            while len(batch) < count - len(chosen):
                digits = f"010{rng.randint(2000, 9999)}{rng.randint(0, 9999):04d}"
                if digits not in seen:
                    seen.add(digits)
                    batch.append(digits)
            taken = _taken(
                "phone_normalized", [normalize_phone(d) for d in batch], lambda value: "0" + value.removeprefix("+82")
            )
            chosen.extend(d for d in batch if d not in taken)
        return chosen

    def _avoid_taken_addresses(self, people: list[_Person], taken_emails: set[str]) -> None:
        """Give another address to anyone whose e-mail an account in the store already has."""
        while taken := _taken("email_normalized", [p.email for p in people if p.email]):
            for person in people:
                if person.email in taken:
                    local, domain = person.email.split("@")
                    while person.email in taken or person.email in taken_emails:
                        person.email = f"{local}{self.rng.randint(1, 99999)}@{domain}"
                    taken_emails.add(person.email)

    # rooms and memberships

    def _rooms(self, count: int) -> list[_Room]:
        rng = self.rng
        people = self.people
        if count and len(people) < 2:
            raise ValueError("rooms need at least 2 accounts")
        weights = list(itertools.accumulate(p.activity**0.5 for p in people))
        span = self.end_us - self.start_us
        pairs: set[tuple[int, int]] = set()
        rooms = []
        for n in range(count):
            roll = rng.random()
            kind = Room.Kind.DIRECT if roll < 0.45 else Room.Kind.GROUP if roll < 0.9 else Room.Kind.OPEN
            if kind == Room.Kind.DIRECT:
                size = 2
            elif kind == Room.Kind.GROUP:
                size = min(3 + int(rng.expovariate(1 / 6)), 30)
            else:
                size = rng.randint(20, 100)
            size = min(size, len(people))
            if rng.random() < 0.5:  # older than the generated period: its first members joined before it
                created = self.start_us - rng.randrange(365 * DAY)
            else:
                created = self.start_us + rng.randrange(max(int(span * 0.85), HOUR))
            chosen = self._pick(size, weights, avoid=pairs if kind == Room.Kind.DIRECT else None)
            members = self._memberships(kind, chosen, created)
            if kind == Room.Kind.DIRECT:
                title = ""
                factor = 1.0
            else:
                if kind == Room.Kind.GROUP:
                    titles = GROUP_TITLES_EN if people[chosen[0]].locale == Account.Locale.EN else GROUP_TITLES_KO
                else:
                    titles = OPEN_TITLES
                title = rng.choice(titles)
                if rng.random() < 0.4:
                    title = f"{title} {rng.randint(2, 99)}"
                factor = len(chosen) ** 0.5 * (1.5 if kind == Room.Kind.OPEN else 1.0)
            # The room's share of the messages: log-normal, so a few rooms carry most of the traffic.
            weight = rng.lognormvariate(0, 1.3) * factor * (self.end_us - max(created, self.start_us)) / span
            rooms.append(
                _Room(
                    index=n,
                    external_id=f"gen-{self.seed}-room-{n + 1:06d}",
                    kind=kind,
                    title=title,
                    created_us=created,
                    members=members,
                    weight=weight,
                    seed=rng.getrandbits(64),
                )
            )
        return rooms

    def _pick(self, size: int, cum_weights: list[float], avoid: set | None) -> list[int]:
        """``size`` distinct people, the more active ones more likely (they are in more rooms)."""
        rng = self.rng
        population = range(len(self.people))
        for _attempt in range(50):
            chosen: dict[int, None] = {}
            while len(chosen) < size:
                for index in rng.choices(population, cum_weights=cum_weights, k=size - len(chosen)):
                    chosen[index] = None
            if avoid is None:
                return list(chosen)
            pair = tuple(sorted(chosen))
            if pair not in avoid:
                avoid.add(pair)
                return list(chosen)
        return list(chosen)

    def _memberships(self, kind: str, chosen: list[int], created: int) -> list[_Member]:
        """The founders join when the room is made and the first never leaves (someone is always
        there to write); later members join any time, some leave, a few of those come back."""
        rng = self.rng
        end = self.end_us
        members = []
        founders = 2 if kind == Room.Kind.DIRECT else max(2, int(len(chosen) * rng.uniform(0.3, 0.8)))
        leave_rates: dict[str, float] = {Room.Kind.DIRECT: 0.05, Room.Kind.GROUP: 0.2, Room.Kind.OPEN: 0.35}
        leave_rate = leave_rates[kind]
        for position, person in enumerate(chosen):
            joined = created if position < founders else created + rng.randrange(max(end - created - DAY, HOUR))
            left = None
            if position > 0 and end - joined > 2 * HOUR and rng.random() < leave_rate:
                left = joined + HOUR + rng.randrange(end - joined - HOUR)
            members.append(_Member(person, joined, left))
            if left is not None and end - left > 2 * DAY and rng.random() < 0.15:
                back = left + HOUR + rng.randrange(end - left - HOUR)
                members.append(_Member(person, back, None))
        return members

    def _allocate(self, messages: int) -> None:
        """Share ``messages`` out by room weight, exactly (largest remainder)."""
        if messages and not self.rooms:
            raise ValueError("messages need at least 1 room")
        if not messages:
            return
        total = sum(room.weight for room in self.rooms)
        shares = [room.weight / total * messages for room in self.rooms]
        for room, share in zip(self.rooms, shares, strict=True):
            room.quota = int(share)
        rest = messages - sum(room.quota for room in self.rooms)
        by_remainder = sorted(range(len(shares)), key=lambda i: (shares[i] - int(shares[i]), -i), reverse=True)
        for i in by_remainder[:rest]:
            self.rooms[i].quota += 1


def _taken(column: str, values: list, back: Callable[[str], str] | None = None) -> set:
    """Which of ``values`` already exist in ``column`` of the account table (mapped back with ``back``)."""
    found: set = set()
    for i in range(0, len(values), 500):
        chunk = [value for value in values[i : i + 500] if value]
        for value in Account.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True):
            found.add(back(value) if back else value)
    return found


# --- messages -------------------------------------------------------------------------------------


class _Writer:
    """Messages of one room, in time order, as (time, room index, sender index, kind, body)."""

    def __init__(self, plan: _Plan):
        self.plan = plan
        self.people = plan.people
        self.ko_locale = [p.locale == Account.Locale.KO for p in plan.people]

    def stream(self, room: _Room) -> Iterator[tuple[int, int, int, str, str]]:
        rng = random.Random(room.seed)  # noqa: S311 - synthetic data
        lo, hi = max(self.plan.start_us, room.created_us), self.plan.end_us
        if room.quota == 0 or lo >= hi:
            return
        people = self.people
        system: dict[int, tuple[int, bool]] = {}  # time -> (person, joined?)
        if room.kind != Room.Kind.DIRECT:
            for member in room.members:
                if lo <= member.joined_us < hi and member.joined_us > room.created_us:
                    system[member.joined_us] = (member.person, True)
                if member.left_us is not None and lo <= member.left_us - 1 < hi:
                    system[member.left_us - 1] = (member.person, False)
            if len(system) > room.quota // 10:
                system = dict(sorted(system.items())[: room.quota // 10])
        times = self._times(rng, room.quota - len(system), lo, hi, room.kind)
        times.extend(system)
        times.sort()

        # Membership changes, leaving before joining at the same instant: a member writes in [joined, left).
        events = sorted(
            [(m.joined_us, 1, m.person) for m in room.members]
            + [(m.left_us, 0, m.person) for m in room.members if m.left_us is not None]
        )
        event = 0
        active: set[int] = set()
        present: list[int] = []
        cum: list[float] = []
        changed = True
        previous = earlier = -1
        last = 0
        direct = room.kind == Room.Kind.DIRECT
        choices, rand = rng.choices, rng.random
        body = self._body
        for t in times:
            while event < len(events) and events[event][0] <= t:
                _time, joins, person = events[event]
                if joins:
                    active.add(person)
                else:
                    active.discard(person)
                event += 1
                changed = True
            if changed:
                present = sorted(active)
                cum = list(itertools.accumulate(people[p].activity for p in present))
                changed = False
            line = system.pop(t, None)
            if line is not None:
                sender, joined = line
                name = people[sender].display_name
                if self.ko_locale[sender]:
                    text = f"{name}님이 들어왔습니다." if joined else f"{name}님이 나갔습니다."
                else:
                    text = f"{name} joined this chatroom." if joined else f"{name} left this chatroom."
                kind: str = Message.Kind.SYSTEM
            else:
                quick = t - last < 15 * 60 * US
                if quick and earlier in active and earlier != previous and rand() < (0.7 if direct else 0.4):
                    sender = earlier  # an answer
                elif quick and previous in active and rand() < 0.25:
                    sender = previous  # a second line
                else:
                    sender = choices(present, cum_weights=cum)[0]
                kind, text = body(rng, sender, present, direct)
            if sender != previous:
                earlier, previous = previous, sender
            last = t
            yield (t, room.index, sender, kind, text)

    def _times(self, rng: random.Random, count: int, lo: int, hi: int, kind: str) -> list[int]:
        """``count`` send times in [lo, hi): bursts of a few messages seconds apart, started mostly in
        the Korean daytime and evening."""
        times: list[int] = []
        first_day, last_day = (lo + KST) // DAY, (hi - 1 + KST) // DAY
        mean_burst = 4 if kind == Room.Kind.DIRECT else 7
        expo, rand, randrange = rng.expovariate, rng.random, rng.randrange
        misses = 0
        while len(times) < count:
            if misses > 50:  # a short window the daytime profile keeps missing
                start = lo + randrange(hi - lo)
            else:
                hour = bisect.bisect(HOUR_CUM, rand() * HOUR_CUM[-1])
                start = randrange(first_day, last_day + 1) * DAY - KST + hour * HOUR + randrange(HOUR)
                if not lo <= start < hi:
                    misses += 1
                    continue
            misses = 0
            t = start
            for _ in range(1 + int(expo(1 / mean_burst))):
                if t >= hi or len(times) >= count:
                    break
                times.append(t)
                t += int(expo(1 / 40) * US) + randrange(1, US)  # about 40 s to the next line
        return times

    def _body(self, rng: random.Random, sender: int, present: list[int], direct: bool) -> tuple[str, str]:
        ko = self.ko_locale[sender]
        if rng.random() < 0.08:
            ko = not ko  # code switching: Korean speakers write English now and then, and back
        roll = rng.random()
        if roll < 0.06:
            if ko:
                return Message.Kind.PHOTO, "사진" if rng.random() < 0.8 else f"사진 {rng.randint(2, 12)}장"
            return Message.Kind.PHOTO, "Photo" if rng.random() < 0.8 else f"{rng.randint(2, 12)} photos"
        if roll < 0.11:
            return Message.Kind.EMOTICON, "이모티콘" if ko else "Emoticon"
        if roll < 0.12:
            return Message.Kind.FILE, f"{'파일' if ko else 'File'}: {rng.choice(FILES)}"
        if roll < 0.13:
            return Message.Kind.VIDEO, "동영상" if ko else "Video"
        if roll < 0.145:
            return Message.Kind.TEXT, rng.choice(KO_PHONE if ko else EN_PHONE).format(self._phone(rng))
        if roll < 0.153:
            return Message.Kind.TEXT, rng.choice(KO_EMAIL if ko else EN_EMAIL).format(self._email(rng))
        if roll < 0.156:
            return Message.Kind.TEXT, rng.choice(KO_RRN if ko else EN_RRN).format(_rrn(rng))
        if roll < 0.159:
            number = f"{rng.choice(BANKS)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}"
            return Message.Kind.TEXT, rng.choice(KO_ACCOUNT if ko else EN_ACCOUNT).format(number)
        if roll < 0.164:
            return Message.Kind.TEXT, rng.choice(KO_URL if ko else EN_URL).format(rng.randint(10000, 999999))
        if roll < 0.214 and not direct and len(present) > 1:
            other = present[rng.randrange(len(present))]
            if other == sender:
                other = present[(present.index(sender) + 1) % len(present)]
            mention = "@" + self.people[other].display_name
            return Message.Kind.TEXT, rng.choice(KO_MENTION if ko else EN_MENTION).format(mention)
        texts = KO_TEXT if ko else EN_TEXT
        if rng.random() < 0.1:
            return Message.Kind.TEXT, f"{rng.choice(texts)} {rng.choice(texts)}"
        return Message.Kind.TEXT, rng.choice(texts)

    def _phone(self, rng: random.Random) -> str:
        """Someone's number (an account's, half the time), written as people write it."""
        if rng.random() < 0.5:
            digits = self.people[rng.randrange(len(self.people))].phone_digits
        else:
            digits = f"010{rng.randint(2000, 9999)}{rng.randint(0, 9999):04d}"
        roll = rng.random()
        if roll < 0.6:
            return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        if roll < 0.75:
            return f"+82 {digits[1:3]} {digits[3:7]} {digits[7:]}"
        if roll < 0.9:
            return digits
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"

    def _email(self, rng: random.Random) -> str:
        person = self.people[rng.randrange(len(self.people))]
        if person.email and rng.random() < 0.7:
            return person.email
        return f"user{rng.randint(1, 99999)}@{rng.choice(KO_DOMAINS + EN_DOMAINS)}"


def _rrn(rng: random.Random) -> str:
    """A made-up resident registration number: real date and century digit, random serial."""
    year = rng.randint(1950, 2008)
    birthday = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
    century = (1 if year < 2000 else 3) + rng.randint(0, 1)
    return f"{birthday:%y%m%d}-{century}{rng.randint(0, 999999):06d}"


# --- writing --------------------------------------------------------------------------------------


def _as_datetime(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def _db_time() -> Callable[[int], object]:
    """Microseconds -> the parameter Django would send for a DateTimeField, computed cheaply."""
    ops = connection.ops
    if connection.vendor == "sqlite" and connection.timezone_name == "UTC":
        # What SQLite's adapt_datetimefield_value makes of an aware UTC datetime, minus the conversions.
        return lambda us: str(EPOCH_NAIVE + dt.timedelta(microseconds=us))
    return lambda us: ops.adapt_datetimefield_value(EPOCH + dt.timedelta(microseconds=us))


def _day_sealer():
    """``seal(text, t)`` -> (sealed body, generation) for a time in microseconds since the epoch, sealed
    under its UTC day's key (disclosure/bodies.py); the day's date is worked out once per day."""
    cipher, days = BodyCipher(create=True), {}

    def seal(text: str, t: int) -> tuple[bytes, int]:
        number = t // DAY_US
        day = days.get(number)
        if day is None:
            day = days[number] = (EPOCH + dt.timedelta(days=number)).date()
        return cipher.seal_on(text, day)

    return seal


def _column(model: type[models.Model], name: str) -> str:
    """The database column of ``model``'s concrete field ``name`` (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} has no column")
    return field.column


def _insert_messages(rows: Iterator[tuple], total: int, progress: ProgressCallback | None) -> dict[str, int]:
    """Write the message rows with parameterised multi-row INSERTs; returns the count by kind."""
    meta = Message._meta
    quote = connection.ops.quote_name
    names = ("room", "sender", "sent_at", "kind", "sealed_body", "key_generation")
    columns = [_column(Message, name) for name in names]
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "  # noqa: S608 - names from the model, values are parameters
    one = "(%s, %s, %s, %s, %s, %s)"
    full = head + ", ".join([one] * ROWS_PER_INSERT)
    kinds: dict[str, int] = {}
    done = 0
    with connection.cursor() as cursor:
        while True:
            chunk = list(itertools.islice(rows, ROWS_PER_INSERT))
            if not chunk:
                break
            params = [value for row in chunk for value in row]
            cursor.execute(full if len(chunk) == ROWS_PER_INSERT else head + ", ".join([one] * len(chunk)), params)
            for row in chunk:
                kind = str(row[3])
                kinds[kind] = kinds.get(kind, 0) + 1
            before, done = done, done + len(chunk)
            if progress and (done // PROGRESS_EVERY != before // PROGRESS_EVERY or done == total):
                progress(done, total)
    return kinds


def default_start(days: int) -> dt.datetime:
    """Midnight (local time) ``days`` days ago: the generated period ends at today's midnight."""
    today = timezone.localdate()
    return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=timezone.get_current_timezone())


def generate(
    *,
    accounts: int,
    rooms: int,
    messages: int,
    seed: int,
    start: dt.datetime | None = None,
    days: int = 365,
    progress: ProgressCallback | None = None,
) -> GenerationSummary:
    """Add a synthetic store of exactly ``accounts`` accounts, ``rooms`` rooms and ``messages``
    messages sent in ``[start, start + days)``; all or nothing (one transaction).

    Does nothing (``already_generated``) if this seed's rows are already in the store.
    """
    if min(accounts, rooms, messages) < 0 or days < 1:
        raise ValueError("counts must not be negative and the period is at least one day")
    started = time.perf_counter()
    start = start or default_start(days)
    if timezone.is_naive(start):
        start = timezone.make_aware(start)
    end = start + dt.timedelta(days=days)
    existing = _existing(seed)
    if existing is not None:
        existing.start, existing.end = start, end
        return existing
    start_us = (start - EPOCH) // dt.timedelta(microseconds=1)
    end_us = (end - EPOCH) // dt.timedelta(microseconds=1)
    with transaction.atomic():
        plan = _Plan(accounts=accounts, rooms=rooms, messages=messages, seed=seed, start_us=start_us, end_us=end_us)
        account_rows = Account.objects.bulk_create(
            [
                Account(
                    uid=p.uid,
                    display_name=p.display_name,
                    phone=p.phone,
                    email=p.email,
                    locale=p.locale,
                    created_at=_as_datetime(p.created_us),
                    **Account.normalized_fields(phone=p.phone, email=p.email),
                )
                for p in plan.people
            ],
            batch_size=1000,
        )
        room_rows = Room.objects.bulk_create(
            [
                Room(external_id=r.external_id, kind=r.kind, title=r.title, created_at=_as_datetime(r.created_us))
                for r in plan.rooms
            ],
            batch_size=1000,
        )
        account_pks = [row.pk for row in account_rows]
        room_pks = [row.pk for row in room_rows]
        memberships = Membership.objects.bulk_create(
            [
                Membership(
                    room_id=room_pks[r.index],
                    account_id=account_pks[m.person],
                    joined_at=_as_datetime(m.joined_us),
                    left_at=None if m.left_us is None else _as_datetime(m.left_us),
                )
                for r in plan.rooms
                for m in r.members
            ],
            batch_size=2000,
        )
        writer = _Writer(plan)
        db_time = _db_time()
        merged = heapq.merge(*(writer.stream(room) for room in plan.rooms))
        seal = _day_sealer()
        rows = (
            (room_pks[room], account_pks[sender], db_time(t), kind, *seal(text, t))
            for t, room, sender, kind, text in merged
        )
        kinds = _insert_messages(rows, messages, progress)
    by_kind = {kind: sum(1 for r in plan.rooms if r.kind == kind) for kind in Room.Kind.values}
    return GenerationSummary(
        seed=seed,
        accounts=len(account_rows),
        rooms=by_kind,
        memberships=len(memberships),
        messages=sum(kinds.values()),
        start=start,
        end=end,
        seconds=time.perf_counter() - started,
        message_kinds=kinds,
    )


def _existing(seed: int) -> GenerationSummary | None:
    accounts = Account.objects.filter(uid__startswith=f"gen-{seed}-")
    rooms = Room.objects.filter(external_id__startswith=f"gen-{seed}-room-")
    if not accounts.exists() and not rooms.exists():
        return None
    by_kind = {kind: rooms.filter(kind=kind).count() for kind in Room.Kind.values}
    return GenerationSummary(
        seed=seed,
        accounts=accounts.count(),
        rooms=by_kind,
        memberships=Membership.objects.filter(room__in=rooms).count(),
        messages=Message.objects.filter(room__in=rooms).count(),
        start=timezone.now(),
        end=timezone.now(),
        seconds=0.0,
        already_generated=True,
    )
