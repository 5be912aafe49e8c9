"""Importers of chat exports into the conversation store (``manage.py import_chat``).

``kakao`` reads KakaoTalk "export chat" files (pure Python); ``store`` writes what it reads.
"""
