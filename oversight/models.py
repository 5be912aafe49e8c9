from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from warrantdesk.models import ChoiceLabels


class PublishedReport(ChoiceLabels):
    """A frozen, signed version of the transparency report (see ``oversight.report``).

    ``document`` is the canonical JSON that was signed, exactly (banded figures only, the audit
    checkpoint it was computed against, the period, the language); every output of the version is
    rendered from it. Never edited: publishing again adds a version."""

    class Language(models.TextChoices):
        EN = "en", _("English")
        KO = "ko", _("Korean")

    reference = models.CharField(_("reference"), max_length=64, unique=True, editable=False)
    slug = models.CharField(_("period"), max_length=32, editable=False)
    version = models.PositiveIntegerField(editable=False)
    period_start = models.DateField(_("period start"), editable=False)
    period_end = models.DateField(_("period end"), editable=False)
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, editable=False)
    document = models.TextField(editable=False)
    signature = models.CharField(max_length=200, editable=False)  # base64 Ed25519 over ``document`` (UTF-8)
    key_fingerprint = models.CharField(max_length=64, editable=False)
    published_at = models.DateTimeField(_("published at"), editable=False)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("published transparency report")
        verbose_name_plural = _("published transparency reports")
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="published_report_version_once"),
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")), name="published_report_period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"Transparency report {self.reference}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("transparency-report", args=[self.reference])
