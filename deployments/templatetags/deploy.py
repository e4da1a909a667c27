"""{% can_deploy cluster namespace as allowed %}: whether the page's user may deploy there, so
the "Deploy a model" link is shown only to those the page would not refuse."""

from django import template

from controlplane.accounts.selectors import user_can

register = template.Library()


@register.simple_tag(takes_context=True)
def can_deploy(context, cluster, namespace) -> bool:
    user = context["request"].user
    return user_can(user=user, permission="deploy", cluster=cluster, namespace=namespace)
