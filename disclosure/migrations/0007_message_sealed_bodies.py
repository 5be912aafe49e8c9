"""Message bodies move from clear text to ``sealed_body`` under per-day keys of the key store, and the
import fingerprints become keyed (HMAC of the old digest under the day's fingerprint key), so that a
re-import of a file imported before still finds its messages.

The crypto is written out here rather than imported from disclosure.bodies, so that this migration
keeps doing what it did when the code moves on; it must agree with bodies.py as of this migration.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import migrations, models

BATCH = 2000


def _day(sent_at):
    return sent_at.astimezone(dt.UTC).date()


def seal_bodies(apps, schema_editor):
    from warrantdesk import keystore

    Message = apps.get_model("disclosure", "Message")
    if not Message.objects.exists():
        return
    ciphers, mac_keys = {}, {}
    last = 0
    while True:
        rows = list(
            Message.objects.filter(pk__gt=last).order_by("pk").only("pk", "sent_at", "body", "fingerprint")[:BATCH]
        )
        if not rows:
            return
        for row in rows:
            day = _day(row.sent_at)
            if day not in ciphers:
                ciphers[day] = AESGCM(keystore.get_or_create(f"messages/{day:%Y-%m-%d}/1"))
                mac_keys[day] = keystore.get_or_create(f"messages/{day:%Y-%m-%d}/fingerprint")
            nonce = secrets.token_bytes(12)
            aad = f"warrantdesk message {day:%Y-%m-%d} 1".encode()
            row.sealed_body = nonce + ciphers[day].encrypt(nonce, row.body.encode(), aad)
            row.key_generation = 1
            if row.fingerprint:
                row.fingerprint = hmac.new(mac_keys[day], row.fingerprint.encode(), hashlib.sha256).hexdigest()
        Message.objects.bulk_update(rows, ["sealed_body", "key_generation", "fingerprint"])
        last = rows[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("disclosure", "0006_account_postal_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="sealed_body",
            field=models.BinaryField(default=b"", editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="message",
            name="key_generation",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
        ),
        migrations.AlterField(
            model_name="message",
            name="fingerprint",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        # Not reversible: the clear text is gone once sealed (that is the point).
        migrations.RunPython(seal_bodies, migrations.RunPython.noop, elidable=False),
        migrations.RemoveField(model_name="message", name="body"),
    ]
