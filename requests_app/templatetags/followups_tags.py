"""The follow-up requests panel of the warrant's page: ``{% followups_panel_data warrant as panel %}``."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def followups_panel_data(context, warrant) -> dict:
    from requests_app.views_followups import followups_panel_context

    return followups_panel_context(context["request"].user, warrant)
