"""``{% render_panel panel %}``: one panel another app added to a page (see requests_app.page_hooks)."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def render_panel(context, panel):
    return panel.render(context["request"])
