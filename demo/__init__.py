"""The demo of ``make run``: the generated conversation store, the demo PKI, ``seed_demo`` and the
signed sample documents. The top layer: it imports ``disclosure`` and ``requests_app``, and neither
imports it; it reaches their pages through their hooks (``requests_app.page_hooks``,
``disclosure.followups.hooks``)."""
