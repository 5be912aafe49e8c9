from django.utils.translation import gettext_lazy as _

from warrantdesk.params import DateFilterField, FilterForm


class DashboardFilterForm(FilterForm):
    id_format = "d-%s"
    since = DateFilterField(label=_("From"), required=False)
    until = DateFilterField(label=_("Until"), required=False)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return cleaned
