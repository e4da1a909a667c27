"""Pages: sign in/out (Django's auth views), setting a password from a one-time link, your
API tokens, users (superusers and cluster admins) and role grants (admins)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from controlplane.audit.services import action_refuse
from controlplane.clusters.models import Cluster
from controlplane.clusters.selectors import cluster_get, cluster_list
from controlplane.forms import form_add_errors

from .forms import ApiTokenForm, GroupMappingForm, LoginForm, RoleGrantForm, UserCreateForm
from .oidc import oidc_config
from .selectors import (
    admin_cluster_ids,
    api_token_get,
    api_token_list,
    group_mapping_list,
    role_grant_get,
    role_grant_list,
    user_can,
    user_can_manage_users,
    user_get,
    user_list,
    user_manages,
)
from .services import (
    api_token_create,
    api_token_days_max,
    api_token_revoke,
    role_grant_delete,
    role_grant_set,
    user_create,
    user_deactivate,
    user_password_link_issue,
    user_password_set,
    user_reactivate,
)
from .sso_logout import SSO_ID_TOKEN, sso_logout_after_local
from .throttling import login_success_clear


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    form_class = LoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = oidc_config()
        context["sso_name"] = config.provider_name if config else None
        return context

    def form_valid(self, form):
        login_success_clear(username=form.get_user().get_username())
        return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.lockout is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.lockout.seconds)
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        # Read before the session is flushed: the provider is told only after it has ended.
        id_token = request.session.get(SSO_ID_TOKEN, "")
        response = super().post(request, *args, **kwargs)
        return sso_logout_after_local(request, id_token=id_token, response=response)


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Where a new user (or one given a fresh link) chooses a password, then logs in.

    Django's view moves the token from the URL into the session before showing the form, so
    it never leaks through a Referer header; the token stops working once the password is set.
    """

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        user_password_set(
            user=self.user,
            password=form.cleaned_data["new_password1"],
            request_id=self.request.request_id,
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        messages.success(self.request, "Your password is set. Log in with it now.")
        return redirect(self.success_url)


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    form = ApiTokenForm(request.POST or None, max_days=api_token_days_max())
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                actor=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                lifetime_days=form.cleaned_data["lifetime_days"],
                request_id=request.request_id,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            form = ApiTokenForm(max_days=api_token_days_max())
    # The key is on this response only; afterwards only its name and prefix are shown.
    return render(
        request,
        "accounts/token.html",
        {
            "tokens": api_token_list(user=request.user),
            "form": form,
            "new_key": issued.key if issued else None,
            "new_token": issued.token if issued else None,
        },
        status=201 if issued else 200,
    )


@login_required
@require_POST
def api_token_revoke_view(request, token_id):
    token = api_token_get(actor=request.user, token_id=token_id)
    api_token_revoke(actor=request.user, token=token, request_id=request.request_id)
    messages.success(request, f"Revoked the API token “{token.name}” ({token.prefix}…).")
    if token.user_id == request.user.pk:
        return redirect("api-token")
    return redirect("user-detail", username=token.user.username)


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
            form_add_errors(form, exc)
        else:
            messages.success(
                request,
                f"{form.cleaned_data['user']} is now {form.cleaned_data['role']} on {obj.name}.",
            )
            return redirect("role-grants-cluster", cluster=obj.name)
    return grant_page(request, obj, form=form)


def grant_page(request, cluster, *, form=None, mapping_form=None, status=200):
    """A cluster's role grants page: its grants, and the mappings from SSO groups."""
    return render(
        request,
        "accounts/grant_cluster.html",
        {
            "cluster": cluster,
            "grants": role_grant_list(cluster=cluster),
            "form": form or RoleGrantForm(),
            "mappings": group_mapping_list(cluster=cluster),
            "mapping_form": mapping_form or GroupMappingForm(),
            "sso_name": (config := oidc_config()) and config.provider_name,
        },
        status=status,
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


# --- Users ------------------------------------------------------------------------------------


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _require_user_admin(request) -> None:
    if not user_can_manage_users(user=request.user):
        raise PermissionDenied("Only superusers and cluster admins manage users.")


def _grantable_clusters(user):
    ids = admin_cluster_ids(user=user)
    clusters = Cluster.objects.all()
    return list(clusters if ids is None else clusters.filter(id__in=ids))


@login_required
@require_http_methods(["GET", "POST"])
def user_index(request):
    _require_user_admin(request)
    clusters = _grantable_clusters(request.user)
    form = UserCreateForm(request.POST or None, clusters=clusters)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cluster = next((c for c in clusters if c.name == data["cluster"]), None)
        try:
            created = user_create(
                actor=request.user,
                username=data["username"],
                email=data["email"],
                cluster=cluster,
                role=data["role"] or None,
                namespaces=data["namespaces"],
                base_url=_base_url(request),
                request_id=request.request_id,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            # Rendered, not redirected: the link is on this response and nowhere else.
            return render(
                request,
                "accounts/user_link.html",
                {"subject": created.user, "link": created.password_link, "created": True},
                status=201,
            )
    users = [
        {"user": user, "manageable": user_manages(actor=request.user, user=user)}
        for user in user_list(actor=request.user)
    ]
    return render(request, "accounts/user_index.html", {"users": users, "form": form})


def _managed_user(request, username):
    _require_user_admin(request)
    return user_get(actor=request.user, username=username)


@login_required
def user_detail(request, username):
    subject = _managed_user(request, username)
    manageable = user_manages(actor=request.user, user=subject)
    return render(
        request,
        "accounts/user_detail.html",
        {
            "subject": subject,
            "manageable": manageable,
            "is_self": subject.pk == request.user.pk,
            "tokens": api_token_list(user=subject) if manageable else [],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def user_deactivate_confirm(request, username):
    subject = _managed_user(request, username)
    if request.method == "POST":
        user_deactivate(actor=request.user, user=subject, request_id=request.request_id)
        messages.success(request, f"{subject.username} is deactivated; their sessions ended.")
        return redirect("user-detail", username=subject.username)
    return render(request, "accounts/user_deactivate.html", {"subject": subject})


@login_required
@require_POST
def user_reactivate_view(request, username):
    subject = _managed_user(request, username)
    user_reactivate(actor=request.user, user=subject, request_id=request.request_id)
    messages.success(request, f"{subject.username} may log in again.")
    return redirect("user-detail", username=subject.username)


@login_required
@require_POST
def user_password_link(request, username):
    subject = _managed_user(request, username)
    try:
        link = user_password_link_issue(
            actor=request.user,
            user=subject,
            base_url=_base_url(request),
            request_id=request.request_id,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("user-detail", username=subject.username)
    return render(
        request, "accounts/user_link.html", {"subject": subject, "link": link, "created": False}
    )
