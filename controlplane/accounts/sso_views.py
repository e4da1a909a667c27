"""Pages of single sign-on: starting and finishing an OpenID Connect sign-in, and the group
mappings section of a cluster's role grants page (admins of the cluster)."""

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.audit.services import action_refuse
from controlplane.clusters.selectors import cluster_get
from controlplane.forms import form_add_errors

from .forms import GroupMappingForm, LoginForm
from .oidc import (
    DEACTIVATED_USER,
    SsoFailure,
    authorization_finish,
    authorization_url,
    logout_at_provider_enabled,
    oidc_config,
)
from .selectors import group_mapping_get, user_can
from .services import (
    group_mapping_create,
    group_mapping_delete,
    sso_failure_record,
    sso_login,
    sso_refusal_record,
)
from .sso_logout import SSO_ID_TOKEN
from .throttling import Lockout, client_address, login_lockout
from .views import grant_page

_NEXT = "sso_next"


def _login_page(request, *, error: str, status: int):
    config = oidc_config()
    return render(
        request,
        "registration/login.html",
        {
            "form": LoginForm(request),
            "sso_name": config.provider_name if config else None,
            "sso_error": error,
            "next": "",
        },
        status=status,
    )


def _locked_out(request, lockout: Lockout):
    """429 with Retry-After, as the login form answers a locked-out address."""
    response = _login_page(request, error=lockout.message, status=429)
    response["Retry-After"] = str(lockout.seconds)
    return response


def _refused_while_locked(request, *, issuer: str, address: str):
    """The lockout response when this address is locked out (audited), else None."""
    lockout = login_lockout(username=None, address=address)
    if lockout is None:
        return None
    sso_refusal_record(
        issuer=issuer, address=address, lockout=lockout, request_id=request.request_id
    )
    return _locked_out(request, lockout)


@never_cache
@require_GET
def sso_start(request):
    """The login page's "Sign in with …" button: off to the provider.

    A link, not a form: the pages' Content-Security-Policy (form-action 'self') would stop a
    form whose answer redirects to another site. Starting a sign-in changes nothing by itself;
    the state, nonce and PKCE verifier it keeps in the session are what the callback checks.
    """
    config = oidc_config()
    if config is None:
        return _login_page(request, error="Single sign-on is not configured.", status=404)
    address = client_address(request)
    if refused := _refused_while_locked(request, issuer=config.issuer, address=address):
        return refused
    wanted = request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[_NEXT] = wanted if wanted and safe else ""
    try:
        url = authorization_url(
            request=request, redirect_uri=request.build_absolute_uri(reverse("sso-callback"))
        )
    except SsoFailure as failure:
        sso_failure_record(
            failure=failure,
            issuer=config.issuer,
            address=address,
            count=False,  # discovery failed: nobody's guess
            request_id=request.request_id,
        )
        return _login_page(
            request, error=f"{config.provider_name} cannot be reached now.", status=503
        )
    return redirect(url)


@never_cache
@require_http_methods(["GET", "POST"])
def sso_callback(request):
    """Where the provider sends the browser back with a code (or an error).

    The code comes in the URL's fragment (response_mode=fragment), which browsers never send
    to a server, so it reaches no access log: this page's script posts it here (with the CSRF
    token). A provider that answers in the query string anyway is handled the same way.
    """
    if request.method == "GET" and "state" not in request.GET:
        return render(request, "registration/sso_callback.html")
    config = oidc_config()
    address = client_address(request)
    issuer = config.issuer if config else ""
    if refused := _refused_while_locked(request, issuer=issuer, address=address):
        return refused
    try:
        identity = authorization_finish(request=request)
        user = sso_login(identity=identity, address=address, request_id=request.request_id)
    except SsoFailure as failure:
        counted = None
        if failure.reason != DEACTIVATED_USER:  # sso_login audited that one with the name
            counted = sso_failure_record(
                failure=failure, issuer=issuer, address=address, request_id=request.request_id
            )
        if counted is not None and counted.lockout is not None:
            return _locked_out(request, counted.lockout)
        name = config.provider_name if config else "single sign-on"
        return _login_page(
            request, error=f"Sign-in with {name} failed ({failure.reason}).", status=403
        )
    wanted = request.session.pop(_NEXT, "") or "/"
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if logout_at_provider_enabled():
        request.session[SSO_ID_TOKEN] = identity.id_token
    return redirect(wanted)


# --- Group mappings on the role grants page ---------------------------------------------------


def _require_manage_roles(request, cluster, *, verb: str, name: str) -> None:
    if not user_can(user=request.user, permission="manage_roles", cluster=cluster):
        raise action_refuse(
            actor=request.user,
            cluster=cluster,
            namespace=None,
            kind="groupmapping",
            name=name[:255],
            verb=verb,
            permission="manage_roles",
            parameters={"group" if verb == "create" else "id": name[:255]},
            request_id=request.request_id,
        )


@login_required
@require_POST
def group_mapping_create_view(request, cluster):
    obj = cluster_get(name=cluster)
    _require_manage_roles(request, obj, verb="create", name=request.POST.get("mapping-group", ""))
    form = GroupMappingForm(request.POST)
    if form.is_valid():
        try:
            group_mapping_create(
                actor=request.user,
                cluster=obj,
                group=form.cleaned_data["group"],
                role=form.cleaned_data["role"],
                namespaces=form.cleaned_data["namespaces"],
                request_id=request.request_id,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(
                request,
                f"Members of {form.cleaned_data['group']} get {form.cleaned_data['role']} on "
                f"{obj.name} at their next single sign-on.",
            )
            return redirect("role-grants-cluster", cluster=obj.name)
    return grant_page(request, obj, mapping_form=form, status=400)


@login_required
@require_POST
def group_mapping_delete_view(request, cluster, mapping_id):
    obj = cluster_get(name=cluster)
    # Refused before the lookup: whether a mapping exists is for admins to know.
    _require_manage_roles(request, obj, verb="delete", name=str(mapping_id))
    mapping = group_mapping_get(cluster=obj, mapping_id=mapping_id)
    group_mapping_delete(actor=request.user, mapping=mapping, request_id=request.request_id)
    messages.success(
        request,
        f"Removed the mapping of {mapping.group}; its members lose that role at their next "
        "single sign-on.",
    )
    return redirect("role-grants-cluster", cluster=obj.name)
