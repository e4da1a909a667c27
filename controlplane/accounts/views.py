"""Pages: sign in/out (Django's auth views), your API token, role grants (admins)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from controlplane.audit.services import action_refuse
from controlplane.clusters.selectors import cluster_get, cluster_list

from .forms import RoleGrantForm
from .selectors import api_token_get, role_grant_get, role_grant_list, user_can
from .services import api_token_create, api_token_revoke, role_grant_delete, role_grant_set


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            if api_token_revoke(user=request.user):
                messages.success(request, "Your API token was revoked.")
            return redirect("api-token")
        # Shown on this response only; afterwards only its creation date is visible.
        new_key = api_token_create(user=request.user)
    token = api_token_get(user=request.user)
    return render(
        request,
        "accounts/token.html",
        {"token_created": token.created if token else None, "new_key": new_key},
    )


def _refuse(request, cluster, *, verb: str, username: str) -> PermissionDenied:
    """Audit a refused change of role grants; returns the exception to raise."""
    return action_refuse(
        actor=request.user,
        cluster=cluster,
        namespace=None,
        kind="rolegrant",
        name=username,
        verb=verb,
        permission="manage_roles",
        parameters={"user": username},
        request_id=request.request_id,
    )


def _managed_clusters(user):
    return [
        cluster
        for cluster in cluster_list(user=user)
        if user_can(user=user, permission="manage_roles", cluster=cluster)
    ]


@login_required
def grant_index(request):
    clusters = _managed_clusters(request.user)
    if not clusters:
        raise PermissionDenied("You are not an admin of any cluster.")
    return render(request, "accounts/grant_index.html", {"clusters": clusters})


@login_required
@require_http_methods(["GET", "POST"])
def grant_cluster(request, cluster):
    obj = cluster_get(name=cluster)
    if not user_can(user=request.user, permission="manage_roles", cluster=obj):
        if request.method == "POST":
            raise _refuse(request, obj, verb="grant", username=request.POST.get("user", ""))
        raise PermissionDenied("Only admins of this cluster may manage its role grants.")
    form = RoleGrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role_grant_set(
                actor=request.user,
                cluster=obj,
                username=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
                namespaces=form.cleaned_data["namespaces"],
                request_id=request.request_id,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"{form.cleaned_data['user']} is now {form.cleaned_data['role']} on {obj.name}.",
            )
            return redirect("role-grants-cluster", cluster=obj.name)
    return render(
        request,
        "accounts/grant_cluster.html",
        {"cluster": obj, "grants": role_grant_list(cluster=obj), "form": form},
    )


@login_required
@require_POST
def grant_revoke(request, cluster, username):
    obj = cluster_get(name=cluster)
    if not user_can(user=request.user, permission="manage_roles", cluster=obj):
        raise _refuse(request, obj, verb="revoke", username=username)
    grant = role_grant_get(cluster=obj, username=username)
    role_grant_delete(actor=request.user, grant=grant, request_id=request.request_id)
    messages.success(request, f"Revoked {username}'s role on {obj.name}.")
    return redirect("role-grants-cluster", cluster=obj.name)
